/**
 * Lambda entry point of the API Gateway authorizer (REST TOKEN/REQUEST and HTTP API simple
 * responses). Configuration comes from the environment the stack sets:
 * TABLE_NAME, KEY_PREFIX, CACHE_TTL_MS, NEGATIVE_CACHE_TTL_MS, USAGE_INTERVAL_SECONDS, ROUTE_SCOPES.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { systemClock } from '../core/clock';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE } from '../aws/auth/auth-metrics';
import { createAuthorizer } from '../aws/auth/authorizer';
import { RouteScopes } from '../aws/auth/route-scopes';
import { UsageRecorder } from '../aws/auth/usage-recorder';
import { createDynamoKeyVerifier } from '../aws/auth/verifier';
import { dynamoDbClient } from '../aws/dynamodb-client';
import { KeyRepository } from '../aws/key-repository';

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

export const handler = createAuthorizer({
  verifier: createDynamoKeyVerifier({
    tableName,
    keyPrefix: env('KEY_PREFIX'),
    cacheTtlMs: numberEnv('CACHE_TTL_MS', 10_000),
    // Unset means the verifier's default (2 s, capped at the cache TTL), so CACHE_TTL_MS=0 alone disables caching.
    negativeCacheTtlMs: optionalNumberEnv('NEGATIVE_CACHE_TTL_MS'),
  }),
  routeScopes: RouteScopes.parse(process.env['ROUTE_SCOPES']),
  usage: new UsageRecorder(new KeyRepository(dynamoDbClient(), tableName), systemClock, positiveEnv('USAGE_INTERVAL_SECONDS', 300) * 1000),
  metrics,
  logger,
});
