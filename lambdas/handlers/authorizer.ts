/**
 * Lambda entry point of the API Gateway authorizer (REST TOKEN/REQUEST and HTTP API simple
 * responses). Configuration comes from the environment the stack sets:
 * TABLE_NAME, KEY_PREFIX, CACHE_TTL_MS, NEGATIVE_CACHE_TTL_MS, USAGE_INTERVAL_SECONDS, ROUTE_SCOPES,
 * UNLISTED_ROUTES, API_ROUTE_SCOPES (each attached API's own route scopes, by API id). Lambda passes the context as the second argument: table calls end by its
 * remaining time (createAuthorizer).
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
import { readAuthorizerEnvironment } from '../aws/auth/authorizer-environment';
import { createAuthorizer } from '../aws/auth/authorizer';
import { parseApiRouteScopes } from '../aws/auth/api-route-scopes';
import { RouteScopes } from '../aws/auth/route-scopes';
import { createTableKeyVerifier } from '../aws/auth/table-verifier';
import { UsageRecorder } from '../aws/auth/usage-recorder';
import { DynamoDbHttpClient } from '../aws/lean/dynamodb-http';
import { LeanKeyStore } from '../aws/lean/lean-key-store';

const config = readAuthorizerEnvironment();
const logger = new Logger({ serviceName: AUTH_METRICS_SERVICE });
const metrics = new Metrics({ namespace: AUTH_METRICS_NAMESPACE, serviceName: AUTH_METRICS_SERVICE });
// Built at init with its keep-alive agent, like the SDK client it replaces: nothing is deferred to the first request.
const keys = new LeanKeyStore(new DynamoDbHttpClient(), config.tableName);

export const handler = createAuthorizer({
  verifier: createTableKeyVerifier({
    reader: keys,
    keyPrefix: config.keyPrefix,
    cacheTtlMs: config.cacheTtlMs,
    negativeCacheTtlMs: config.negativeCacheTtlMs,
  }),
  routeScopes: RouteScopes.parse(config.routeScopes, config.unlistedRoutes),
  apiRouteScopes: parseApiRouteScopes(config.apiRouteScopes),
  usage: new UsageRecorder(keys, systemClock, config.usageIntervalMs),
  metrics,
  logger,
});
