import fc from 'fast-check';
import {
  assertValidKeyPrefix,
  checksumOf,
  generateApiKey,
  hashApiKey,
  KEY_CHECKSUM_CHARS,
  KEY_ENTROPY_BYTES,
  KEY_ENTROPY_CHARS,
  KEY_PREFIX_PATTERN,
  keyIdOf,
  MAX_KEY_LENGTH,
  parseApiKey,
} from '../../lambdas/core/api-key';
import { encodeBase62 } from '../../lambdas/core/base62';
import { crc32 } from '../../lambdas/core/crc32';
import { MalformedKeyError } from '../../lambdas/core/errors';
import { BASE62_ALPHABET, bytesToBigInt, decodeBase62, entropyArb, fixedRandom, keyArb, prefixArb, RUNS, thrownBy } from './helpers';

type Reason = MalformedKeyError['reason'];

/** Asserts that parseApiKey rejects `candidate` with a MalformedKeyError carrying `reason`. */
function expectMalformed(candidate: unknown, reason: Reason, expectedPrefix?: string): void {
  const error = thrownBy(() => parseApiKey(candidate, expectedPrefix));
  expect(error).toBeInstanceOf(MalformedKeyError);
  expect((error as MalformedKeyError).reason).toBe(reason);
  expect((error as MalformedKeyError).name).toBe('MalformedKey');
}

function replaceAt(text: string, index: number, ch: string): string {
  return text.slice(0, index) + ch + text.slice(index + 1);
}

/** A valid key, an index into its entropy+checksum tail, and a base62 character. */
const keyTailSubstitutionArb = keyArb.chain((k) =>
  fc.record({
    k: fc.constant(k),
    index: fc.integer({ min: k.prefix.length + 1, max: k.key.length - 1 }),
    replacement: fc.constantFrom(...BASE62_ALPHABET),
  }),
);

/** Single UTF-16 code units that are not base62 (so the key's length stays the same). */
const nonBase62CharArb = fc
  .integer({ min: 0, max: 0xffff })
  .map((code) => String.fromCharCode(code))
  .filter((ch) => !BASE62_ALPHABET.includes(ch));

describe('key format constants', () => {
  it('match the documented format', () => {
    expect(KEY_ENTROPY_BYTES).toBe(32);
    expect(KEY_ENTROPY_CHARS).toBe(43);
    expect(KEY_CHECKSUM_CHARS).toBe(6);
    expect(MAX_KEY_LENGTH).toBe(16 + 1 + 43 + 6);
    // The encodings are wide enough for their values.
    expect(62n ** BigInt(KEY_ENTROPY_CHARS)).toBeGreaterThan(2n ** BigInt(8 * KEY_ENTROPY_BYTES));
    expect(62n ** BigInt(KEY_CHECKSUM_CHARS)).toBeGreaterThan(2n ** 32n);
  });

  it.each(['kr', 'a1', 'keyroll', 'abcdefghijklmnop'])('KEY_PREFIX_PATTERN accepts %j', (prefix) => {
    expect(KEY_PREFIX_PATTERN.test(prefix)).toBe(true);
  });

  it.each(['', 'a', '1a', 'Kr', 'k_r', 'k-r', 'abcdefghijklmnopq', 'kr ', 'é1'])('KEY_PREFIX_PATTERN rejects %j', (prefix) => {
    expect(KEY_PREFIX_PATTERN.test(prefix)).toBe(false);
  });
});

describe('generateApiKey', () => {
  it('asks the random source for exactly KEY_ENTROPY_BYTES bytes, once', () => {
    const random = jest.fn((size: number) => new Uint8Array(size).fill(7));
    generateApiKey('kr', random);
    expect(random).toHaveBeenCalledTimes(1);
    expect(random).toHaveBeenCalledWith(32);
  });

  it('generated keys always parse, with and without the expected prefix (property)', () => {
    fc.assert(
      fc.property(prefixArb, entropyArb, (prefix, bytes) => {
        const key = generateApiKey(prefix, fixedRandom(bytes));
        expect(parseApiKey(key)).toEqual({ prefix, key });
        expect(parseApiKey(key, prefix)).toEqual({ prefix, key });
      }),
      RUNS,
    );
  });

  it('has length prefix + 1 + 49 and the layout <prefix>_<43 entropy><6 checksum> (property)', () => {
    fc.assert(
      fc.property(prefixArb, entropyArb, (prefix, bytes) => {
        const key = generateApiKey(prefix, fixedRandom(bytes));
        expect(key).toHaveLength(prefix.length + 1 + 49);
        expect(key.length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
        expect(key.startsWith(`${prefix}_`)).toBe(true);
        const entropy = key.slice(prefix.length + 1, prefix.length + 1 + 43);
        const checksum = key.slice(prefix.length + 1 + 43);
        expect(checksum).toHaveLength(6);
        // The entropy part encodes the injected bytes, big-endian.
        expect(decodeBase62(entropy)).toBe(bytesToBigInt(bytes));
        // The checksum is CRC-32 over `<prefix>_<entropy>`.
        expect(decodeBase62(checksum)).toBe(BigInt(crc32(`${prefix}_${entropy}`)));
      }),
      RUNS,
    );
  });

  it('is a function of the prefix and the entropy: different bytes give different keys (property)', () => {
    fc.assert(
      fc.property(prefixArb, entropyArb, entropyArb, (prefix, a, b) => {
        fc.pre(bytesToBigInt(a) !== bytesToBigInt(b));
        expect(generateApiKey(prefix, fixedRandom(a))).not.toBe(generateApiKey(prefix, fixedRandom(b)));
        expect(generateApiKey(prefix, fixedRandom(a))).toBe(generateApiKey(prefix, fixedRandom(a)));
      }),
      RUNS,
    );
  });

  it('handles the extreme entropy values (all zero, all 0xff)', () => {
    const zero = generateApiKey('kr', fixedRandom(new Uint8Array(32)));
    expect(zero.slice(3, 3 + 43)).toBe('0'.repeat(43));
    expect(parseApiKey(zero).key).toBe(zero);
    const max = generateApiKey('kr', fixedRandom(new Uint8Array(32).fill(0xff)));
    expect(decodeBase62(max.slice(3, 3 + 43))).toBe(2n ** 256n - 1n);
    expect(parseApiKey(max).key).toBe(max);
  });

  it('with the real CSPRNG gives distinct, well-formed keys', () => {
    const keys = Array.from({ length: 2000 }, () => generateApiKey('kr'));
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) {
      expect(key).toMatch(/^kr_[0-9A-Za-z]{49}$/);
      expect(parseApiKey(key, 'kr').prefix).toBe('kr');
    }
  });

  it.each(['', 'a', 'K', 'KR', '1kr', 'k_r', 'kr-x', 'abcdefghijklmnopq', ' kr', 'kr\n'])('throws RangeError for invalid prefix %j, before asking for randomness', (prefix) => {
    const random = jest.fn((size: number) => new Uint8Array(size));
    expect(() => generateApiKey(prefix, random)).toThrow(RangeError);
    expect(random).not.toHaveBeenCalled();
  });

  it('throws RangeError for any string that is not a valid prefix (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => !/^[a-z][a-z0-9]{1,15}$/.test(s)),
        (prefix) => {
          expect(() => generateApiKey(prefix, fixedRandom(new Uint8Array(32)))).toThrow(RangeError);
          expect(() => assertValidKeyPrefix(prefix)).toThrow(RangeError);
        },
      ),
      RUNS,
    );
  });

  it('assertValidKeyPrefix accepts every valid prefix (property)', () => {
    fc.assert(
      fc.property(prefixArb, (prefix) => {
        expect(() => assertValidKeyPrefix(prefix)).not.toThrow();
      }),
      RUNS,
    );
  });
});

describe('checksumOf', () => {
  it('is CRC-32 of the body in 6 fixed-width base62 characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (body) => {
        const checksum = checksumOf(body);
        expect(checksum).toMatch(/^[0-9A-Za-z]{6}$/);
        expect(checksum).toBe(encodeBase62(BigInt(crc32(body)), 6));
      }),
      RUNS,
    );
  });
});

describe('parseApiKey', () => {
  it('rejects any single base62-character substitution in the entropy or checksum with reason "checksum" (property)', () => {
    fc.assert(
      fc.property(keyTailSubstitutionArb, ({ k, index, replacement }) => {
        // Replacing a character by itself is not a change.
        fc.pre(k.key[index] !== replacement);
        const mutated = replaceAt(k.key, index, replacement);
        expectMalformed(mutated, 'checksum');
        expectMalformed(mutated, 'checksum', k.prefix);
      }),
      RUNS,
    );
  });

  it('rejects a substitution with a non-base62 character in the entropy or checksum with reason "format" (property)', () => {
    fc.assert(
      fc.property(
        keyArb.chain((k) => fc.tuple(fc.constant(k), fc.integer({ min: k.prefix.length + 1, max: k.key.length - 1 }))),
        nonBase62CharArb,
        ([k, index], ch) => {
          expectMalformed(replaceAt(k.key, index, ch), 'format');
        },
      ),
      RUNS,
    );
  });

  it('rejects a swap of two different adjacent characters inside the entropy or inside the checksum (property)', () => {
    fc.assert(
      fc.property(keyArb, fc.boolean(), fc.nat(), (k, inChecksum, raw) => {
        const start = k.prefix.length + 1 + (inChecksum ? 43 : 0);
        const span = inChecksum ? 6 : 43;
        const i = start + (raw % (span - 1));
        const [a, b] = [k.key[i], k.key[i + 1]];
        fc.pre(a !== b);
        expectMalformed(k.key.slice(0, i) + b + a + k.key.slice(i + 2), 'checksum');
      }),
      RUNS,
    );
  });

  it('rejects a changed prefix: "prefix" when a prefix is expected, "checksum" otherwise (property)', () => {
    fc.assert(
      fc.property(keyArb, fc.nat(), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), (k, raw, ch) => {
        const index = 1 + (raw % (k.prefix.length - 1)); // keep the leading letter so the format holds
        fc.pre(k.prefix[index] !== ch);
        const mutated = replaceAt(k.key, index, ch);
        expectMalformed(mutated, 'checksum');
        expectMalformed(mutated, 'prefix', k.prefix);
      }),
      RUNS,
    );
  });

  it('rejects a valid key whose prefix is not the expected one with reason "prefix" (property)', () => {
    fc.assert(
      fc.property(keyArb, prefixArb, (k, other) => {
        fc.pre(other !== k.prefix);
        expectMalformed(k.key, 'prefix', other);
      }),
      RUNS,
    );
  });

  it('reports "prefix" before "checksum" (first reason that applies)', () => {
    const key = generateApiKey('kr', fixedRandom(new Uint8Array(32).fill(1)));
    const last = key.endsWith('A') ? 'B' : 'A';
    const broken = key.slice(0, -1) + last;
    expectMalformed(broken, 'checksum', 'kr');
    expectMalformed(broken, 'prefix', 'other');
  });

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 12345],
    ['a bigint', 1n],
    ['an object', { key: 'kr_x' }],
    ['an array', ['kr_x']],
    ['a boxed string', Object('kr_abc')],
    ['the empty string', ''],
  ])('rejects %s with reason "length"', (_label, candidate) => {
    expectMalformed(candidate, 'length');
  });

  it('rejects any non-string with reason "length" (property)', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((x) => typeof x !== 'string'),
        (candidate) => expectMalformed(candidate, 'length'),
      ),
      RUNS,
    );
  });

  it('rejects any string longer than MAX_KEY_LENGTH with reason "length", even a valid key with extra text (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_KEY_LENGTH + 1, maxLength: 400 }), (candidate) => {
        expectMalformed(candidate, 'length');
      }),
      RUNS,
    );
    const longest = generateApiKey('abcdefghijklmnop', fixedRandom(new Uint8Array(32).fill(9)));
    expect(longest).toHaveLength(MAX_KEY_LENGTH);
    expect(parseApiKey(longest).key).toBe(longest);
    expectMalformed(`${longest}x`, 'length');
    expectMalformed(`${longest} `, 'length');
  });

  it.each([
    ['no separator', (k: string) => k.replace('_', '')],
    ['upper-case prefix', (k: string) => k.replace('kr_', 'KR_')],
    ['prefix of one letter', (k: string) => k.slice(1)],
    ['prefix starting with a digit', (k: string) => `1${k}`],
    ['one character short', (k: string) => k.slice(0, -1)],
    ['one extra base62 character', (k: string) => `${k}A`],
    ['leading space', (k: string) => ` ${k}`],
    ['trailing newline', (k: string) => `${k}\n`],
    ['dash instead of underscore', (k: string) => k.replace('_', '-')],
    ['a second underscore', (k: string) => k.replace('kr_', 'kr__').slice(0, -1)],
  ])('rejects a key with %s with reason "format"', (_label, mutate) => {
    const key = generateApiKey('kr', fixedRandom(new Uint8Array(32).fill(0xab)));
    expect(parseApiKey(key).key).toBe(key); // the unmutated key is fine
    expectMalformed(mutate(key), 'format');
  });

  it('accepts exactly the strings that generateApiKey could produce for their entropy, i.e. any 43 base62 chars with a matching checksum', () => {
    // 'z' * 43 exceeds 2^256, so no generator produced it, but the offline check only covers format and checksum.
    const body = `kr_${'z'.repeat(43)}`;
    expect(parseApiKey(body + checksumOf(body)).prefix).toBe('kr');
    expectMalformed(body + '000000', 'checksum');
  });

  it('never echoes the candidate in the error message (property)', () => {
    fc.assert(
      fc.property(keyTailSubstitutionArb, ({ k, index, replacement }) => {
        fc.pre(k.key[index] !== replacement);
        const mutated = replaceAt(k.key, index, replacement);
        const error = thrownBy(() => parseApiKey(mutated)) as Error;
        expect(error.message).not.toContain(mutated);
        expect(error.message).not.toContain(mutated.slice(k.prefix.length + 1, k.prefix.length + 11));
        expect(JSON.stringify(error)).not.toContain(mutated.slice(k.prefix.length + 1, k.prefix.length + 11));
      }),
      RUNS,
    );
  });
});

describe('hashApiKey', () => {
  it('is hex SHA-256 (known answers)', () => {
    expect(hashApiKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is deterministic, 64 lower-case hex chars, and differs for different keys (property)', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        const ha = hashApiKey(a.key);
        expect(ha).toMatch(/^[0-9a-f]{64}$/);
        expect(hashApiKey(a.key)).toBe(ha);
        expect(ha).not.toContain(a.key.slice(a.prefix.length + 1));
        if (a.key !== b.key) expect(hashApiKey(b.key)).not.toBe(ha);
        else expect(hashApiKey(b.key)).toBe(ha);
      }),
      RUNS,
    );
  });

  it('hashes UTF-8 (a non-ASCII string hashes as its UTF-8 bytes)', () => {
    // sha256 of the UTF-8 bytes C3 A9 ('é'), not of the Latin-1 byte E9.
    expect(hashApiKey('é')).toBe('4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c');
    expect(hashApiKey('é')).not.toBe('de2e331d891ae267a7009cb45b4e8830f170e0c937288ea2731a1941c7a53b0d');
    expect(hashApiKey('é')).not.toBe(hashApiKey('e'));
  });
});

describe('keyIdOf', () => {
  it('is <prefix>_kid_<16 hex>, deterministic, and reveals neither the entropy nor the stored hash (property)', () => {
    fc.assert(
      fc.property(keyArb, ({ prefix, key }) => {
        const keyId = keyIdOf(key);
        expect(keyId.startsWith(`${prefix}_kid_`)).toBe(true);
        expect(keyId).toMatch(new RegExp(`^${prefix}_kid_[0-9a-f]{16}$`));
        expect(keyIdOf(key)).toBe(keyId);
        const entropy = key.slice(prefix.length + 1, prefix.length + 1 + 43);
        const checksum = key.slice(prefix.length + 1 + 43);
        expect(keyId).not.toContain(entropy);
        expect(keyId).not.toContain(entropy.slice(0, 8));
        expect(keyId).not.toContain(checksum);
        expect(keyId).not.toContain(key);
        const hash = hashApiKey(key);
        expect(keyId).not.toContain(hash.slice(0, 16));
        expect(hash).not.toContain(keyId.slice(-16));
      }),
      RUNS,
    );
  });

  it('gives different ids for different keys (property)', () => {
    fc.assert(
      fc.property(keyArb, keyArb, (a, b) => {
        fc.pre(a.key !== b.key);
        expect(keyIdOf(a.key)).not.toBe(keyIdOf(b.key));
      }),
      RUNS,
    );
  });
});
