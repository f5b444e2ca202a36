/**
 * The authorizer's configuration, read from the environment the stack sets: TABLE_NAME,
 * KEY_PREFIX, CACHE_TTL_MS, NEGATIVE_CACHE_TTL_MS, USAGE_INTERVAL_SECONDS, ROUTE_SCOPES, UNLISTED_ROUTES,
 * API_ROUTE_SCOPES. One
 * reading for the deployed handler and the bench's SDK-path twin, so they cannot drift.
 * A missing or bad value is an InvalidConfigurationError naming the variable (core/configuration.ts).
 */

import { KEY_PREFIX, TABLE_NAME } from '../../core/common-variables';
import { decimal, oneOf, optional, readConfiguration, text, type Environment } from '../../core/configuration';
import { MAX_CACHE_TTL_MS } from '../../core/key-verifier';
import type { UnlistedRoutes } from './route-scopes';

/** What the authorizer is configured with. */
export interface AuthorizerEnvironment {
  readonly tableName: string;
  readonly keyPrefix: string;
  readonly cacheTtlMs: number;
  /** Undefined: the verifier's default (2 s, capped at the cache TTL), so CACHE_TTL_MS=0 alone disables caching. */
  readonly negativeCacheTtlMs: number | undefined;
  readonly usageIntervalMs: number;
  /** ROUTE_SCOPES as set, for RouteScopes.parse (which names a bad value InvalidRouteScopes). */
  readonly routeScopes: string | undefined;
  /** UNLISTED_ROUTES (`allow` or `deny`); undefined: RouteScopes' default. */
  readonly unlistedRoutes: UnlistedRoutes | undefined;
  /** API_ROUTE_SCOPES as set (each API's own map), for parseApiRouteScopes (InvalidRouteScopes when bad). */
  readonly apiRouteScopes: string | undefined;
}

const RULES = {
  TABLE_NAME,
  KEY_PREFIX,
  CACHE_TTL_MS: optional(`a non-negative number of milliseconds, at most ${MAX_CACHE_TTL_MS}`, decimal({ max: MAX_CACHE_TTL_MS }), MAX_CACHE_TTL_MS),
  // Its bound against CACHE_TTL_MS is the verifier's (InvalidVerifierOptions when the handler is built).
  NEGATIVE_CACHE_TTL_MS: optional(`a non-negative number of milliseconds, at most ${MAX_CACHE_TTL_MS}`, decimal({ max: MAX_CACHE_TTL_MS })),
  USAGE_INTERVAL_SECONDS: optional('greater than 0 (seconds between two usage records of a key)', decimal({ above: 0 }), 300),
  ROUTE_SCOPES: optional('route scopes as JSON', text(/^[\s\S]+$/)),
  UNLISTED_ROUTES: optional("'allow' or 'deny'", oneOf<UnlistedRoutes>(['allow', 'deny'])),
  API_ROUTE_SCOPES: optional('route scopes per API id as JSON', text(/^[\s\S]+$/)),
};

/** Reads and checks the authorizer's environment (see the module comment). @throws InvalidConfigurationError */
export function readAuthorizerEnvironment(environment: Environment = process.env): AuthorizerEnvironment {
  const config = readConfiguration(environment, RULES);
  return {
    tableName: config.TABLE_NAME,
    keyPrefix: config.KEY_PREFIX,
    cacheTtlMs: config.CACHE_TTL_MS,
    negativeCacheTtlMs: config.NEGATIVE_CACHE_TTL_MS,
    usageIntervalMs: config.USAGE_INTERVAL_SECONDS * 1000,
    routeScopes: config.ROUTE_SCOPES,
    unlistedRoutes: config.UNLISTED_ROUTES,
    apiRouteScopes: config.API_ROUTE_SCOPES,
  };
}
