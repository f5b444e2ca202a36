/**
 * The protected endpoint of the rehearsal: a loopback HTTP server that runs the real
 * authorizer (HTTP API payload 2.0, simple responses) on every request, then answers like
 * the example API's GET /whoami. What API Gateway does in AWS, on one port. The table is
 * reached as the deployed authorizer reaches it: the lean DynamoDB client (signed requests
 * to AWS_ENDPOINT_URL), not the SDK.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Clock } from '../../lambdas/core/clock';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import type { AuthorizerEvent } from '../../lambdas/aws/auth/authorizer-events';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { createTableKeyVerifier } from '../../lambdas/aws/auth/table-verifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { DynamoDbHttpClient } from '../../lambdas/aws/lean/dynamodb-http';
import { LeanKeyStore } from '../../lambdas/aws/lean/lean-key-store';

/** A running protected API. */
export interface ProtectedApi {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the API on a free loopback port; verification and usage use the simulated clock. */
export async function startProtectedApi(options: { tableName: string; keyPrefix: string; clock: Clock; usageIntervalMs: number }): Promise<ProtectedApi> {
  const dynamo = new DynamoDbHttpClient();
  const keys = new LeanKeyStore(dynamo, options.tableName);
  const authorize = createAuthorizer({
    verifier: createTableKeyVerifier({ reader: keys, keyPrefix: options.keyPrefix, clock: options.clock }),
    routeScopes: RouteScopes.parse('{}'),
    usage: new UsageRecorder(keys, options.clock, options.usageIntervalMs),
    // The rehearsal reports its own figures; EMF output is switched off (POWERTOOLS_METRICS_DISABLED).
    metrics: new Metrics({ namespace: 'KeyRollRehearsal', serviceName: 'rehearsal' }),
    logger: new Logger({ serviceName: 'rehearsal', logLevel: 'SILENT' }),
  });
  const server = http.createServer((req, res) => {
    void (async () => {
      const event = {
        version: '2.0',
        type: 'REQUEST',
        routeKey: `${req.method} ${req.url?.split('?')[0]}`,
        routeArn: 'arn:aws:execute-api:us-east-1:123456789012:rehearsal/$default/GET/whoami',
        headers: req.headers,
        identitySource: [req.headers.authorization ?? ''],
      } as unknown as AuthorizerEvent;
      try {
        const answer = (await authorize(event)) as { isAuthorized: boolean; context: Record<string, string> };
        // API Gateway answers 403 for isAuthorized=false with a simple-response authorizer.
        res.writeHead(answer.isAuthorized ? 200 : 403, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.isAuthorized ? answer.context : { message: 'Forbidden', reason: answer.context.reason }));
      } catch {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"message":"Internal Server Error"}');
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`,
    close: () =>
      new Promise((resolve) =>
        server.close(() => {
          dynamo.destroy();
          resolve();
        }),
      ),
  };
}
