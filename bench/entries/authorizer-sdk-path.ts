/**
 * BENCH ONLY, never deployed: the authorizer as it was wired before the lean DynamoDB client,
 * with the AWS SDK's document client and KeyRepository (`@aws-sdk/client-dynamodb` and
 * `@aws-sdk/lib-dynamodb` loaded from the runtime at init). `npm run bench` bundles and times
 * it beside the deployed authorizer, so the cost of the SDK path stays visible in every run.
 * Same parts and configuration as lambdas/handlers/authorizer.ts; only the table access differs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { systemClock } from '../../lambdas/core/clock';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE } from '../../lambdas/aws/auth/auth-metrics';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { KeyRepository } from '../../lambdas/aws/key-repository';

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
