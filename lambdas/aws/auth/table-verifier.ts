/**
 * A {@link KeyVerifier} over any {@link KeyRecordReader}: the SDK's KeyRepository
 * (`createDynamoKeyVerifier` in verifier.ts) or the authorizer's lean client. Loads no SDK.
 */
import { systemClock } from '../../core/clock';
import { KeyVerifier, type KeyVerifierOptions } from '../../core/key-verifier';
import type { KeyRecordReader } from '../key-access';

/** Where key records come from and how to cache them. */
export interface TableKeyVerifierOptions extends Partial<Omit<KeyVerifierOptions, 'lookup'>> {
  readonly reader: KeyRecordReader;
}

/**
 * A verifier that reads key records strongly consistent through `reader` (a revoked key must
 * not be accepted from a stale replica once its cache entry expires). Create one per process
 * and reuse it: the cache lives in it.
 */
export function createTableKeyVerifier(options: TableKeyVerifierOptions): KeyVerifier {
  const { reader, clock = systemClock, ...tuning } = options;
  return new KeyVerifier({ ...tuning, clock, lookup: (keyHash, deadline) => reader.getKey(keyHash, true, deadline) });
}
