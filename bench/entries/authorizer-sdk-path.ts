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
import { readAuthorizerEnvironment } from '../../lambdas/aws/auth/authorizer-environment';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import { parseApiRouteScopes } from '../../lambdas/aws/auth/api-route-scopes';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { KeyRepository } from '../../lambdas/aws/key-repository';

const config = readAuthorizerEnvironment();
const logger = new Logger({ serviceName: AUTH_METRICS_SERVICE });
const metrics = new Metrics({ namespace: AUTH_METRICS_NAMESPACE, serviceName: AUTH_METRICS_SERVICE });

export const handler = createAuthorizer({
  verifier: createDynamoKeyVerifier({
    tableName: config.tableName,
    keyPrefix: config.keyPrefix,
    cacheTtlMs: config.cacheTtlMs,
    negativeCacheTtlMs: config.negativeCacheTtlMs,
  }),
  routeScopes: RouteScopes.parse(config.routeScopes, config.unlistedRoutes),
  apiRouteScopes: parseApiRouteScopes(config.apiRouteScopes),
  usage: new UsageRecorder(new KeyRepository(dynamoDbClient(), config.tableName), systemClock, config.usageIntervalMs),
  metrics,
  logger,
});
