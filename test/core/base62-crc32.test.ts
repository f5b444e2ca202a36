import fc from 'fast-check';
import { bytesToBase62, encodeBase62, isBase62 } from '../../lambdas/core/base62';
import { crc32 } from '../../lambdas/core/crc32';
import { BASE62_ALPHABET, bytesToBigInt, decodeBase62, RUNS } from './helpers';

/** Bit-at-a-time CRC-32 (reflected, poly 0xEDB88320): an oracle independent of the table. */
function referenceCrc32Bytes(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function referenceCrc32(text: string): number {
  return referenceCrc32Bytes(Buffer.from(text, 'utf8'));
}

describe('crc32', () => {
  it.each([
    ['123456789', 0xcbf43926],
    ['', 0x00000000],
    ['a', 0xe8b7be43],
    ['The quick brown fox jumps over the lazy dog', 0x414fa339],
  ])('known answer: crc32(%j) = %d', (text, expected) => {
    expect(crc32(text)).toBe(expected);
  });

  it('hashes the UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is C3 A9 in UTF-8; hashing the code unit 0xE9 would give the CRC of Latin-1 'é'.
    expect(crc32('é')).toBe(referenceCrc32Bytes(new Uint8Array([0xc3, 0xa9])));
    expect(crc32('é')).not.toBe(referenceCrc32Bytes(new Uint8Array([0xe9])));
    expect(crc32('€')).toBe(referenceCrc32Bytes(new Uint8Array([0xe2, 0x82, 0xac])));
  });

  it('always returns an unsigned 32-bit integer that matches a bitwise reference (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const value = crc32(text);
        expect(Number.isInteger(value)).toBe(true);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(0xffffffff);
        expect(value).toBe(referenceCrc32(text));
      }),
      RUNS,
    );
  });

  it('detects every single-character substitution in ASCII text (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80 }), fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), (text, rawIndex, code) => {
        const index = rawIndex % text.length;
        const replacement = String.fromCharCode(code);
        fc.pre(replacement !== text[index]);
        const mutated = text.slice(0, index) + replacement + text.slice(index + 1);
        expect(crc32(mutated)).not.toBe(crc32(text));
      }),
      RUNS,
    );
  });
});

describe('encodeBase62', () => {
  it.each([
    [0n, 3, '000'],
    [0n, 0, ''],
    [9n, 1, '9'],
    [10n, 1, 'A'],
    [35n, 1, 'Z'],
    [36n, 1, 'a'],
    [61n, 1, 'z'],
    [62n, 2, '10'],
    [62n, 4, '0010'],
    [62n ** 6n - 1n, 6, 'zzzzzz'],
    [0xffffffffn, 6, '4gfFC3'],
  ])('encodes %s in width %d as %j', (value, width, expected) => {
    expect(encodeBase62(value, width)).toBe(expected);
  });

  it('rejects negative values with a RangeError', () => {
    expect(() => encodeBase62(-1n, 10)).toThrow(RangeError);
  });

  it('rejects a value that does not fit the width with a RangeError', () => {
    expect(() => encodeBase62(62n ** 6n, 6)).toThrow(RangeError);
    expect(() => encodeBase62(1n, 0)).toThrow(RangeError);
  });

  it('fixed-width round trip: output has exactly `width` base62 chars and decodes to the value (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }).chain((width) => fc.tuple(fc.constant(width), fc.bigInt({ min: 0n, max: 62n ** BigInt(width) - 1n }))),
        ([width, value]) => {
          const text = encodeBase62(value, width);
          expect(text).toHaveLength(width);
          expect(text).toMatch(/^[0-9A-Za-z]*$/);
          expect(decodeBase62(text)).toBe(value);
        },
      ),
      RUNS,
    );
  });

  it('preserves numeric order as string order at a fixed width (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 62n ** 10n - 1n }), fc.bigInt({ min: 0n, max: 62n ** 10n - 1n }), (a, b) => {
        const ea = encodeBase62(a, 10);
        const eb = encodeBase62(b, 10);
        expect(ea < eb).toBe(a < b);
        expect(ea === eb).toBe(a === b);
      }),
      RUNS,
    );
  });

  it('throws exactly when the value needs more than `width` digits (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.bigInt({ min: 0n, max: 62n ** 14n }), (width, value) => {
        const fits = value < 62n ** BigInt(width);
        if (fits) expect(decodeBase62(encodeBase62(value, width))).toBe(value);
        else expect(() => encodeBase62(value, width)).toThrow(RangeError);
      }),
      RUNS,
    );
  });
});

describe('bytesToBase62', () => {
  it('encodes bytes big-endian', () => {
    expect(bytesToBase62(new Uint8Array([0x01, 0x00]), 3)).toBe(encodeBase62(256n, 3));
    expect(bytesToBase62(new Uint8Array([0x00, 0x01]), 3)).toBe('001');
    expect(bytesToBase62(new Uint8Array([]), 2)).toBe('00');
  });

  it('fits 32 bytes of 0xff (2^256 - 1) in 43 characters, but not in 42', () => {
    const max = new Uint8Array(32).fill(0xff);
    const text = bytesToBase62(max, 43);
    expect(text).toHaveLength(43);
    expect(decodeBase62(text)).toBe(2n ** 256n - 1n);
    expect(() => bytesToBase62(max, 42)).toThrow(RangeError);
  });

  it('round-trips any byte string of up to 32 bytes at width 43 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 32 }), (bytes) => {
        const text = bytesToBase62(bytes, 43);
        expect(text).toHaveLength(43);
        expect(isBase62(text)).toBe(true);
        expect(decodeBase62(text)).toBe(bytesToBigInt(bytes));
      }),
      RUNS,
    );
  });
});

describe('isBase62', () => {
  it.each(['', '0', 'abcXYZ019', BASE62_ALPHABET])('accepts %j', (text) => {
    expect(isBase62(text)).toBe(true);
  });

  it.each(['_', '-', ' ', 'abc=', 'é', 'a\n', '\u0000', '+/'])('rejects %j', (text) => {
    expect(isBase62(text)).toBe(false);
  });

  it('is true exactly when every character is in the alphabet (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (text) => {
        const expected = [...text].every((ch) => BASE62_ALPHABET.includes(ch));
        expect(isBase62(text)).toBe(expected);
      }),
      RUNS,
    );
  });
});
