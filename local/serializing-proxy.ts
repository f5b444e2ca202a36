/**
 * A loopback HTTP proxy in front of moto that lets one request at a time through.
 *
 * Why: moto_server answers each request in its own thread (werkzeug, `threaded=True`, no flag
 * to turn it off) and its backends hold no lock. A conditional UpdateItem checks its condition
 * and then writes in separate steps, a failed TransactWriteItems puts back what its tables held
 * before it, erasing whatever other threads wrote meanwhile, and a Secrets Manager label moves in
 * several steps. Under truly concurrent requests two conditional writes can therefore both
 * succeed: two rotations both "take" one client's lock. Real AWS applies each request
 * atomically; serialising requests restores that, without depending on moto's internals, and
 * is the only thing that does (KeyRoll's moto patches take no lock). moto is bound by Python's
 * GIL anyway, so little throughput is lost.
 *
 * Long polls are let through in parallel (an SQS ReceiveMessage may wait up to 20 s and would
 * otherwise stall every other request); receiving is not part of any conditional write.
 */
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running proxy. */
export interface SerializingProxy {
  /** `http://127.0.0.1:<port>`: point the SDK here instead of at moto. */
  readonly endpoint: string;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; bodies are buffered, so lengths are recomputed.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);

/** True for requests that may block for a long time and need no atomicity: SQS ReceiveMessage (JSON or query protocol). */
export function isLongPoll(headers: IncomingHttpHeaders, url: string, body: Buffer): boolean {
  const target = headers['x-amz-target'];
  if (typeof target === 'string') return target === 'AmazonSQS.ReceiveMessage';
  if (/[?&]Action=ReceiveMessage(&|$)/.test(url)) return true;
  const type = headers['content-type'] ?? '';
  return type.startsWith('application/x-www-form-urlencoded') && /(^|&)Action=ReceiveMessage(&|$)/.test(body.toString('latin1'));
}

/** Starts the proxy on a free loopback port, forwarding to `upstream` (e.g. `http://127.0.0.1:5000`). */
export async function startSerializingProxy(upstream: string): Promise<SerializingProxy> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true });
  let queue: Promise<void> = Promise.resolve();

  /** Runs `task` after every serialised request before it has finished. */
  const serialized = (task: () => Promise<void>): Promise<void> => {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  };

  const forward = (req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> =>
    new Promise<void>((resolve) => {
      const headers: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      headers['content-length'] = String(body.length);
      // The Host header stays the proxy's: moto builds URLs it returns (SQS queue URLs) from it.
      const upstreamReq = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upstreamRes) => {
        const chunks: Buffer[] = [];
        upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstreamRes.on('error', (error) => fail(error));
        upstreamRes.on('end', () => {
          const out = Buffer.concat(chunks);
          const responseHeaders: Record<string, string | string[]> = {};
          for (const [name, value] of Object.entries(upstreamRes.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) responseHeaders[name] = value;
          responseHeaders['content-length'] = String(out.length);
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders);
          res.end(out);
          resolve();
        });
      });
      const fail = (error: Error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`keyroll moto proxy: upstream error: ${error.message}`);
        resolve();
      };
      upstreamReq.on('error', fail);
      upstreamReq.end(body);
    });

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      void (isLongPoll(req.headers, req.url ?? '', body) ? forward(req, body, res) : serialized(() => forward(req, body, res)));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
