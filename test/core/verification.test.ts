import fc from 'fast-check';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import type { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import { judgeRecord, RejectionReason, verifyApiKey, type KeyLookup, type Verification } from '../../lambdas/core/verification';
import { BASE62_ALPHABET, fixedRandom, keyArb, RUNS } from './helpers';

const NOW = Date.parse('2024-06-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const STATES: readonly KeyState[] = ['PENDING', 'ACTIVE', 'RETIRING', 'REVOKED'];

function recordFor(key: string, state: KeyState, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyHash: hashApiKey(key),
    keyId: keyIdOf(key),
    clientId: 'acme',
    secretVersionId: 'rot-0123456789abcdef0123456789abcdef',
    rotationId: 'rot-0123456789abcdef0123456789abcdef',
    state,
    scopes: ['orders:read'],
    createdAt: iso(NOW - 86_400_000),
    ...extra,
  };
}

/** A lookup backed by a map of hash → record, as a jest mock so calls can be inspected. */
function lookupOf(...records: KeyRecord[]) {
  const byHash = new Map(records.map((r) => [r.keyHash, r]));
  return jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>(async (hash) => byHash.get(hash));
}

const KEY = generateApiKey('kr', fixedRandom(new Uint8Array(32).map((_, i) => i * 7)));

describe('RejectionReason', () => {
  it('has the documented values', () => {
    expect(RejectionReason).toEqual({ MALFORMED: 'malformed', UNKNOWN: 'unknown', PENDING: 'pending', REVOKED: 'revoked', EXPIRED: 'expired', INSUFFICIENT_SCOPE: 'insufficient_scope' });
  });
});

describe('judgeRecord', () => {
  it('accepts an ACTIVE key and returns its record', () => {
    const record = recordFor(KEY, 'ACTIVE');
    const result = judgeRecord(record, NOW);
    expect(result).toEqual({ accepted: true, record });
    expect(result.accepted && result.record).toBe(record);
  });

  it('accepts an ACTIVE key regardless of a notAfter in the past (notAfter only bounds RETIRING keys)', () => {
    expect(judgeRecord(recordFor(KEY, 'ACTIVE', { notAfter: iso(NOW - 1) }), NOW).accepted).toBe(true);
  });

  it('rejects a PENDING key as pending, with its key id', () => {
    const record = recordFor(KEY, 'PENDING');
    expect(judgeRecord(record, NOW)).toEqual({ accepted: false, reason: 'pending', keyId: record.keyId });
  });

  it('rejects a REVOKED key as revoked, with its key id, even with a notAfter in the future', () => {
    const record = recordFor(KEY, 'REVOKED', { notAfter: iso(NOW + 3_600_000), revokedAt: iso(NOW - 1) });
    expect(judgeRecord(record, NOW)).toEqual({ accepted: false, reason: 'revoked', keyId: record.keyId });
  });

  it('accepts a RETIRING key before its notAfter', () => {
    const record = recordFor(KEY, 'RETIRING', { notAfter: iso(NOW + 1) });
    expect(judgeRecord(record, NOW)).toEqual({ accepted: true, record });
  });

  it('rejects a RETIRING key exactly at its notAfter as expired', () => {
    const record = recordFor(KEY, 'RETIRING', { notAfter: iso(NOW) });
    expect(judgeRecord(record, NOW)).toEqual({ accepted: false, reason: 'expired', keyId: record.keyId });
  });

  it('rejects a RETIRING key after its notAfter as expired', () => {
    const record = recordFor(KEY, 'RETIRING', { notAfter: iso(NOW - 1) });
    expect(judgeRecord(record, NOW)).toEqual({ accepted: false, reason: 'expired', keyId: record.keyId });
  });

  it('honours a notAfter written with a time-zone offset', () => {
    // 14:00+02:00 is 12:00Z, i.e. exactly NOW.
    expect(judgeRecord(recordFor(KEY, 'RETIRING', { notAfter: '2024-06-01T14:00:00+02:00' }), NOW).accepted).toBe(false);
    expect(judgeRecord(recordFor(KEY, 'RETIRING', { notAfter: '2024-06-01T14:00:01+02:00' }), NOW).accepted).toBe(true);
  });

  it('follows the acceptance table for every state and time (property)', () => {
    fc.assert(
      fc.property(keyArb, fc.constantFrom(...STATES), fc.integer({ min: -10 * 86_400_000, max: 10 * 86_400_000 }), fc.integer({ min: 0, max: 4_000_000_000_000 }), ({ key }, state, offset, now) => {
        const record = recordFor(key, state, { notAfter: iso(now + offset) });
        const result = judgeRecord(record, now);
        const expectedAccepted = state === 'ACTIVE' || (state === 'RETIRING' && offset > 0);
        expect(result.accepted).toBe(expectedAccepted);
        if (result.accepted) {
          expect(result.record).toBe(record);
        } else {
          const expectedReason = state === 'PENDING' ? 'pending' : state === 'REVOKED' ? 'revoked' : 'expired';
          expect(result).toEqual({ accepted: false, reason: expectedReason, keyId: record.keyId });
        }
        expect(JSON.stringify(result)).not.toContain(key);
      }),
      RUNS,
    );
  });

  it('is monotonic in time for a RETIRING key: once expired it stays expired (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e7, max: 1e7 }), fc.array(fc.integer({ min: 0, max: 1e6 }), { maxLength: 20 }), (offset, steps) => {
        const record = recordFor(KEY, 'RETIRING', { notAfter: iso(NOW + offset) });
        const clock = new ManualClock(NOW);
        let expired = false;
        for (const step of steps) {
          clock.advance(step);
          const result = judgeRecord(record, clock.nowMs());
          if (expired) expect(result.accepted).toBe(false);
          if (!result.accepted) expired = true;
          expect(result.accepted).toBe(clock.nowMs() < NOW + offset);
        }
      }),
      RUNS,
    );
  });

  // judgeRecord fails closed: Date.parse of a corrupt notAfter is NaN, and a check written
  // as `notAfter <= now` would accept such a key forever.
  it('control: the same RETIRING record with a parseable past notAfter is expired', () => {
    expect(judgeRecord(recordFor(KEY, 'RETIRING', { notAfter: iso(NOW - 1) }), NOW).accepted).toBe(false);
  });
  it.each(['not-a-date', '', '2024-13-45T99:99:99Z'])('rejects as expired a RETIRING key whose notAfter (%j) cannot be parsed', (notAfter) => {
    expect(judgeRecord(recordFor(KEY, 'RETIRING', { notAfter }), NOW)).toMatchObject({ accepted: false, reason: 'expired' });
  });
  it('rejects as expired a RETIRING key with no notAfter at all', () => {
    const { notAfter: _dropped, ...record } = recordFor(KEY, 'RETIRING', { notAfter: iso(NOW + 60_000) });
    expect(judgeRecord(record, NOW)).toMatchObject({ accepted: false, reason: 'expired' });
  });
  it('never accepts a state it does not know', () => {
    const record = { ...recordFor(KEY, 'ACTIVE'), state: 'SUSPENDED' as unknown as KeyState };
    expect(judgeRecord(record, NOW)).toMatchObject({ accepted: false, reason: 'revoked' });
  });
});

describe('verifyApiKey', () => {
  it('accepts an ACTIVE key: one lookup, by the key hash, returning the record', async () => {
    const record = recordFor(KEY, 'ACTIVE');
    const lookup = lookupOf(record);
    const result = await verifyApiKey(KEY, lookup, new ManualClock(NOW));
    expect(result).toEqual({ accepted: true, record });
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith(hashApiKey(KEY));
    expect(lookup.mock.calls[0][0]).not.toContain(KEY.slice(3));
  });

  it('accepts with the expected prefix', async () => {
    const record = recordFor(KEY, 'ACTIVE');
    expect(await verifyApiKey(KEY, lookupOf(record), new ManualClock(NOW), 'kr')).toEqual({ accepted: true, record });
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object holding the key', { apiKey: KEY }],
    ['the empty string', ''],
    ['garbage', 'not a key'],
    ['a Bearer header', `Bearer ${KEY}`],
    ['the key with a trailing newline', `${KEY}\n`],
    ['the key with its last character changed', KEY.slice(0, -1) + (KEY.endsWith('A') ? 'B' : 'A')],
    ['the key upper-cased', KEY.toUpperCase()],
    ['an over-long string', 'k'.repeat(10_000)],
  ])('rejects %s as malformed without calling the lookup', async (_label, presented) => {
    const lookup = lookupOf(recordFor(KEY, 'ACTIVE'));
    const clock = new ManualClock(NOW);
    const nowMs = jest.spyOn(clock, 'nowMs');
    const result = await verifyApiKey(presented, lookup, clock);
    expect(result).toEqual({ accepted: false, reason: 'malformed' });
    expect(lookup).not.toHaveBeenCalled();
    expect(nowMs).not.toHaveBeenCalled();
  });

  it('rejects a valid key with another prefix than expected as malformed, without calling the lookup', async () => {
    const lookup = lookupOf(recordFor(KEY, 'ACTIVE'));
    expect(await verifyApiKey(KEY, lookup, new ManualClock(NOW), 'other')).toEqual({ accepted: false, reason: 'malformed' });
    expect(lookup).not.toHaveBeenCalled();
  });

  it('rejects every single-character corruption of a stored key as malformed, never looking it up (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        keyArb.chain((k) => fc.tuple(fc.constant(k), fc.integer({ min: 0, max: k.key.length - 1 }), fc.constantFrom(...BASE62_ALPHABET, '_', '-', ' '))),
        async ([k, index, ch]) => {
          fc.pre(k.key[index] !== ch);
          const presented = k.key.slice(0, index) + ch + k.key.slice(index + 1);
          const lookup = lookupOf(recordFor(k.key, 'ACTIVE'));
          const result = await verifyApiKey(presented, lookup, new ManualClock(NOW), k.prefix);
          expect(result).toEqual({ accepted: false, reason: 'malformed' });
          expect(lookup).not.toHaveBeenCalled();
        },
      ),
      RUNS,
    );
  });

  it('rejects a well-formed key that no record matches as unknown (no key id: there is none)', async () => {
    const other = generateApiKey('kr', fixedRandom(new Uint8Array(32).fill(3)));
    const lookup = lookupOf(recordFor(other, 'ACTIVE'));
    expect(await verifyApiKey(KEY, lookup, new ManualClock(NOW))).toEqual({ accepted: false, reason: 'unknown' });
    expect(lookup).toHaveBeenCalledWith(hashApiKey(KEY));
  });

  it('rejects a REVOKED key as revoked', async () => {
    const record = recordFor(KEY, 'REVOKED');
    expect(await verifyApiKey(KEY, lookupOf(record), new ManualClock(NOW))).toEqual({ accepted: false, reason: 'revoked', keyId: record.keyId });
  });

  it('rejects a PENDING key as pending', async () => {
    const record = recordFor(KEY, 'PENDING');
    expect(await verifyApiKey(KEY, lookupOf(record), new ManualClock(NOW))).toEqual({ accepted: false, reason: 'pending', keyId: record.keyId });
  });

  it('accepts a RETIRING key until its notAfter and rejects it as expired from then on, reading the injected clock', async () => {
    const notAfter = NOW + 3_600_000;
    const record = recordFor(KEY, 'RETIRING', { notAfter: iso(notAfter) });
    const lookup = lookupOf(record);
    const clock = new ManualClock(notAfter - 1000);
    expect(await verifyApiKey(KEY, lookup, clock)).toEqual({ accepted: true, record });
    clock.advance(999);
    expect(await verifyApiKey(KEY, lookup, clock)).toEqual({ accepted: true, record });
    clock.advance(1);
    expect(await verifyApiKey(KEY, lookup, clock)).toEqual({ accepted: false, reason: 'expired', keyId: record.keyId });
    clock.advance(86_400_000);
    expect(await verifyApiKey(KEY, lookup, clock)).toEqual({ accepted: false, reason: 'expired', keyId: record.keyId });
  });

  it('propagates a lookup failure instead of turning it into a rejection', async () => {
    const failure = new Error('DynamoDB throttled');
    const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>().mockRejectedValue(failure);
    await expect(verifyApiKey(KEY, lookup, new ManualClock(NOW))).rejects.toBe(failure);
  });

  it('agrees with judgeRecord for every stored key, state and time, and never returns the key (property)', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.constantFrom(...STATES), fc.option(fc.integer({ min: -86_400_000, max: 86_400_000 }), { nil: undefined }), fc.boolean(), async ({ key, prefix }, state, offset, stored) => {
        const record = recordFor(key, state, offset === undefined ? {} : { notAfter: iso(NOW + offset) });
        const lookup = stored ? lookupOf(record) : lookupOf();
        const result: Verification = await verifyApiKey(key, lookup, new ManualClock(NOW), prefix);
        expect(lookup).toHaveBeenCalledTimes(1);
        if (stored) expect(result).toEqual(judgeRecord(record, NOW));
        else expect(result).toEqual({ accepted: false, reason: 'unknown' });
        const serialized = JSON.stringify(result);
        expect(serialized).not.toContain(key);
        expect(serialized).not.toContain(key.slice(prefix.length + 1, prefix.length + 1 + 43));
      }),
      RUNS,
    );
  });

  it('never returns the presented string, whatever it is (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 8, maxLength: 80 }), async (presented) => {
        const lookup = lookupOf();
        const result = await verifyApiKey(presented, lookup, new ManualClock(NOW));
        // Random text is never a well-formed key, so it is rejected offline with a fixed shape.
        expect(result).toEqual({ accepted: false, reason: 'malformed' });
        expect(lookup).not.toHaveBeenCalled();
        expect(Object.values(result)).not.toContain(presented);
      }),
      RUNS,
    );
  });
});
