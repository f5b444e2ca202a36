/** The authorizer's configuration from its environment: defaults, and a named failure for every bad value. */
import { readAuthorizerEnvironment } from '../../lambdas/aws/auth/authorizer-environment';

const base = { TABLE_NAME: 'keys', KEY_PREFIX: 'kr' };

describe('readAuthorizerEnvironment', () => {
  it('fills the defaults: 10 s cache, the verifier default negative cache, usage every 300 s', () => {
    expect(readAuthorizerEnvironment(base)).toEqual({
      tableName: 'keys',
      keyPrefix: 'kr',
      cacheTtlMs: 10_000,
      negativeCacheTtlMs: undefined,
      usageIntervalMs: 300_000,
      routeScopes: undefined,
      unlistedRoutes: undefined,
      apiRouteScopes: undefined,
    });
  });

  it('reads every setting', () => {
    const env = {
      ...base,
      CACHE_TTL_MS: '0',
      NEGATIVE_CACHE_TTL_MS: '500',
      USAGE_INTERVAL_SECONDS: '60',
      ROUTE_SCOPES: '{"GET /orders":["orders:read"]}',
      UNLISTED_ROUTES: 'allow',
      API_ROUTE_SCOPES: '{"a1":{"routes":{},"unlisted":"deny"}}',
    };
    expect(readAuthorizerEnvironment(env)).toEqual({
      tableName: 'keys',
      keyPrefix: 'kr',
      cacheTtlMs: 0,
      negativeCacheTtlMs: 500,
      usageIntervalMs: 60_000,
      routeScopes: env.ROUTE_SCOPES,
      unlistedRoutes: 'allow',
      apiRouteScopes: env.API_ROUTE_SCOPES,
    });
  });

  it.each([
    [{ KEY_PREFIX: 'kr' }, /TABLE_NAME is not set/],
    [{ TABLE_NAME: 'keys', KEY_PREFIX: '' }, /KEY_PREFIX is not set/],
    [{ ...base, CACHE_TTL_MS: '-1' }, /CACHE_TTL_MS must be a non-negative number/],
    [{ ...base, CACHE_TTL_MS: 'ten' }, /CACHE_TTL_MS must be a non-negative number/],
    [{ ...base, NEGATIVE_CACHE_TTL_MS: 'Infinity' }, /NEGATIVE_CACHE_TTL_MS must be a non-negative number/],
    [{ ...base, USAGE_INTERVAL_SECONDS: '0' }, /USAGE_INTERVAL_SECONDS must be greater than 0/],
    [{ ...base, UNLISTED_ROUTES: 'open' }, /UNLISTED_ROUTES must be 'allow' or 'deny'/],
  ])('refuses %p by name', (env, message) => {
    expect(() => readAuthorizerEnvironment(env)).toThrow(message);
  });
});
