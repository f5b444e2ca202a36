/**
 * KeyVerifier: every verdict, the cache (positive and negative, TTL, eviction, in-flight
 * de-duplication), the revocation-latency bound, the RETIRING deadline under the cache,
 * option validation; and the helpers it is built from (scopesCover, principalOf,
 * UsageThrottle). The lookup is an in-memory map that tests can change under the cache.
 */
import fc from 'fast-check';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { InvalidVerifierOptionsError, KeyVerifier, MAX_CACHE_TTL_MS, type KeyVerifierOptions } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { UsageThrottle } from '../../lambdas/core/usage-throttle';
import { judgeRecord, principalOf, RejectionReason, scopesCover, type KeyLookup } from '../../lambdas/core/verification';
import { fixedRandom, RUNS, thrownBy } from './helpers';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const PREFIX = 'krt';

/** A deterministic key per seed, so failures are reproducible. */
const keyFor = (seed: number, prefix = PREFIX) => generateApiKey(prefix, fixedRandom(new Uint8Array(32).map((_, i) => (i * 31 + seed * 17) & 0xff)));
const KEY = keyFor(1);
const OTHER_KEY = keyFor(2);

// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- KeyState documents the usual values; any string tests an unknown state
function recordFor(key: string, state: KeyState | string, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyHash: hashApiKey(key),
    keyId: keyIdOf(key),
    clientId: 'acme',
    secretVersionId: 'initial-0123456789abcdef',
    rotationId: 'initial',
    state: state as KeyState,
    scopes: ['orders:read'],
    createdAt: iso(T0 - 86_400_000),
    ...extra,
  };
}

/** A mutable store behind a jest mock, so calls can be counted and records changed under the cache. */
function store(...records: KeyRecord[]) {
  const byHash = new Map(records.map((r) => [r.keyHash, r]));
  const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>(async (hash) => byHash.get(hash));
  return {
    lookup,
    put: (record: KeyRecord) => byHash.set(record.keyHash, record),
    remove: (hash: string) => byHash.delete(hash),
  };
}

/** A lookup whose reads stay open until the test settles them. */
function deferredLookup() {
  const pending: { hash: string; resolve: (r: KeyRecord | undefined) => void; reject: (e: unknown) => void }[] = [];
  const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>((hash) => new Promise((resolve, reject) => pending.push({ hash, resolve, reject })));
  return { lookup, pending };
}

function verifierWith(lookup: KeyLookup, clock: ManualClock, options: Partial<KeyVerifierOptions> = {}) {
  return new KeyVerifier({ lookup, clock, keyPrefix: PREFIX, ...options });
}

/** Lets every queued promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

let clock: ManualClock;
beforeEach(() => {
  clock = new ManualClock(T0);
});

describe('verdicts', () => {
  it('accepts an ACTIVE key: principal with keyRole current, the key hash, and never the key', async () => {
    const record = recordFor(KEY, KeyState.ACTIVE, { scopes: ['orders:read', 'orders:write'] });
    const verifier = verifierWith(store(record).lookup, clock);
    const verdict = await verifier.verify(KEY, ['orders:read']);
    expect(verdict).toEqual({
      accepted: true,
      keyHash: hashApiKey(KEY),
      principal: { clientId: 'acme', keyId: keyIdOf(KEY), scopes: ['orders:read', 'orders:write'], keyRole: 'current' },
    });
    expect(JSON.stringify(verdict)).not.toContain(KEY);
  });

  it('accepts a RETIRING key before its notAfter with keyRole previous', async () => {
    const verifier = verifierWith(store(recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0 + 1) })).lookup, clock);
    const verdict = await verifier.verify(KEY);
    expect(verdict.accepted && verdict.principal.keyRole).toBe('previous');
  });

  it.each([
    ['not a key at all', 'hello'],
    ['empty', ''],
    ['undefined (no header)', undefined],
    ['a key of another issuer (wrong prefix)', keyFor(1, 'other')],
    ['a key with a broken checksum', KEY.slice(0, -1) + (KEY.endsWith('A') ? 'B' : 'A')],
  ])('rejects %s as malformed without any lookup', async (_name, presented) => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    expect(await verifier.verify(presented)).toEqual({ accepted: false, reason: 'malformed' });
    expect(lookup).not.toHaveBeenCalled();
    expect(verifier.lookups).toBe(0);
  });

  it('without a keyPrefix option, a well-formed key of any prefix is looked up', async () => {
    const foreign = keyFor(3, 'other');
    const { lookup } = store();
    const verifier = new KeyVerifier({ lookup, clock });
    expect(await verifier.verify(foreign)).toEqual({ accepted: false, reason: 'unknown' });
    expect(lookup).toHaveBeenCalledWith(hashApiKey(foreign), undefined);
  });

  it('rejects a well-formed key that is not stored as unknown, after one lookup by its hash', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    expect(await verifier.verify(OTHER_KEY)).toEqual({ accepted: false, reason: 'unknown' });
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith(hashApiKey(OTHER_KEY), undefined);
  });

  it.each([
    ['pending', recordFor(KEY, KeyState.PENDING)],
    ['revoked', recordFor(KEY, KeyState.REVOKED, { revokedAt: iso(T0 - 1) })],
    ['expired', recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0) })],
    ['expired', recordFor(KEY, KeyState.RETIRING)], // no deadline: fail closed
    ['revoked', recordFor(KEY, 'SUSPENDED')], // a state this code does not know
  ])('rejects as %s, naming the key id and client (never the key)', async (reason, record) => {
    const verdict = await verifierWith(store(record).lookup, clock).verify(KEY);
    expect(verdict).toEqual({ accepted: false, reason, keyId: keyIdOf(KEY), clientId: 'acme' });
    expect(JSON.stringify(verdict)).not.toContain(KEY);
  });

  it('rejects a usable key without a required scope as insufficient_scope', async () => {
    const verifier = verifierWith(store(recordFor(KEY, KeyState.ACTIVE, { scopes: ['orders:read'] })).lookup, clock);
    expect(await verifier.verify(KEY, ['orders:read', 'orders:write'])).toEqual({
      accepted: false,
      reason: 'insufficient_scope',
      keyId: keyIdOf(KEY),
      clientId: 'acme',
    });
    expect((await verifier.verify(KEY, ['orders:read'])).accepted).toBe(true);
    expect((await verifier.verify(KEY, [])).accepted).toBe(true);
  });

  it('applies the state rule before the scope rule (a revoked key is revoked, whatever the scopes)', async () => {
    const verifier = verifierWith(store(recordFor(KEY, KeyState.REVOKED, { scopes: [] })).lookup, clock);
    expect(await verifier.verify(KEY, ['admin'])).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('covers every rejection reason there is', () => {
    // If a reason is added, it needs a verdict test above.
    expect(Object.values(RejectionReason).sort()).toEqual(['expired', 'insufficient_scope', 'malformed', 'pending', 'revoked', 'unknown']);
  });

  it('a failing lookup rejects verify (no verdict is invented) and nothing is cached', async () => {
    const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>().mockRejectedValueOnce(new Error('throttled'));
    lookup.mockResolvedValue(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    await expect(verifier.verify(KEY)).rejects.toThrow('throttled');
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(2);
  });
});

describe('positive cache', () => {
  it('reuses a record within the TTL and reads it again once the TTL has elapsed', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock, { cacheTtlMs: 5_000 });
    await verifier.verify(KEY);
    clock.advance(4_999);
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(1);
    clock.advance(1);
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(verifier.lookups).toBe(2);
    // The re-read starts a new TTL.
    clock.advance(4_999);
    await verifier.verify(KEY);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('defaults to the 10 s maximum', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    await verifier.verify(KEY);
    clock.advance(MAX_CACHE_TTL_MS - 1);
    await verifier.verify(KEY);
    expect(lookup).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await verifier.verify(KEY);
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(MAX_CACHE_TTL_MS).toBe(10_000);
  });

  it('is per key, and the scope check runs on every call against the cached record', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE), recordFor(OTHER_KEY, KeyState.ACTIVE, { clientId: 'globex' }));
    const verifier = verifierWith(lookup, clock);
    expect((await verifier.verify(KEY, ['orders:read'])).accepted).toBe(true);
    expect(await verifier.verify(KEY, ['orders:write'])).toMatchObject({ accepted: false, reason: 'insufficient_scope' });
    expect(await verifier.verify(OTHER_KEY)).toMatchObject({ accepted: true, principal: { clientId: 'globex' } });
    expect(lookup.mock.calls).toEqual([[hashApiKey(KEY)], [hashApiKey(OTHER_KEY)]]);
  });

  it('cacheTtlMs 0 disables caching: every verification reads', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock, { cacheTtlMs: 0 });
    await verifier.verify(KEY);
    await verifier.verify(KEY);
    await verifier.verify(OTHER_KEY);
    await verifier.verify(OTHER_KEY);
    expect(lookup).toHaveBeenCalledTimes(4);
  });

  it('clear() forgets every cached record', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    await verifier.verify(KEY);
    await verifier.verify(OTHER_KEY);
    verifier.clear();
    await verifier.verify(KEY);
    await verifier.verify(OTHER_KEY);
    expect(lookup).toHaveBeenCalledTimes(4);
  });
});

describe('revocation latency', () => {
  it('a revocation is visible exactly once the TTL has elapsed since the read, and not before', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(s.lookup, clock, { cacheTtlMs: 3_000 });
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    clock.advance(1);
    s.put(recordFor(KEY, KeyState.REVOKED, { revokedAt: iso(clock.nowMs()) }));
    clock.advance(2_998); // T0 + 2999: still within the documented bound
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    clock.advance(1); // T0 + 3000
    expect(await verifier.verify(KEY)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('matches a model of the cache for any TTL and timing, and never serves a revoked key past revocation + TTL (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: MAX_CACHE_TTL_MS }),
        fc.integer({ min: 0, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 4_000 }), { minLength: 1, maxLength: 20 }),
        async (ttl, revokeAtStep, advances) => {
          const local = new ManualClock(T0);
          const s = store(recordFor(KEY, KeyState.ACTIVE));
          const verifier = verifierWith(s.lookup, local, { cacheTtlMs: ttl });
          let revokedAt: number | undefined;
          let storeState: KeyState = KeyState.ACTIVE;
          let cached: { state: KeyState; readAt: number } | undefined;
          for (const [step, advance] of advances.entries()) {
            local.advance(advance);
            if (step === revokeAtStep) {
              s.put(recordFor(KEY, KeyState.REVOKED));
              storeState = KeyState.REVOKED;
              revokedAt = local.nowMs();
            }
            const now = local.nowMs();
            if (!cached || now >= cached.readAt + ttl) cached = { state: storeState, readAt: now };
            const verdict = await verifier.verify(KEY);
            expect(verdict.accepted).toBe(cached.state === KeyState.ACTIVE);
            if (revokedAt !== undefined && now >= revokedAt + ttl) expect(verdict).toMatchObject({ accepted: false, reason: 'revoked' });
          }
        },
      ),
      RUNS,
    );
  });

  it('a caller that joins an in-flight read does not extend the cache life beyond that read', async () => {
    const { lookup, pending } = deferredLookup();
    const verifier = verifierWith(lookup, clock, { cacheTtlMs: 10_000 });
    const first = verifier.verify(KEY); // the read starts at T0
    await settle();
    expect(pending).toHaveLength(1);
    // The store answers with the state it had at T0 ...
    pending[0].resolve(recordFor(KEY, KeyState.ACTIVE));
    // ... and a second request arrives 9 s later, while that answer is still on its way.
    clock.advance(9_000);
    const second = verifier.verify(KEY);
    expect((await first).accepted).toBe(true);
    expect((await second).accepted).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(1);

    // The key is revoked right after the read; from T0 + 10 s it must be rejected.
    clock.advance(1_000);
    const third = verifier.verify(KEY);
    await settle();
    expect(pending).toHaveLength(2);
    pending[1].resolve(recordFor(KEY, KeyState.REVOKED));
    expect(await third).toMatchObject({ accepted: false, reason: 'revoked' });
  });
});

describe('RETIRING deadline under the cache', () => {
  it('a cached RETIRING key is rejected as expired at its notAfter, without a new read', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0 + 5_000) }));
    const verifier = verifierWith(lookup, clock, { cacheTtlMs: 10_000 });
    expect(await verifier.verify(KEY)).toMatchObject({ accepted: true, principal: { keyRole: 'previous' } });
    clock.advance(4_999);
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    clock.advance(1);
    expect(await verifier.verify(KEY)).toEqual({ accepted: false, reason: 'expired', keyId: keyIdOf(KEY), clientId: 'acme' });
    expect(lookup).toHaveBeenCalledTimes(1);
  });
});

describe('negative cache', () => {
  it('remembers "unknown" for negativeCacheTtlMs, then reads again (and sees a key added since)', async () => {
    const s = store();
    const verifier = verifierWith(s.lookup, clock, { negativeCacheTtlMs: 2_000 });
    expect(await verifier.verify(KEY)).toEqual({ accepted: false, reason: 'unknown' });
    s.put(recordFor(KEY, KeyState.ACTIVE));
    clock.advance(1_999);
    expect(await verifier.verify(KEY)).toEqual({ accepted: false, reason: 'unknown' });
    expect(s.lookup).toHaveBeenCalledTimes(1);
    clock.advance(1);
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    expect(s.lookup).toHaveBeenCalledTimes(2);
  });

  it('defaults to 2 s', async () => {
    const s = store();
    const verifier = verifierWith(s.lookup, clock);
    await verifier.verify(KEY);
    clock.advance(1_999);
    await verifier.verify(KEY);
    expect(s.lookup).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await verifier.verify(KEY);
    expect(s.lookup).toHaveBeenCalledTimes(2);
  });

  it('negativeCacheTtlMs 0 reads every unknown key every time, while found records stay cached', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(s.lookup, clock, { negativeCacheTtlMs: 0 });
    await verifier.verify(OTHER_KEY);
    await verifier.verify(OTHER_KEY);
    await verifier.verify(KEY);
    await verifier.verify(KEY);
    expect(s.lookup.mock.calls).toEqual([[hashApiKey(OTHER_KEY)], [hashApiKey(OTHER_KEY)], [hashApiKey(KEY)]]);
  });

  it('an entry that cannot answer is not kept: with negativeCacheTtlMs 0, made-up keys never push a found record out', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(s.lookup, clock, { maxEntries: 2, negativeCacheTtlMs: 0 });
    await verifier.verify(KEY);
    for (const seed of [50, 51, 52]) await verifier.verify(keyFor(seed));
    expect(verifier.verifyCached(KEY)?.accepted).toBe(true);
  });

  it('cacheTtlMs 0 keeps nothing in memory', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(s.lookup, clock, { cacheTtlMs: 0 });
    for (let i = 0; i < 5; i++) await verifier.verify(KEY);
    expect(s.lookup).toHaveBeenCalledTimes(5);
    expect((verifier as unknown as { cache: Map<string, unknown> }).cache.size).toBe(0);
  });
});

describe('in-flight de-duplication', () => {
  it('concurrent verifications of one key share one read', async () => {
    const { lookup, pending } = deferredLookup();
    const verifier = verifierWith(lookup, clock);
    const verdicts = Array.from({ length: 8 }, (_, i) => verifier.verify(KEY, i % 2 ? ['orders:write'] : []));
    await settle();
    expect(pending).toHaveLength(1);
    pending[0].resolve(recordFor(KEY, KeyState.ACTIVE));
    const results = await Promise.all(verdicts);
    expect(results.map((v) => (v.accepted ? 'ok' : v.reason))).toEqual(['ok', 'insufficient_scope', 'ok', 'insufficient_scope', 'ok', 'insufficient_scope', 'ok', 'insufficient_scope']);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(verifier.lookups).toBe(1);
  });

  it('different keys are read separately, concurrently', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock);
    const results = await Promise.all([verifier.verify(KEY), verifier.verify(OTHER_KEY), verifier.verify(KEY), verifier.verify(OTHER_KEY)]);
    expect(results.map((v) => v.accepted)).toEqual([true, false, true, false]);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('a failed shared read fails every waiter once, and the next verification reads again', async () => {
    const { lookup, pending } = deferredLookup();
    const verifier = verifierWith(lookup, clock);
    const waiters = [verifier.verify(KEY), verifier.verify(KEY), verifier.verify(KEY)];
    await settle();
    expect(pending).toHaveLength(1);
    pending[0].reject(new Error('read failed'));
    for (const waiter of waiters) await expect(waiter).rejects.toThrow('read failed');
    const again = verifier.verify(KEY);
    await settle();
    expect(pending).toHaveLength(2);
    pending[1].resolve(recordFor(KEY, KeyState.ACTIVE));
    expect((await again).accepted).toBe(true);
  });
  it('reads in flight when the cache is cleared still answer their callers, and are not cached', async () => {
    const { lookup, pending } = deferredLookup();
    const verifier = verifierWith(lookup, clock, { maxEntries: 1 });
    const first = verifier.verify(KEY);
    const second = verifier.verify(OTHER_KEY); // a second read in flight beside KEY's
    await settle();
    expect(pending.map((p) => p.hash)).toEqual([hashApiKey(KEY), hashApiKey(OTHER_KEY)]);
    verifier.clear(); // while both reads are in flight
    pending[0].resolve(recordFor(KEY, KeyState.ACTIVE));
    pending[1].resolve(undefined);
    expect((await first).accepted).toBe(true);
    expect(await second).toEqual({ accepted: false, reason: 'unknown' });
    expect(verifier.verifyCached(KEY)).toBeUndefined();
    expect(verifier.verifyCached(OTHER_KEY)).toBeUndefined();
  });
});

describe('maxEntries', () => {
  it('drops the oldest entry when full', async () => {
    const keys = [keyFor(10), keyFor(11), keyFor(12)] as const;
    const { lookup } = store(...keys.map((k) => recordFor(k, KeyState.ACTIVE)));
    const verifier = verifierWith(lookup, clock, { maxEntries: 2 });
    const [a, b, c] = keys;
    for (const k of [a, b, c]) await verifier.verify(k); // a is dropped for c
    expect(lookup).toHaveBeenCalledTimes(3);
    await verifier.verify(c);
    await verifier.verify(b);
    expect(lookup).toHaveBeenCalledTimes(3);
    await verifier.verify(a); // read again; b (now the oldest) is dropped
    expect(lookup).toHaveBeenCalledTimes(4);
    await verifier.verify(c);
    expect(lookup).toHaveBeenCalledTimes(4);
    await verifier.verify(b);
    expect(lookup).toHaveBeenCalledTimes(5);
  });

  it('negative entries count too, so a flood of made-up keys cannot grow the cache beyond the bound', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup, clock, { maxEntries: 3 });
    await verifier.verify(KEY);
    for (let seed = 100; seed < 103; seed++) await verifier.verify(keyFor(seed));
    await verifier.verify(KEY); // pushed out by the unknown keys
    expect(lookup).toHaveBeenCalledTimes(5);
  });
});

describe('options', () => {
  it.each([
    [{ cacheTtlMs: -1 }, /cacheTtlMs.*-1/],
    [{ cacheTtlMs: MAX_CACHE_TTL_MS + 1 }, /cacheTtlMs.*10001/],
    [{ cacheTtlMs: Number.NaN }, /cacheTtlMs.*NaN/],
    [{ cacheTtlMs: Number.POSITIVE_INFINITY }, /cacheTtlMs.*Infinity/],
    [{ negativeCacheTtlMs: -5 }, /negativeCacheTtlMs.*-5/],
    [{ cacheTtlMs: 1_000, negativeCacheTtlMs: 1_001 }, /negativeCacheTtlMs.*1001/],
    [{ negativeCacheTtlMs: Number.NaN }, /negativeCacheTtlMs.*NaN/],
    [{ maxEntries: 0 }, /maxEntries.*0/],
    [{ maxEntries: -1 }, /maxEntries.*-1/],
    [{ maxEntries: 1.5 }, /maxEntries.*1\.5/],
    [{ maxEntries: Number.NaN }, /maxEntries.*NaN/],
  ])('rejects %p with InvalidVerifierOptions naming the value', (options, message) => {
    const error = thrownBy(() => new KeyVerifier({ lookup: store().lookup, clock, ...options }));
    expect(error).toBeInstanceOf(InvalidVerifierOptionsError);
    expect((error as Error).name).toBe('InvalidVerifierOptions');
    expect((error as Error).message).toMatch(message);
  });

  it.each([[{}], [{ cacheTtlMs: 0 }], [{ cacheTtlMs: 1_000 }], [{ cacheTtlMs: 0, negativeCacheTtlMs: 0 }], [{ cacheTtlMs: MAX_CACHE_TTL_MS, negativeCacheTtlMs: MAX_CACHE_TTL_MS }], [{ maxEntries: 1 }]])(
    'accepts %p',
    (options) => {
      expect(() => new KeyVerifier({ lookup: store().lookup, clock, ...options })).not.toThrow();
    },
  );

  it('a short cacheTtlMs caps the default negative TTL at itself', async () => {
    const s = store();
    const verifier = verifierWith(s.lookup, clock, { cacheTtlMs: 500 });
    await verifier.verify(KEY);
    clock.advance(499);
    await verifier.verify(KEY);
    expect(s.lookup).toHaveBeenCalledTimes(1);
    clock.advance(1);
    await verifier.verify(KEY);
    expect(s.lookup).toHaveBeenCalledTimes(2);
  });
});

describe('scopesCover', () => {
  it.each([
    [['orders:read'], ['orders:read'], true],
    [['orders:read'], ['orders:write'], false],
    [['orders:read'], ['orders:read', 'orders:write'], false],
    [['orders:read', 'orders:write'], ['orders:write', 'orders:read'], true],
    [['orders:*'], ['orders:read'], true],
    [['orders:*'], ['orders:read', 'orders:write', 'orders:items:delete'], true],
    [['orders:*'], ['orders:*'], true],
    [['orders:*'], ['billing:read'], false],
    [['orders:*'], ['orders'], false],
    [['orders:*'], ['ordersx:read'], false],
    [['orders:read'], ['orders:*'], false],
    [['*'], ['orders:read', 'billing:write', 'admin'], true],
    [['*'], ['*'], true],
    [['orders:read'], ['*'], false],
    [[], [], true],
    [[], ['orders:read'], false],
    [['orders:read'], [], true],
    [['orders:read*'], ['orders:readonly'], true],
    [['Orders:read'], ['orders:read'], false],
  ])('granted %j covers %j: %s', (granted, required, expected) => {
    expect(scopesCover(granted, required)).toBe(expected);
  });

  const scopeArb = fc.stringMatching(/^[a-z]{1,6}(:[a-z*]{1,6})?$/);
  it('properties: "*" covers anything; nothing is required of []; granted covers itself; adding grants never removes coverage', () => {
    fc.assert(
      fc.property(fc.array(scopeArb, { maxLength: 5 }), fc.array(scopeArb, { maxLength: 5 }), fc.array(scopeArb, { maxLength: 3 }), (granted, required, extra) => {
        expect(scopesCover(['*'], required)).toBe(true);
        expect(scopesCover(granted, [])).toBe(true);
        expect(scopesCover(granted, granted)).toBe(true);
        if (scopesCover(granted, required)) expect(scopesCover([...granted, ...extra], required)).toBe(true);
        // Without wildcards, coverage is plain set inclusion.
        if (!granted.some((s) => s.includes('*'))) expect(scopesCover(granted, required)).toBe(required.every((r) => granted.includes(r)));
      }),
      RUNS,
    );
  });
});

describe('principalOf and judgeRecord', () => {
  it('ACTIVE is current, RETIRING previous; the scopes are a copy', () => {
    const active = recordFor(KEY, KeyState.ACTIVE);
    const principal = principalOf(active);
    expect(principal).toEqual({ clientId: 'acme', keyId: keyIdOf(KEY), scopes: ['orders:read'], keyRole: 'current' });
    expect(principal.scopes).not.toBe(active.scopes);
    expect(principalOf(recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0 + 1) })).keyRole).toBe('previous');
  });

  it('judgeRecord accepts exactly ACTIVE, and RETIRING strictly before notAfter', () => {
    fc.assert(
      fc.property(fc.constantFrom<string>('PENDING', 'ACTIVE', 'RETIRING', 'REVOKED', 'BOGUS'), fc.integer({ min: -5_000, max: 5_000 }), (state, offset) => {
        const verdict = judgeRecord(recordFor(KEY, state, { notAfter: iso(T0 + offset) }), T0);
        expect(verdict.accepted).toBe(state === 'ACTIVE' || (state === 'RETIRING' && offset > 0));
      }),
      RUNS,
    );
  });
});

describe('UsageThrottle', () => {
  it('claims a key once per interval', () => {
    const throttle = new UsageThrottle(clock, 60_000);
    expect(throttle.claim('h1')).toBe(true);
    expect(throttle.claim('h1')).toBe(false);
    clock.advance(59_999);
    expect(throttle.claim('h1')).toBe(false);
    clock.advance(1);
    expect(throttle.claim('h1')).toBe(true);
    expect(throttle.claim('h1')).toBe(false);
  });

  it('keeps keys apart', () => {
    const throttle = new UsageThrottle(clock, 1_000);
    expect(throttle.claim('h1')).toBe(true);
    expect(throttle.claim('h2')).toBe(true);
    expect(throttle.claim('h1')).toBe(false);
    expect(throttle.claim('h2')).toBe(false);
  });

  it('does not claim again when the clock goes backwards', () => {
    const throttle = new UsageThrottle(clock, 1_000);
    expect(throttle.claim('h1')).toBe(true);
    clock.advance(-10_000);
    expect(throttle.claim('h1')).toBe(false);
  });

  it('forgets the oldest key beyond maxEntries (it may then be written again early, never more than that)', () => {
    const throttle = new UsageThrottle(clock, 1_000, 2);
    expect(throttle.claim('a')).toBe(true);
    expect(throttle.claim('b')).toBe(true);
    expect(throttle.claim('c')).toBe(true); // a forgotten
    expect(throttle.claim('b')).toBe(false);
    expect(throttle.claim('c')).toBe(false);
    expect(throttle.claim('a')).toBe(true); // b forgotten
    expect(throttle.claim('b')).toBe(true);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects intervalMs %p with a RangeError', (interval) => {
    expect(() => new UsageThrottle(clock, interval)).toThrow(RangeError);
  });

  it('matches a model: true iff the key was never claimed or its last claim is at least an interval old', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 4_000 })), { maxLength: 60 }), (interval, steps) => {
        const local = new ManualClock(T0);
        const throttle = new UsageThrottle(local, interval);
        const lastClaim = new Map<string, number>();
        for (const [key, advance] of steps) {
          local.advance(advance);
          const last = lastClaim.get(key);
          const expected = last === undefined || local.nowMs() - last >= interval;
          expect(throttle.claim(key)).toBe(expected);
          if (expected) lastClaim.set(key, local.nowMs());
        }
      }),
      RUNS,
    );
  });
});
