/**
 * The verifier's warm path (hash first, cache by digest, parse only on a miss) keeps every
 * rule: a cache hit still applies the not-after and scope rules, a malformed key never reaches
 * the store, two keys are never mixed up, and nothing in the verifier holds the plaintext key.
 * Also the api-key helpers the hot path is built from.
 */
import fc from 'fast-check';
import { apiKeyProblem, digestApiKey, digestToHex, generateApiKey, hashApiKey, keyIdOf, parseApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import { KeyVerifier, type KeyVerifierOptions } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import type { KeyLookup } from '../../lambdas/core/verification';
import { fixedRandom, keyArb, RUNS } from './helpers';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const PREFIX = 'krt';
const keyFor = (seed: number) => generateApiKey(PREFIX, fixedRandom(new Uint8Array(32).map((_, i) => (i * 13 + seed * 29) & 0xff)));
const KEY = keyFor(1);

function recordFor(key: string, state: KeyState, extra: Partial<KeyRecord> = {}): KeyRecord {
  return {
    keyHash: hashApiKey(key),
    keyId: keyIdOf(key),
    clientId: 'acme',
    secretVersionId: 'initial-0123456789abcdef',
    rotationId: 'initial',
    state,
    scopes: ['orders:read'],
    createdAt: iso(T0 - 86_400_000),
    ...extra,
  };
}

function store(...records: KeyRecord[]) {
  const byHash = new Map(records.map((r) => [r.keyHash, r]));
  const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>(async (hash) => byHash.get(hash));
  return { lookup, put: (r: KeyRecord) => byHash.set(r.keyHash, r) };
}

let clock: ManualClock;
beforeEach(() => {
  clock = new ManualClock(T0);
});
const verifierWith = (lookup: KeyLookup, options: Partial<KeyVerifierOptions> = {}) => new KeyVerifier({ lookup, clock, keyPrefix: PREFIX, ...options });

/**
 * Every string reachable from `root` through objects, arrays, Maps and Sets (own properties,
 * TypeScript-private fields included).
 */
function reachableStrings(root: unknown): string[] {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') out.push(value);
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Map) {
      for (const [k, v] of value) {
        walk(k);
        walk(v);
      }
    } else if (value instanceof Set) for (const v of value) walk(v);
    else for (const key of Object.getOwnPropertyNames(value)) walk((value as Record<string, unknown>)[key]);
  };
  walk(root);
  return out;
}

describe('a cache hit applies every rule', () => {
  it('the RETIRING not-after is enforced on a hit, through verify() and verifyCached(), with no new read', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0 + 5_000) }));
    const verifier = verifierWith(lookup);
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    clock.advance(4_999);
    expect(verifier.verifyCached(KEY)).toMatchObject({ accepted: true, principal: { keyRole: 'previous' } });
    clock.advance(1);
    const expired = { accepted: false, reason: 'expired', keyId: keyIdOf(KEY), clientId: 'acme' };
    expect(verifier.verifyCached(KEY)).toEqual(expired);
    expect(await verifier.verify(KEY)).toEqual(expired);
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('the scope rule runs on every hit, with a frozen array and with a mutable one', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE, { scopes: ['orders:*'] }));
    const verifier = verifierWith(lookup);
    const frozenRead = Object.freeze(['orders:read']);
    const frozenAdmin = Object.freeze(['admin']);
    expect((await verifier.verify(KEY, frozenRead)).accepted).toBe(true);
    expect(verifier.verifyCached(KEY, frozenRead)?.accepted).toBe(true);
    expect(verifier.verifyCached(KEY, frozenAdmin)).toMatchObject({ accepted: false, reason: 'insufficient_scope' });
    expect(verifier.verifyCached(KEY, frozenRead)?.accepted).toBe(true);
    // A mutable array may change between calls: the answer must follow it.
    const mutable = ['orders:read'];
    expect(verifier.verifyCached(KEY, mutable)?.accepted).toBe(true);
    mutable[0] = 'admin';
    expect(verifier.verifyCached(KEY, mutable)).toMatchObject({ accepted: false, reason: 'insufficient_scope' });
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('a frozen route array repeated on hits still gets the RETIRING not-after at the clock', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.RETIRING, { notAfter: iso(T0 + 5_000), scopes: ['orders:*'] }));
    const verifier = verifierWith(lookup);
    const route = Object.freeze(['orders:read']);
    expect((await verifier.verify(KEY, route)).accepted).toBe(true);
    for (let i = 0; i < 3; i++) expect(verifier.verifyCached(KEY, route)?.accepted).toBe(true);
    clock.advance(5_000);
    expect(verifier.verifyCached(KEY, route)).toMatchObject({ accepted: false, reason: 'expired' });
    expect(await verifier.verify(KEY, route)).toMatchObject({ accepted: false, reason: 'expired' });
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('an ACTIVE key repeated on hits still leaves the cache at the TTL, and a frozen route it does not cover is refused every time', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE, { scopes: ['orders:*'] }));
    const verifier = verifierWith(s.lookup, { cacheTtlMs: 1_000 });
    const route = Object.freeze(['orders:read']);
    const admin = Object.freeze(['admin:write']);
    expect((await verifier.verify(KEY, route)).accepted).toBe(true);
    expect(verifier.verifyCached(KEY, route)?.accepted).toBe(true);
    for (let i = 0; i < 3; i++) expect(verifier.verifyCached(KEY, admin)).toMatchObject({ accepted: false, reason: 'insufficient_scope' });
    expect(verifier.verifyCached(KEY, route)?.accepted).toBe(true);
    s.put(recordFor(KEY, KeyState.REVOKED));
    clock.advance(999);
    expect(verifier.verifyCached(KEY, route)?.accepted).toBe(true);
    clock.advance(1);
    expect(verifier.verifyCached(KEY, route)).toBeUndefined();
    expect(await verifier.verify(KEY, route)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(verifier.verifyCached(KEY, route)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('verify() on repeated hits answers the read’s one frozen verdict, and not past the TTL or to another route', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE, { scopes: ['orders:*'] }));
    const verifier = verifierWith(lookup, { cacheTtlMs: 1_000 });
    const route = Object.freeze(['orders:read']);
    const first = await verifier.verify(KEY, route);
    expect(first.accepted).toBe(true);
    expect(Object.isFrozen(first)).toBe(true);
    expect(await verifier.verify(KEY, route)).toBe(first);
    expect(await verifier.verify(KEY, ['orders:read'])).toBe(first);
    // Another route is judged again, against the same grants.
    expect(await verifier.verify(KEY, Object.freeze(['admin']))).toMatchObject({ accepted: false, reason: 'insufficient_scope' });
    clock.advance(1_000);
    const reread = await verifier.verify(KEY, route);
    expect(reread).not.toBe(first);
    expect(reread.accepted).toBe(true);
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('a revocation read after the TTL replaces the cached verdict', async () => {
    const s = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(s.lookup, { cacheTtlMs: 1_000 });
    expect((await verifier.verify(KEY)).accepted).toBe(true);
    s.put(recordFor(KEY, KeyState.REVOKED));
    clock.advance(1_000);
    expect(verifier.verifyCached(KEY)).toBeUndefined();
    expect(await verifier.verify(KEY)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(verifier.verifyCached(KEY)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('the shared accepted verdict is frozen, so no caller can change what the next one gets', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup);
    const first = await verifier.verify(KEY);
    if (!first.accepted) throw new Error('expected an accepted verdict');
    expect(() => ((first.principal.scopes as string[])[0] = 'admin')).toThrow(TypeError);
    expect(() => ((first.principal as { clientId: string }).clientId = 'evil')).toThrow(TypeError);
    expect(await verifier.verify(KEY)).toEqual({ accepted: true, keyHash: hashApiKey(KEY), principal: { clientId: 'acme', keyId: keyIdOf(KEY), scopes: ['orders:read'], keyRole: 'current' } });
  });
});

describe('malformed keys never reach the store', () => {
  it('even when the store holds a record under the malformed key’s own hash', async () => {
    const bad = KEY.slice(0, -1) + (KEY.endsWith('A') ? 'B' : 'A');
    const wrongPrefix = generateApiKey('other');
    const { lookup } = store(recordFor(bad, KeyState.ACTIVE), recordFor(wrongPrefix, KeyState.ACTIVE));
    const verifier = verifierWith(lookup);
    for (const presented of [bad, wrongPrefix, `${KEY}x`, '', 42, undefined, 'x'.repeat(10_000)]) {
      expect(await verifier.verify(presented)).toEqual({ accepted: false, reason: 'malformed' });
      expect(await verifier.verify(presented)).toEqual({ accepted: false, reason: 'malformed' });
    }
    expect(lookup).not.toHaveBeenCalled();
    // The control: the same store does answer for a well-formed key, so the mock is wired.
    const good = store(recordFor(KEY, KeyState.ACTIVE));
    expect((await verifierWith(good.lookup).verify(KEY)).accepted).toBe(true);
  });

  it('verifyCached() answers malformed for what is not key-sized, and undefined (no read) for a key-sized value it has not seen', () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup);
    expect(verifier.verifyCached(undefined)).toEqual({ accepted: false, reason: 'malformed' });
    expect(verifier.verifyCached('x'.repeat(67))).toEqual({ accepted: false, reason: 'malformed' });
    expect(verifier.verifyCached('not a key')).toBeUndefined();
    expect(verifier.verifyCached(KEY)).toBeUndefined();
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('keys sharing leading digest bits', () => {
  /** Two keys whose digests share the first 4 bits (what once put them in one cache slot). */
  function collidingKeys(): [string, string] {
    const first = keyFor(100);
    const slot = digestApiKey(first).charCodeAt(0) >>> 4;
    for (let seed = 101; seed < 10_000; seed++) {
      const other = keyFor(seed);
      if (digestApiKey(other).charCodeAt(0) >>> 4 === slot && other !== first) return [first, other];
    }
    throw new Error('no colliding key found');
  }

  it('are never mixed up: each key gets its own verdict and its own entry', async () => {
    const [a, b] = collidingKeys();
    const { lookup } = store(recordFor(a, KeyState.ACTIVE));
    const verifier = verifierWith(lookup);
    expect((await verifier.verify(a)).accepted).toBe(true);
    expect(verifier.verifyCached(b)).toBeUndefined();
    expect(await verifier.verify(b)).toEqual({ accepted: false, reason: 'unknown' });
    expect(lookup.mock.calls).toEqual([[hashApiKey(a)], [hashApiKey(b)]]);
    // Both are cached now, each as itself.
    expect(verifier.verifyCached(a)).toMatchObject({ accepted: true, keyHash: hashApiKey(a) });
    expect(verifier.verifyCached(b)).toEqual({ accepted: false, reason: 'unknown' });
    expect(await verifier.verify(a)).toMatchObject({ accepted: true, keyHash: hashApiKey(a) });
    expect(lookup).toHaveBeenCalledTimes(2);
  });

  it('matches a model (a Map by key, in read order) under expiry, eviction and clear() (property)', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => keyFor(200 + i));
    const known = new Set(keys.filter((_, i) => i % 3 !== 0));
    const TTL = 1_000;
    const NEGATIVE_TTL = 500;
    const step = fc.record({ key: fc.integer({ min: 0, max: keys.length - 1 }), advance: fc.integer({ min: 0, max: 8 }).map((n) => n * 50), clear: fc.integer({ min: 0, max: 30 }).map((n) => n === 0) });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(step, { minLength: 1, maxLength: 150 }), async (maxEntries, steps) => {
        const local = new ManualClock(T0);
        const { lookup } = store(...keys.filter((k) => known.has(k)).map((k) => recordFor(k, KeyState.ACTIVE)));
        const verifier = new KeyVerifier({ lookup, clock: local, keyPrefix: PREFIX, maxEntries, cacheTtlMs: TTL, negativeCacheTtlMs: NEGATIVE_TTL });
        const model = new Map<string, { expiresAt: number }>();
        let reads = 0;
        for (const { key: index, advance, clear } of steps) {
          local.advance(advance);
          if (clear) {
            verifier.clear();
            model.clear();
          }
          const key = keys[index];
          const now = local.nowMs();
          const held = model.get(key);
          const hit = held !== undefined && held.expiresAt > now;
          // verifyCached agrees with the model on hit or miss, and a hit never reads.
          const cached = verifier.verifyCached(key);
          expect(cached === undefined).toBe(!hit);
          if (!hit) {
            if (held !== undefined) model.delete(key);
            reads += 1;
            if (model.size >= maxEntries) model.delete(model.keys().next().value!);
            model.set(key, { expiresAt: now + (known.has(key) ? TTL : NEGATIVE_TTL) });
          }
          const verdict = await verifier.verify(key);
          expect(verdict.accepted).toBe(known.has(key));
          if (verdict.accepted) expect(verdict.keyHash).toBe(hashApiKey(key));
          expect(lookup).toHaveBeenCalledTimes(reads);
        }
      }),
      RUNS,
    );
  });
});

describe('no plaintext key in the verifier', () => {
  it('after hits, misses, malformed and unknown keys, no string reachable from the verifier contains a presented key', async () => {
    const unknown = keyFor(7);
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = verifierWith(lookup);
    for (const presented of [KEY, KEY, unknown, unknown, `${KEY.slice(0, -1)}0`]) await verifier.verify(presented, ['orders:read']);
    const strings = reachableStrings(verifier);
    expect(strings).toContain(hashApiKey(KEY)); // the walk does reach the cache (the control)
    for (const key of [KEY, unknown]) expect(strings.filter((s) => s.includes(key))).toEqual([]);
  });
});

describe('verify() contract', () => {
  it('never throws synchronously: a failing clock rejects the promise', async () => {
    const { lookup } = store(recordFor(KEY, KeyState.ACTIVE));
    const verifier = new KeyVerifier({
      lookup,
      clock: {
        nowMs: () => {
          throw new Error('clock broke');
        },
      },
      keyPrefix: PREFIX,
    });
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = verifier.verify(KEY))).not.toThrow();
    await expect(promise).rejects.toThrow('clock broke');
  });
});

describe('api-key helpers of the hot path', () => {
  it('digestApiKey is the same SHA-256 as hashApiKey, 32 binary characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const digest = digestApiKey(text);
        expect(digest).toHaveLength(32);
        expect(digestToHex(digest)).toBe(hashApiKey(text));
      }),
      RUNS,
    );
  });

  it('apiKeyProblem gives exactly the reason parseApiKey throws, or undefined when it parses (property)', () => {
    const candidates = fc.oneof(
      keyArb.map((k) => k.key),
      keyArb.map((k) => k.key.slice(0, -1) + 'Z'),
      fc.string({ maxLength: 70 }),
      fc.anything(),
    );
    fc.assert(
      fc.property(candidates, fc.option(fc.constantFrom('kr', 'krt', 'other'), { nil: undefined }), (candidate, prefix) => {
        let thrown: unknown;
        try {
          parseApiKey(candidate, prefix);
        } catch (error) {
          thrown = error;
        }
        const problem = apiKeyProblem(candidate, prefix);
        if (thrown === undefined) expect(problem).toBeUndefined();
        else expect(thrown instanceof MalformedKeyError && thrown.reason === problem).toBe(true);
      }),
      RUNS,
    );
  });

  it('parseApiKey still returns the prefix and the key', () => {
    expect(parseApiKey(KEY, PREFIX)).toEqual({ prefix: PREFIX, key: KEY });
  });
});
