/** Shared arbitraries and small oracles for the core-domain tests (not a test file itself). */
import fc from 'fast-check';
import { generateApiKey, KEY_ENTROPY_BYTES } from '../../lambdas/core/api-key';

/** The base62 alphabet, written out independently of the implementation. */
export const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Independent base62 decoder (the test oracle for encodeBase62 / bytesToBase62). */
export function decodeBase62(text: string): bigint {
  let value = 0n;
  for (const ch of text) {
    const digit = BASE62_ALPHABET.indexOf(ch);
    if (digit < 0) throw new Error(`not a base62 digit: ${JSON.stringify(ch)}`);
    value = value * 62n + BigInt(digit);
  }
  return value;
}

/** Big-endian bytes → bigint, the value bytesToBase62 is meant to encode. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = value * 256n + BigInt(b);
  return value;
}

/** Valid key prefixes (KEY_PREFIX_PATTERN), written independently of the constant. */
export const prefixArb: fc.Arbitrary<string> = fc.stringMatching(/^[a-z][a-z0-9]{1,15}$/);

/** Exactly KEY_ENTROPY_BYTES random bytes. */
export const entropyArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** A `random` source that returns fixed bytes (and checks it is asked for the right size). */
export function fixedRandom(bytes: Uint8Array): (size: number) => Uint8Array {
  return (size: number) => {
    if (size !== KEY_ENTROPY_BYTES) throw new Error(`unexpected entropy size ${size}`);
    return bytes;
  };
}

/** A key generated deterministically from a prefix and entropy bytes. */
export const keyArb: fc.Arbitrary<{ prefix: string; bytes: Uint8Array; key: string }> = fc
  .tuple(prefixArb, entropyArb)
  .map(([prefix, bytes]) => ({ prefix, bytes, key: generateApiKey(prefix, fixedRandom(bytes)) }));

/** Number of fast-check runs per property: enough to be thorough, small enough for a fast suite. */
export const RUNS = { numRuns: 300 } as const;

/** Runs `fn` and returns what it threw (fails the test when it does not throw). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the function to throw, but it returned normally');
}
