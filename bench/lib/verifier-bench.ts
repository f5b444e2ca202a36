/**
 * The verifier cases: the synchronous floor (parse, hash), the warm path for the three kinds
 * of presented key, and the cold path against a microtask lookup.
 */
import { hashApiKey, parseApiKey } from '../../lambdas/core/api-key';
import { systemClock } from '../../lambdas/core/clock';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { KeyVerifier, type KeyVerdict } from '../../lambdas/core/key-verifier';
import { RejectionReason } from '../../lambdas/core/verification';
import { buildKeySet, KEY_PREFIX, microtaskLookup, REQUIRED_SCOPES, type KeySet } from './fixtures';
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

  add({ id: 'hash', label: 'hashApiKey (SHA-256 hex)', group: 'floor', ...measureSync((i) => hashApiKey(keys.valid[i % n]).length === 64, sizes) });
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
  add(await warmCase('verify-warm-valid', 'verify() valid, warm cache', keys, keys.valid, isAccepted, sizes));
  add(await warmCase('verify-warm-bad-checksum', 'verify() bad checksum (malformed)', keys, keys.badChecksum, rejectedAs(RejectionReason.MALFORMED), sizes));
  add(await warmCase('verify-warm-unknown', 'verify() unknown, negative cache', keys, keys.unknown, rejectedAs(RejectionReason.UNKNOWN), sizes));
  add(await coldCase(keys, sizes));
  return results;
}
