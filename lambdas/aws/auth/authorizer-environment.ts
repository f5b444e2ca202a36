/**
 * The authorizer's configuration, read from the environment the stack sets: TABLE_NAME,
 * KEY_PREFIX, CACHE_TTL_MS, NEGATIVE_CACHE_TTL_MS, USAGE_INTERVAL_SECONDS, ROUTE_SCOPES, UNLISTED_ROUTES. One
 * reading for the deployed handler and the bench's SDK-path twin, so they cannot drift.
 * A missing or malformed value fails the init with the variable's name.
 */

import type { UnlistedRoutes } from './route-scopes';

/** What the authorizer is configured with. */
export interface AuthorizerEnvironment {
  readonly tableName: string;
  readonly keyPrefix: string;
  readonly cacheTtlMs: number;
  /** Undefined: the verifier's default (2 s, capped at the cache TTL), so CACHE_TTL_MS=0 alone disables caching. */
  readonly negativeCacheTtlMs: number | undefined;
  readonly usageIntervalMs: number;
  /** ROUTE_SCOPES as set, for RouteScopes.parse. */
  readonly routeScopes: string | undefined;
  /** UNLISTED_ROUTES (`allow` or `deny`); undefined: RouteScopes' default. */
  readonly unlistedRoutes: UnlistedRoutes | undefined;
}

/** Reads and checks the authorizer's environment (see the module comment). */
export function readAuthorizerEnvironment(environment: NodeJS.ProcessEnv = process.env): AuthorizerEnvironment {
  const env = (name: string, fallback?: string): string => {
    const value = environment[name] ?? fallback;
    if (value === undefined || value === '') throw new Error(`Environment variable ${name} is not set; the stack sets it on the authorizer.`);
    return value;
  };
  const numberEnv = (name: string, fallback: number): number => {
    const value = Number(env(name, String(fallback)));
    if (!Number.isFinite(value) || value < 0) throw new Error(`Environment variable ${name} must be a non-negative number.`);
    return value;
  };
  const optionalNumberEnv = (name: string): number | undefined => {
    const raw = environment[name];
    return raw === undefined || raw === '' ? undefined : numberEnv(name, 0);
  };
  const positiveEnv = (name: string, fallback: number): number => {
    const value = numberEnv(name, fallback);
    if (value === 0) throw new Error(`Environment variable ${name} must be greater than 0.`);
    return value;
  };
  return {
    tableName: env('TABLE_NAME'),
    keyPrefix: env('KEY_PREFIX'),
    cacheTtlMs: numberEnv('CACHE_TTL_MS', 10_000),
    negativeCacheTtlMs: optionalNumberEnv('NEGATIVE_CACHE_TTL_MS'),
    usageIntervalMs: positiveEnv('USAGE_INTERVAL_SECONDS', 300) * 1000,
    routeScopes: environment.ROUTE_SCOPES,
    unlistedRoutes: unlistedRoutesEnv(environment.UNLISTED_ROUTES),
  };
}

function unlistedRoutesEnv(raw: string | undefined): UnlistedRoutes | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw !== 'allow' && raw !== 'deny') throw new Error("Environment variable UNLISTED_ROUTES must be 'allow' or 'deny'.");
  return raw;
}
