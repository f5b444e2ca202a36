/**
 * The API key format, in the spirit of GitHub's token format:
 *
 *     <prefix>_<43 base62 chars of entropy><6 base62 chars of CRC-32>
 *
 * - 32 bytes (256 bits) from a CSPRNG, encoded in 43 base62 characters;
 * - a prefix that names the issuer (and lets secret scanners find leaked keys);
 * - a CRC-32 over `<prefix>_<entropy>` so that a mistyped or forged-looking key is
 *   rejected without any database read.
 *
 * Only a one-way hash of a key is stored; the key id is a separate, non-secret
 * derivation for logs and audit.
 */
// Named imports, not a namespace: compiled to CommonJS by esbuild (tsx, which runs the bench),
// a namespace import of a CommonJS module reads every member through a generated getter.
import { createHash, hash as oneShotHash, randomBytes } from 'node:crypto';
import { bytesToBase62 } from './base62';
import { crc32 } from './crc32';
import { MalformedKeyError } from './errors';

/** Bytes of CSPRNG entropy in a key. */
export const KEY_ENTROPY_BYTES = 32;
/** Base62 characters that encode the entropy (62^43 > 2^256). */
export const KEY_ENTROPY_CHARS = 43;
/** Base62 characters that encode the CRC-32 (62^6 > 2^32). */
export const KEY_CHECKSUM_CHARS = 6;
/** Allowed key prefixes: 2-16 lowercase letters or digits, starting with a letter. */
export const KEY_PREFIX_PATTERN = /^[a-z][a-z0-9]{1,15}$/;
/** No well-formed key is longer than this; longer input is rejected before any other work. */
export const MAX_KEY_LENGTH = 16 + 1 + KEY_ENTROPY_CHARS + KEY_CHECKSUM_CHARS;

const KEY_PATTERN = /^([a-z][a-z0-9]{1,15})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/;

/** Source of random bytes; the default is Node's CSPRNG. Injected by property tests. */
export type RandomBytes = (size: number) => Uint8Array;

/** Throws a RangeError unless `prefix` is a valid key prefix. */
export function assertValidKeyPrefix(prefix: string): void {
  if (!KEY_PREFIX_PATTERN.test(prefix)) {
    throw new RangeError(`Key prefix must match ${KEY_PREFIX_PATTERN} (2-16 lowercase letters/digits); got '${prefix}'.`);
  }
}

const BASE62_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Checksum characters for the body `<prefix>_<entropy>`. */
export function checksumOf(body: string): string {
  // Number arithmetic, not BigInt: a CRC-32 fits a double exactly, and this runs on every
  // parse (the verifier's cache misses, including floods of mistyped keys).
  let rest = crc32(body);
  let out = '';
  for (let i = 0; i < KEY_CHECKSUM_CHARS; i++) {
    out = BASE62_ALPHABET.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/** Generates a new plaintext API key with the given prefix. */
export function generateApiKey(prefix: string, random: RandomBytes = randomBytes): string {
  assertValidKeyPrefix(prefix);
  const body = `${prefix}_${bytesToBase62(random(KEY_ENTROPY_BYTES), KEY_ENTROPY_CHARS)}`;
  return body + checksumOf(body);
}

/** A key that passed the offline checks. */
export interface ParsedApiKey {
  readonly prefix: string;
  readonly key: string;
}

/** Why a presented value is not a well-formed key (see {@link MalformedKeyError}). */
export type MalformedKeyReason = MalformedKeyError['reason'];

/**
 * The first reason `candidate` is not a well-formed key, or undefined when it is one:
 * {@link parseApiKey} without the throw, for hot paths (building an Error captures a stack
 * trace, which costs several times the check itself on a flood of bad keys).
 *
 * @param expectedPrefix when given, a key with another prefix is rejected (`prefix`).
 */
export function apiKeyProblem(candidate: unknown, expectedPrefix?: string): MalformedKeyReason | undefined {
  if (typeof candidate !== 'string' || candidate.length === 0 || candidate.length > MAX_KEY_LENGTH) return 'length';
  const match = KEY_PATTERN.exec(candidate);
  if (!match) return 'format';
  const [, prefix, entropy, checksum] = match as unknown as [string, string, string, string];
  if (expectedPrefix !== undefined && prefix !== expectedPrefix) return 'prefix';
  // The pattern already limits entropy and checksum to base62, so only the CRC is left.
  if (checksumOf(`${prefix}_${entropy}`) !== checksum) return 'checksum';
  return undefined;
}

/**
 * Checks length, shape, prefix and checksum without any I/O.
 *
 * @param expectedPrefix when given, a key with another prefix is rejected (`prefix`).
 * @throws MalformedKeyError with the first reason that applies.
 */
export function parseApiKey(candidate: unknown, expectedPrefix?: string): ParsedApiKey {
  const problem = apiKeyProblem(candidate, expectedPrefix);
  if (problem !== undefined) throw new MalformedKeyError(problem);
  const key = candidate as string;
  return { prefix: key.slice(0, key.indexOf('_')), key };
}

/**
 * The one-way hash stored in place of the key: hex SHA-256.
 *
 * A fast hash is right here (as for GitHub tokens): the key has 256 bits of CSPRNG
 * entropy, so there is nothing for a slow password hash to protect against, and the
 * auth hot path hashes every request.
 */
export const hashApiKey: (key: string) => string =
  // crypto.hash (Node >= 20.12 / 21.7) skips the Hash object createHash builds: about twice
  // as fast for a key-sized input. Both hash the string's UTF-8 bytes.
  typeof oneShotHash === 'function' ? (key) => oneShotHash('sha256', key, 'hex') : (key) => createHash('sha256').update(key, 'utf8').digest('hex');

/**
 * The same SHA-256 as {@link hashApiKey}, as a 32-character binary (latin1) string: the
 * cheapest form Node returns (no hex encoding, half the characters to compare). For
 * in-memory lookups only; {@link digestToHex} turns it into the stored hash.
 */
export const digestApiKey: (key: string) => string = typeof oneShotHash === 'function' ? (key) => oneShotHash('sha256', key, 'binary') : (key) => createHash('sha256').update(key, 'utf8').digest('binary');

/** The hex hash ({@link hashApiKey}'s form) of a binary digest from {@link digestApiKey}. */
export function digestToHex(digest: string): string {
  return Buffer.from(digest, 'latin1').toString('hex');
}

/**
 * The non-secret key id shown in logs, audit and notifications: `<prefix>_kid_<16 hex>`,
 * derived with a separate domain tag so it reveals nothing usable about the stored hash.
 */
export function keyIdOf(key: string): string {
  const prefix = key.slice(0, Math.max(0, key.indexOf('_')));
  const digest = createHash('sha256').update(`keyroll:key-id:${key}`, 'utf8').digest('hex');
  return `${prefix}_kid_${digest.slice(0, 16)}`;
}
