/** Keys and an in-memory key store for the verifier benchmark. */
import { generateApiKey, hashApiKey, keyIdOf, parseApiKey } from '../../lambdas/core/api-key';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import type { KeyLookup } from '../../lambdas/core/verification';

/** The prefix the stack uses by default, and the one the verifier is configured with. */
export const KEY_PREFIX = 'kr';
/** What every stored key grants, and what every benchmarked request asks for: exercises the scope rule like a real route. */
export const GRANTED_SCOPES: readonly string[] = ['orders:*'];
/** Taken from RouteScopes as the authorizer takes it (one frozen array per route, which the verifier's scope memo relies on). */
export const BENCH_ROUTE = 'GET /orders';
export const REQUIRED_SCOPES: readonly string[] = RouteScopes.parse(JSON.stringify({ [BENCH_ROUTE]: ['orders:read'] })).required(BENCH_ROUTE)!;

/** The presented keys of each kind, plus the store that knows the valid ones. */
export interface KeySet {
  readonly valid: readonly string[];
  readonly badChecksum: readonly string[];
  readonly unknown: readonly string[];
  /** keyHash -> record, for the valid keys only. */
  readonly records: ReadonlyMap<string, KeyRecord>;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An ACTIVE record shaped like the ones the rotation writes. */
function activeRecord(key: string, index: number): KeyRecord {
  const createdAt = new Date(Date.UTC(2025, 0, 1)).toISOString();
  return {
    keyHash: hashApiKey(key),
    keyId: keyIdOf(key),
    clientId: `bench-client-${index}`,
    secretVersionId: `bench-version-${index}`,
    rotationId: 'initial',
    state: KeyState.ACTIVE,
    scopes: GRANTED_SCOPES,
    createdAt,
    activatedAt: createdAt,
  };
}

/** Whether parseApiKey rejects `key` for its checksum (and not for some other reason). */
function failsChecksum(key: string): boolean {
  try {
    parseApiKey(key, KEY_PREFIX);
    return false;
  } catch (error) {
    return error instanceof MalformedKeyError && error.reason === 'checksum';
  }
}

/**
 * A valid key with one entropy character replaced by another base62 character: still the
 * right shape, so the rejection comes from the CRC-32, the case a typo produces.
 */
export function withOneCharChanged(key: string, seed: number): string {
  const entropyStart = KEY_PREFIX.length + 1;
  for (let attempt = 0; attempt < BASE62.length; attempt++) {
    const at = entropyStart + ((seed + attempt) % 43);
    const current = BASE62.indexOf(key.charAt(at));
    const replacement = BASE62.charAt((current + 1 + ((seed + attempt) % 61)) % 62);
    const candidate = key.slice(0, at) + replacement + key.slice(at + 1);
    // A 1-in-2^32 CRC collision would make this a valid key; try another position then.
    if (failsChecksum(candidate)) return candidate;
  }
  throw new Error('Could not build a bad-checksum key.');
}

/** Builds `size` keys of each kind. Distinct keys per kind, so the cache holds `size` entries as in a busy container. */
export function buildKeySet(size: number): KeySet {
  const valid: string[] = [];
  const badChecksum: string[] = [];
  const unknown: string[] = [];
  const records = new Map<string, KeyRecord>();
  for (let i = 0; i < size; i++) {
    const key = generateApiKey(KEY_PREFIX);
    valid.push(key);
    records.set(hashApiKey(key), activeRecord(key, i));
    badChecksum.push(withOneCharChanged(key, i));
    unknown.push(generateApiKey(KEY_PREFIX));
  }
  return { valid, badChecksum, unknown, records };
}

/**
 * A lookup that answers from the map after one microtask, the least a real (async) store
 * read can cost; a DynamoDB GetItem adds a network round trip of milliseconds on top.
 */
export function microtaskLookup(records: ReadonlyMap<string, KeyRecord>): KeyLookup {
  return (keyHash) => new Promise((resolve) => queueMicrotask(() => resolve(records.get(keyHash))));
}
