/**
 * The verifier cases: the synchronous floor (SHA-256 of the key in each way Node offers,
 * parse), the warm path for the three kinds of presented key (through the promise API and
 * the synchronous cache API), the cold path against a microtask lookup, and the warm path's
 * ratio to the fastest hash and to a plain cached lookup, measured interleaved.
 */
// Named imports: esbuild's CommonJS transform (tsx runs the bench) turns each member read of a
// namespace import into a getter call, a cost of the harness that a floor must not pay.
import { createHash, hash } from 'node:crypto';
import { parseApiKey } from '../../lambdas/core/api-key';
import { systemClock } from '../../lambdas/core/clock';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { KeyVerifier, MAX_CACHE_TTL_MS, type KeyVerdict } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { judgeRecord, RejectionReason, scopesCover } from '../../lambdas/core/verification';
import { buildKeySet, KEY_PREFIX, microtaskLookup, REQUIRED_SCOPES, type KeySet } from './fixtures';
import { measureFloorRatio, type FloorRatioResult, type RatioCase } from './floor-ratio';
import { measureAsync, measureSync, settle, type CaseFigures, type PassSizes } from './harness';

/** One row of the verifier table. */
export interface VerifierCase extends CaseFigures {
  readonly id: string;
  readonly label: string;
  readonly group: 'floor' | 'warm' | 'cold';
  /** Reads that reached the store during the measured passes (not the warm-up); absent for the floor. */
  readonly storeLookups?: number;
}

type Expectation = (verdict: KeyVerdict) => boolean;

const isAccepted: Expectation = (v) => v.accepted;
const rejectedAs =
  (reason: RejectionReason): Expectation =>
  (v) =>
    !v.accepted && v.reason === reason;

/** A verifier over the in-memory store with the production defaults (10 s positive, 2 s negative TTL). */
function newVerifier(keys: KeySet): KeyVerifier {
  return new KeyVerifier({ lookup: microtaskLookup(keys.records), clock: systemClock, keyPrefix: KEY_PREFIX });
}

/**
 * SHA-256 of a key, every way Node offers it. The floor is the fastest of these in each run,
 * whichever the verifier uses: `crypto.hash` (Node >= 20.12) skips the Hash object, and the
 * output encoding changes the cost of building the string.
 */
const HASH_FLOORS: readonly { readonly id: string; readonly label: string; readonly hash: (key: string) => string; readonly length: number }[] = [
  { id: 'sha256-createhash-hex', label: 'SHA-256 createHash().digest(hex)', hash: (k) => createHash('sha256').update(k, 'utf8').digest('hex'), length: 64 },
  { id: 'sha256-hash-hex', label: 'SHA-256 crypto.hash hex (hashApiKey)', hash: (k) => hash('sha256', k, 'hex'), length: 64 },
  { id: 'sha256-hash-base64', label: 'SHA-256 crypto.hash base64', hash: (k) => hash('sha256', k, 'base64'), length: 44 },
  { id: 'sha256-hash-binary', label: 'SHA-256 crypto.hash binary (latin1)', hash: (k) => hash('sha256', k, 'binary'), length: 32 },
];

/**
 * A plain cached lookup, what the verifier's warm path must be at least as fast as: what one
 * would write without the verifier, over the same rules. The hex SHA-256 (the table's key), a
 * Map read, a TTL check against the wall clock, then the state rule and the scope rule. Its
 * entries never expire during a run, but the check is made on every op.
 */
function plainCachedLookup(keys: KeySet): (key: string, requiredScopes: readonly string[]) => boolean {
  const expiresAtMs = Date.now() + 3_600_000;
  const cache = new Map<string, { readonly record: KeyRecord; readonly expiresAtMs: number }>();
  for (const [keyHash, record] of keys.records) cache.set(keyHash, { record, expiresAtMs });
  return (key, requiredScopes) => {
    const nowMs = Date.now();
    const entry = cache.get(hash('sha256', key, 'hex'));
    if (entry === undefined || entry.expiresAtMs <= nowMs) return false;
    return judgeRecord(entry.record, nowMs).accepted && scopesCover(entry.record.scopes ?? [], requiredScopes);
  };
}

/** The verifier's warm paths against the fastest hash and a plain cached lookup, interleaved (see floor-ratio.ts). */
export async function runFloorRatio(keys: KeySet, rounds: number, blockOps: number): Promise<FloorRatioResult & { readonly storeLookups: number }> {
  const verifier = newVerifier(keys);
  const plain = plainCachedLookup(keys);
  const valid = keys.valid;
  const n = valid.length;
  const refill = async (): Promise<void> => {
    for (const key of valid) await verifier.verify(key, REQUIRED_SCOPES);
  };
  // Reads outside the refills (warm-up and timed blocks): 0 unless a warm op missed the cache.
  await refill();
  let refillLookups = verifier.lookups;
  let refilledAtMs = Date.now();
  const beforeWarmBlock = async (): Promise<void> => {
    // Refill only once the entries are half their TTL old, so no block can outlive them, and
    // most blocks start on a cache in its steady state rather than right after 1024 reads.
    if (Date.now() - refilledAtMs < MAX_CACHE_TTL_MS / 2) return;
    const before = verifier.lookups;
    verifier.clear();
    await refill();
    refillLookups += verifier.lookups - before;
    refilledAtMs = Date.now();
  };
  const cases: RatioCase[] = [
    ...HASH_FLOORS.map(({ id, label, hash, length }): RatioCase => ({ id, label, kind: 'floor', sync: (i) => hash(valid[i % n]).length === length })),
    {
      // The method's own check: a floor variant run as a case reads ≈ 1.00 when the ratio is unbiased.
      id: 'control-sha256-hash-binary',
      label: 'control: crypto.hash binary again (≈ 1.00)',
      kind: 'control',
      sync: (i) => hash('sha256', valid[i % n], 'binary').length === 32,
    },
    {
      id: 'plain-cached-lookup',
      label: 'plain cached lookup (hex hash, Map, TTL, rules)',
      kind: 'reference',
      sync: (i) => plain(valid[i % n], REQUIRED_SCOPES),
    },
    {
      id: 'verify-cached-warm-valid',
      label: 'verifyCached() valid, warm (synchronous)',
      kind: 'warm',
      sync: (i) => verifier.verifyCached(valid[i % n], REQUIRED_SCOPES)?.accepted === true,
    },
    {
      id: 'verify-warm-valid',
      label: 'await verify() valid, warm',
      kind: 'warm',
      async: (i) => verifier.verify(valid[i % n], REQUIRED_SCOPES),
      expect: (v) => (v as KeyVerdict).accepted,
    },
  ];
  const result = await measureFloorRatio(cases, { rounds, blockOps, beforeWarmBlock });
  return { ...result, storeLookups: verifier.lookups - refillLookups };
}

async function warmCase(id: string, label: string, keys: KeySet, presented: readonly string[], expect: Expectation, sizes: PassSizes): Promise<VerifierCase> {
  const verifier = newVerifier(keys);
  const n = presented.length;
  // Fill the cache first so the warm-up below already runs the warm path.
  for (const key of presented) await verifier.verify(key, REQUIRED_SCOPES);
  let lookupsBefore = 0;
  const figures = await measureAsync(async (i) => expect(await verifier.verify(presented[i % n], REQUIRED_SCOPES)), sizes, {
    afterWarmup: () => {
      lookupsBefore = verifier.lookups;
    },
  });
  return { id, label, group: 'warm', ...figures, storeLookups: verifier.lookups - lookupsBefore };
}

/** The synchronous cache API on warm valid keys: what verify() does on a hit, without the promise. */
async function cachedCase(keys: KeySet, sizes: PassSizes): Promise<VerifierCase> {
  const verifier = newVerifier(keys);
  const valid = keys.valid;
  const n = valid.length;
  for (const key of valid) await verifier.verify(key, REQUIRED_SCOPES);
  const lookupsBefore = verifier.lookups;
  // A miss (the 10 s TTL ran out on a slow machine) answers undefined and fails the row rather than reading.
  const figures = measureSync((i) => verifier.verifyCached(valid[i % n], REQUIRED_SCOPES)?.accepted === true, sizes);
  return { id: 'verify-cached-warm-valid', label: 'verifyCached() valid, warm (sync)', group: 'warm', ...figures, storeLookups: verifier.lookups - lookupsBefore };
}

/** Every verify() starts from an empty cache, so each one awaits the lookup. */
async function coldCase(keys: KeySet, sizes: PassSizes): Promise<VerifierCase> {
  const verifier = newVerifier(keys);
  const n = keys.valid.length;
  let lookupsBefore = 0;
  const figures = await measureAsync(async (i) => isAccepted(await verifier.verify(keys.valid[i % n], REQUIRED_SCOPES)), sizes, {
    beforeEach: () => verifier.clear(),
    afterWarmup: () => {
      lookupsBefore = verifier.lookups;
    },
  });
  return {
    id: 'verify-cold-valid',
    label: 'verify() valid, COLD cache, microtask lookup',
    group: 'cold',
    ...figures,
    storeLookups: verifier.lookups - lookupsBefore,
  };
}

/** Runs every verifier case in order, collecting garbage between them. */
export async function runVerifierBench(sizes: PassSizes, poolSize: number): Promise<VerifierCase[]> {
  const keys = buildKeySet(poolSize);
  const n = poolSize;
  const results: VerifierCase[] = [];
  const add = (c: VerifierCase): void => {
    results.push(c);
    settle();
  };
  settle();

  add({
    id: 'parse',
    label: 'parseApiKey (shape + CRC-32)',
    group: 'floor',
    ...measureSync((i) => {
      const key = keys.valid[i % n];
      return parseApiKey(key, KEY_PREFIX).key === key;
    }, sizes),
  });
  add({
    id: 'parse-bad-checksum',
    label: 'parseApiKey bad checksum (throws)',
    group: 'floor',
    ...measureSync((i) => {
      try {
        parseApiKey(keys.badChecksum[i % n], KEY_PREFIX);
        return false;
      } catch (error) {
        return error instanceof MalformedKeyError;
      }
    }, sizes),
  });
  for (const floor of HASH_FLOORS) {
    add({ id: floor.id, label: floor.label, group: 'floor', ...measureSync((i) => floor.hash(keys.valid[i % n]).length === floor.length, sizes) });
  }
  add(await cachedCase(keys, sizes));
  add(await warmCase('verify-warm-valid', 'verify() valid, warm cache', keys, keys.valid, isAccepted, sizes));
  add(await warmCase('verify-warm-bad-checksum', 'verify() bad checksum (malformed)', keys, keys.badChecksum, rejectedAs(RejectionReason.MALFORMED), sizes));
  add(await warmCase('verify-warm-unknown', 'verify() unknown, negative cache', keys, keys.unknown, rejectedAs(RejectionReason.UNKNOWN), sizes));
  add(await coldCase(keys, sizes));
  return results;
}
