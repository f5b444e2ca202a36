/**
 * The key pickup endpoint on a developer machine: a loopback HTTP server that turns each
 * `POST /pickup` into the API Gateway REST proxy event the deployed function gets and runs the
 * real handler (lambdas/aws/pickup/pickup-handler.ts) on it, as the `pickup` function (so the
 * tests' IAM check judges its calls against the synthesized role). The audience is this
 * server's own URL, `http://127.0.0.1:<port>/pickup`. The table and secrets are reached through
 * the SDK clients (AWS_ENDPOINT_URL: moto). Used by the tests, the rehearsal and
 * `npm run bench:pickup`.
 *
 * Run on its own: `TABLE_NAME=… tsx local/pickup-server.ts [port]` prints the URL.
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { systemClock, type Clock } from '../lambdas/core/clock';
import { PICKUP_METRICS_NAMESPACE, PICKUP_METRICS_SERVICE } from '../lambdas/core/pickup-metric-names';
import { dynamoDbClient, secretsManagerClient } from '../lambdas/aws/clients';
import { createPickupHandler, type PickupSecrets } from '../lambdas/aws/pickup/pickup-handler';
import { PickupTable, type PickupClients } from '../lambdas/aws/pickup/pickup-table';
import { SecretStore } from '../lambdas/aws/secret-store';
import { actAs } from './local-identity';

/** The path the REST API serves the endpoint on. */
export const PICKUP_PATH = '/pickup';
/** API Gateway's REST payload limit is 10 MB; a loopback server stops reading far earlier (the handler refuses above 8 KiB anyway). */
const MAX_READ_BYTES = 1024 * 1024;

/** A running pickup server. */
export interface PickupServer {
  /** The pickup URL: every assertion's `aud`. */
  readonly url: string;
  close(): Promise<void>;
}

/** How to start one. */
export interface PickupServerOptions {
  readonly tableName: string;
  /** @default the wall clock */
  readonly clock?: Clock;
  /** @default a free port */
  readonly port?: number;
  /** Hand the body to the handler base64-encoded (as API Gateway does for binary media types). @default false */
  readonly base64Bodies?: boolean;
  /** @default a logger with the service's name (JSON to stdout); tests pass their own to tap it */
  readonly logger?: Logger;
  /** @default Powertools Metrics with the pickup namespace (EMF to stdout unless POWERTOOLS_METRICS_DISABLED) */
  readonly metrics?: Metrics;
  /** Replace the table or secrets adapters (tests that script a failure). */
  readonly clients?: PickupClients;
  readonly secrets?: PickupSecrets;
}

/** The REST proxy event API Gateway would send for this request. */
function proxyEvent(req: http.IncomingMessage, body: Buffer, base64: boolean): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [name, value] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    headers[name] = value;
    (multiValueHeaders[name] ??= []).push(value);
  }
  const requestId = randomUUID();
  return {
    resource: PICKUP_PATH,
    path: PICKUP_PATH,
    httpMethod: 'POST',
    headers,
    multiValueHeaders,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body.length === 0 ? null : base64 ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: base64,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: req.headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/local${PICKUP_PATH}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: PICKUP_PATH,
    },
  };
}

/** Reads the body up to `limit` bytes; undefined when it is longer. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts the server on 127.0.0.1. */
export async function startPickupServer(options: PickupServerOptions): Promise<PickupServer> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}${PICKUP_PATH}`;
  const handle = createPickupHandler({
    clients: options.clients ?? new PickupTable(dynamoDbClient(), options.tableName),
    secrets: options.secrets ?? new SecretStore(secretsManagerClient()),
    clock: options.clock ?? systemClock,
    audience: url,
    metrics: options.metrics ?? new Metrics({ namespace: PICKUP_METRICS_NAMESPACE, serviceName: PICKUP_METRICS_SERVICE }),
    logger: options.logger ?? new Logger({ serviceName: PICKUP_METRICS_SERVICE }),
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    void (async () => {
      try {
        // API Gateway answers a method or path the API does not define with 403 Missing Authentication Token.
        if (req.method !== 'POST' || req.url?.split('?')[0] !== PICKUP_PATH) {
          req.resume();
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end('{"message":"Missing Authentication Token"}');
          return;
        }
        const body = await readBody(req, MAX_READ_BYTES);
        if (body === undefined) {
          res.writeHead(413, { 'content-type': 'application/json' });
          res.end('{"message":"Request Too Long"}');
          return;
        }
        const result = await actAs({ function: 'pickup' }, () => handle(proxyEvent(req, body, options.base64Bodies ?? false)));
        res.writeHead(result.statusCode, result.headers as http.OutgoingHttpHeaders);
        res.end(result.body);
      } catch {
        // The handler answers every failure itself; this is API Gateway's answer to a crashed integration.
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"message":"Internal server error"}');
      }
    })();
  });
  return {
    url,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (require.main === module) {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) {
    process.stderr.write('TABLE_NAME must name the KeyRoll table (AWS_ENDPOINT_URL the emulator).\n');
    process.exit(2);
  }
  void startPickupServer({ tableName, port: process.argv[2] ? Number(process.argv[2]) : undefined }).then((server) => process.stdout.write(`${server.url}\n`));
}
