/** Base62 with a fixed output width, used for key entropy and checksums (URL- and header-safe). */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = 62n;

/** Encodes an unsigned big integer as exactly `width` base62 characters (left-padded with '0'). */
export function encodeBase62(value: bigint, width: number): string {
  if (value < 0n) throw new RangeError('encodeBase62 takes a non-negative value');
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % BASE)] + out;
    rest /= BASE;
  }
  if (out.length > width) throw new RangeError(`value needs ${out.length} base62 digits, more than width ${width}`);
  return out.padStart(width, '0');
}

/** Encodes bytes (big-endian) as exactly `width` base62 characters. */
export function bytesToBase62(bytes: Uint8Array, width: number): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return encodeBase62(value, width);
}

/** True when every character of `text` is in the base62 alphabet. */
export function isBase62(text: string): boolean {
  return /^[0-9A-Za-z]*$/.test(text);
}
