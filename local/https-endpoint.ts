/**
 * A real `https://` endpoint on 127.0.0.1 for webhook tests and the rehearsal: a Node https server
 * whose certificate the run's local CA issued (local/local-ca.ts), which moto_server trusts
 * (`REQUESTS_CA_BUNDLE`). SNS therefore delivers to it over TLS, verifying the certificate, as it
 * does on AWS; a plain `http://` endpoint proves nothing about that path.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { currentLocalCa, issueServerCertificate, type LocalCa } from './local-ca';

/** One request the endpoint received. */
export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What a handler answers; the default is 200 with an empty body. */
export interface EndpointAnswer {
  readonly status: number;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

/** Decides the answer to a request (after it was recorded). */
export type EndpointHandler = (request: ReceivedRequest) => EndpointAnswer | Promise<EndpointAnswer>;

/** Options of startHttpsEndpoint. */
export interface HttpsEndpointOptions {
  /** @default the run's CA (KEYROLL_LOCAL_CA) */
  readonly ca?: LocalCa;
  /** @default 200, empty body */
  readonly handler?: EndpointHandler;
  /** Path of the URL handed out. @default '/' */
  readonly path?: string;
}

/** A running endpoint. */
export interface HttpsEndpoint {
  /** `https://127.0.0.1:<port><path>` */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly received: readonly ReceivedRequest[];
  /** The CA certificate (PEM) that verifies this endpoint, for Node clients. */
  readonly caCert: string;
  /** Resolves with the first received request `match` accepts (already received or later); rejects after `timeoutMs`. */
  waitFor(match: (request: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

/** Starts an https endpoint on a free loopback port. */
export async function startHttpsEndpoint(options: HttpsEndpointOptions = {}): Promise<HttpsEndpoint> {
  const issued = issueServerCertificate(options.ca ?? currentLocalCa());
  const handler: EndpointHandler = options.handler ?? (() => ({ status: 200 }));
  const received: ReceivedRequest[] = [];
  const waiters = new Set<{ match: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }>();

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(request);
      for (const waiter of [...waiters]) {
        if (waiter.match(request)) {
          waiters.delete(waiter);
          waiter.resolve(request);
        }
      }
      Promise.resolve()
        .then(() => handler(request))
        .then(
          (answer) => {
            res.writeHead(answer.status, answer.headers);
            res.end(answer.body ?? '');
          },
          (error: unknown) => {
            res.writeHead(500);
            res.end(String(error));
          },
        );
    });
  };

  const server: Server = createServer({ cert: issued.cert, key: issued.key }, onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}${options.path ?? '/'}`,
    received,
    caCert: issued.ca,
    waitFor(match, timeoutMs = 10_000) {
      const already = received.find(match);
      if (already) return Promise.resolve(already);
      return new Promise<ReceivedRequest>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (r: ReceivedRequest) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching request reached ${port} within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
