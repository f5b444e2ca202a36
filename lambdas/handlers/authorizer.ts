/**
 * Lambda entry point of the API Gateway authorizer (REST TOKEN/REQUEST and HTTP API simple
 * responses). Configuration comes from the environment the stack sets:
 * TABLE_NAME, KEY_PREFIX, CACHE_TTL_MS, NEGATIVE_CACHE_TTL_MS, USAGE_INTERVAL_SECONDS, ROUTE_SCOPES.
 *
 * DynamoDB is reached through the lean client (lambdas/aws/lean/), not the AWS SDK: the two
 * operations the authorizer makes, signed with the role's credentials from the environment,
 * for a module init without the SDK's ≈ 80 ms load (bench/README.md, "Module init time").
 * Nothing here may import the SDK: test/handlers/authorizer-bundle.test.ts checks the bundle.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { systemClock } from '../core/clock';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE } from '../aws/auth/auth-metrics';
import { createAuthorizer } from '../aws/auth/authorizer';
import { RouteScopes } from '../aws/auth/route-scopes';
import { createTableKeyVerifier } from '../aws/auth/table-verifier';
import { UsageRecorder } from '../aws/auth/usage-recorder';
import { DynamoDbHttpClient } from '../aws/lean/dynamodb-http';
import { LeanKeyStore } from '../aws/lean/lean-key-store';

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`Environment variable ${name} is not set; the stack sets it on the authorizer.`);
  return value;
}

function numberEnv(name: string, fallback: number): number {
  const value = Number(env(name, String(fallback)));
  if (!Number.isFinite(value) || value < 0) throw new Error(`Environment variable ${name} must be a non-negative number.`);
  return value;
}

/** A number from the environment, or undefined (the library's default) when it is not set. */
function optionalNumberEnv(name: string): number | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : numberEnv(name, 0);
}

function positiveEnv(name: string, fallback: number): number {
  const value = numberEnv(name, fallback);
  if (value === 0) throw new Error(`Environment variable ${name} must be greater than 0.`);
  return value;
}

const tableName = env('TABLE_NAME');
const logger = new Logger({ serviceName: AUTH_METRICS_SERVICE });
const metrics = new Metrics({ namespace: AUTH_METRICS_NAMESPACE, serviceName: AUTH_METRICS_SERVICE });
// Built at init with its keep-alive agent, like the SDK client it replaces: nothing is deferred to the first request.
const keys = new LeanKeyStore(new DynamoDbHttpClient(), tableName);

export const handler = createAuthorizer({
  verifier: createTableKeyVerifier({
    reader: keys,
    keyPrefix: env('KEY_PREFIX'),
    cacheTtlMs: numberEnv('CACHE_TTL_MS', 10_000),
    // Unset means the verifier's default (2 s, capped at the cache TTL), so CACHE_TTL_MS=0 alone disables caching.
    negativeCacheTtlMs: optionalNumberEnv('NEGATIVE_CACHE_TTL_MS'),
  }),
  routeScopes: RouteScopes.parse(process.env['ROUTE_SCOPES']),
  usage: new UsageRecorder(keys, systemClock, positiveEnv('USAGE_INTERVAL_SECONDS', 300) * 1000),
  metrics,
  logger,
});
