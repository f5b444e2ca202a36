/**
 * Fuzzing the offline key checks and the verifier in front of them: whatever arrives in a
 * header (or is handed over by a caller that did not check its types), parseApiKey throws
 * only MalformedKeyError, verify() never throws and always names a reason, and nothing
 * that fails the offline checks costs a lookup. A single-character mutation of a valid key
 * is always caught by the checksum (CRC-32 detects every burst error up to 32 bits).
 */
import fc from 'fast-check';
import { generateApiKey, hashApiKey, keyIdOf, MAX_KEY_LENGTH, parseApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import { KeyVerifier, type KeyVerdict } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { RejectionReason, type KeyLookup } from '../../lambdas/core/verification';
import { BASE62_ALPHABET, keyArb } from './helpers';

const FUZZ = { numRuns: 1_000 } as const;
const REASONS = new Set<string>(Object.values(RejectionReason));
const T0 = Date.parse('2026-11-28T10:00:00.000Z');

/** A verifier whose store knows every key (so anything that reaches it would be accepted) and counts reads. */
function countingVerifier(keyPrefix?: string) {
  const lookup = jest.fn<ReturnType<KeyLookup>, Parameters<KeyLookup>>(async (keyHash): Promise<KeyRecord> => ({
    keyHash,
    keyId: 'krt_kid_0000000000000000',
    clientId: 'acme',
    secretVersionId: 'initial',
    rotationId: 'initial',
    state: KeyState.ACTIVE,
    scopes: ['*'],
    createdAt: new Date(T0).toISOString(),
  }));
  const verifier = new KeyVerifier({ lookup, clock: new ManualClock(T0), keyPrefix, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  return { verifier, lookup };
}

/** What parseApiKey does with a value: its key, or the MalformedKeyError reason. Anything else propagates. */
function parseOutcome(value: unknown, prefix?: string): { key: string } | { malformed: MalformedKeyError['reason'] } {
  try {
    return { key: parseApiKey(value, prefix).key };
  } catch (error) {
    if (error instanceof MalformedKeyError) return { malformed: error.reason };
    throw error;
  }
}

/** A verdict is well-formed: accepted with a principal, or a known reason. */
function expectWellFormed(verdict: KeyVerdict) {
  if (verdict.accepted) expect(verdict.principal.clientId).toBe('acme');
  else expect(REASONS.has(verdict.reason)).toBe(true);
}

/** Offline and online agree: malformed ⇔ no lookup; well-formed ⇔ exactly one read of its hash. */
async function expectConsistent(value: unknown, prefix?: string) {
  const outcome = parseOutcome(value, prefix);
  const { verifier, lookup } = countingVerifier(prefix);
  const verdict = await verifier.verify(value);
  expectWellFormed(verdict);
  if ('malformed' in outcome) {
    expect(verdict).toEqual({ accepted: false, reason: 'malformed' });
    expect(lookup).not.toHaveBeenCalled();
    expect(verifier.lookups).toBe(0);
  } else {
    expect(verdict.accepted).toBe(true);
    expect(lookup.mock.calls).toEqual([[hashApiKey(outcome.key)]]);
  }
  return outcome;
}

const PREFIX = 'krt';
const VALID = generateApiKey(PREFIX);

describe('random input', () => {
  it('any JavaScript value: parseApiKey throws only MalformedKeyError, verify never throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything({ withBigInt: true, withBoxedValues: true, withMap: true, withSet: true, withTypedArray: true, withDate: true }), async (value) => {
        const outcome = await expectConsistent(value, PREFIX);
        // None of these is a string, so none is a key.
        if (typeof value !== 'string') expect(outcome).toEqual({ malformed: 'length' });
      }),
      FUZZ,
    );
  });

  it.each([
    ['a number', 42],
    ['NaN', Number.NaN],
    ['null', null],
    ['undefined', undefined],
    ['a boolean', true],
    ['a bigint', 10n ** 80n],
    ['a symbol', Symbol('key')],
    ['a function returning the key', () => VALID],
    ['an object whose toString is the key', { toString: () => VALID }],
    ['a boxed String of the key', new String(VALID)],
    ['an array holding the key', [VALID]],
    ['a Buffer of the key', Buffer.from(VALID)],
    [
      'a Proxy that throws on every access',
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
        },
      ),
    ],
  ])('a non-string (%s) is malformed, never coerced to the key it might hold', async (_name, value) => {
    expect(await expectConsistent(value, PREFIX)).toEqual({ malformed: 'length' });
  });

  it('random ASCII, UTF-16 and grapheme strings never throw, and parse and verify agree on them', async () => {
    const strings = fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc.string({ unit: 'grapheme', maxLength: 80 }),
      fc.string({ unit: fc.constantFrom(...'krt_0aZ\u0000\uFFFD\uD83D'), maxLength: 70 }),
    );
    await fc.assert(
      fc.asyncProperty(strings, async (text) => {
        // A random string that happens to pass the CRC (2^-32) would be fine too; consistency is what is checked.
        await expectConsistent(text, PREFIX);
        await expectConsistent(text);
      }),
      FUZZ,
    );
  });

  it('strings shaped like keys (right alphabet and lengths) are checked consistently', async () => {
    const shaped = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{1,15}$/), fc.string({ unit: fc.constantFrom(...BASE62_ALPHABET), minLength: 49, maxLength: 49 })).map(([prefix, rest]) => `${prefix}_${rest}`);
    await fc.assert(
      fc.asyncProperty(shaped, async (text) => {
        const outcome = await expectConsistent(text);
        // Random body and checksum: the checksum decides (a 1 in 2^32 chance of a match is not a failure).
        if ('malformed' in outcome) expect(outcome.malformed).toBe('checksum');
      }),
      FUZZ,
    );
  });
});

describe('adversarial input', () => {
  it('very long input is rejected on length, before any other work', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: MAX_KEY_LENGTH + 1, max: 1_000_000 }), fc.constantFrom('a', '_', '0', '\u0000', '\uD83D'), async (length, ch) => {
        expect(await expectConsistent(ch.repeat(length), PREFIX)).toEqual({ malformed: 'length' });
      }),
      { numRuns: 50 },
    );
    expect(await expectConsistent(VALID + VALID, PREFIX)).toEqual({ malformed: 'length' });
    expect(await expectConsistent(VALID.padEnd(MAX_KEY_LENGTH + 1, 'A'), PREFIX)).toEqual({ malformed: 'length' });
  });

  it('a valid key wrapped in anything (whitespace, quotes, null bytes, a second key) is malformed', async () => {
    await fc.assert(
      fc.asyncProperty(
        keyArb,
        fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\u0000', '"', "'", '\u200B', '\uFEFF', 'A', '_'), minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async ({ key }, junk, before) => {
          expect('malformed' in (await expectConsistent(before ? junk + key : key + junk))).toBe(true);
        },
      ),
      FUZZ,
    );
  });

  it('a null byte anywhere in a key makes it malformed', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.nat(), fc.boolean(), async ({ key }, at, replace) => {
        const i = at % key.length;
        const mutated = key.slice(0, i) + '\u0000' + key.slice(replace ? i + 1 : i);
        expect('malformed' in (await expectConsistent(mutated))).toBe(true);
      }),
      FUZZ,
    );
  });

  it('a valid key with another prefix than the expected one is malformed (prefix), and fine without the expectation', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, async ({ key, prefix }) => {
        fc.pre(prefix !== PREFIX);
        expect(await expectConsistent(key, PREFIX)).toEqual({ malformed: 'prefix' });
        expect(await expectConsistent(key)).toEqual({ key });
        expect(await expectConsistent(key, prefix)).toEqual({ key });
      }),
      FUZZ,
    );
  });

  it('case changes of the prefix are not tolerated', async () => {
    const upper = VALID.replace(/^krt/, 'KRT');
    expect('malformed' in (await expectConsistent(upper, PREFIX))).toBe(true);
    expect('malformed' in (await expectConsistent(upper))).toBe(true);
  });
});

describe('near-valid keys', () => {
  it('every generated key parses and costs exactly one lookup (the baseline the mutations start from)', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, async ({ key, prefix }) => {
        expect(await expectConsistent(key, prefix)).toEqual({ key });
        expect(keyIdOf(key).startsWith(`${prefix}_kid_`)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('changing one base62 character of the entropy or checksum is always caught by the checksum, with no lookup', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.nat(), fc.constantFrom(...BASE62_ALPHABET), async ({ key, prefix }, at, replacement) => {
        const start = prefix.length + 1;
        const i = start + (at % (key.length - start));
        fc.pre(key[i] !== replacement);
        const mutated = key.slice(0, i) + replacement + key.slice(i + 1);
        expect(await expectConsistent(mutated, prefix)).toEqual({ malformed: 'checksum' });
        expect(await expectConsistent(mutated)).toEqual({ malformed: 'checksum' });
      }),
      { numRuns: 2_000 },
    );
  });

  it('changing one character anywhere, to anything, is always malformed, with no lookup', async () => {
    await fc.assert(
      fc.asyncProperty(
        keyArb,
        fc.nat(),
        fc.oneof(fc.constantFrom(...BASE62_ALPHABET, '_', '-', '.', ' ', '\u0000'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
        async ({ key, prefix }, at, replacement) => {
          const i = at % key.length;
          fc.pre(key[i] !== replacement);
          const mutated = key.slice(0, i) + replacement + key.slice(i + 1);
          // With and without the prefix expectation (a changed prefix character must fail the checksum too).
          expect('malformed' in (await expectConsistent(mutated, prefix))).toBe(true);
          expect('malformed' in (await expectConsistent(mutated))).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('deleting, duplicating or swapping adjacent characters of the body is always malformed', async () => {
    await fc.assert(
      fc.asyncProperty(keyArb, fc.nat(), fc.constantFrom('delete', 'duplicate', 'swap'), async ({ key, prefix }, at, edit) => {
        // Body = prefix + '_' + entropy: the part the CRC covers; a swap there is a burst of at most 16 bits.
        const bodyLength = key.length - 6;
        const i = at % (bodyLength - 1);
        let mutated: string;
        if (edit === 'delete') mutated = key.slice(0, i) + key.slice(i + 1);
        else if (edit === 'duplicate') mutated = key.slice(0, i + 1) + key.slice(i);
        else {
          fc.pre(key[i] !== key[i + 1]);
          mutated = key.slice(0, i) + key[i + 1] + key[i] + key.slice(i + 2);
        }
        expect('malformed' in (await expectConsistent(mutated, prefix))).toBe(true);
      }),
      FUZZ,
    );
  });
});
