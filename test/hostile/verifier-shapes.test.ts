/**
 * Keys of every malformed shape to the verifier: wrong prefix, wrong length, bad base62, bad
 * checksum, truncated, extra characters, unicode look-alikes, whitespace padding, huge, empty,
 * non-strings, and every hostile value of the shared table. Each one is `malformed` and costs
 * no store read (the lookup is counted); a valid key costs exactly one, so the count can fail.
 */
import { checksumOf, generateApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { HOSTILE_VALUES, PASTED_KEY } from './hostile-values';

const PREFIX = 'krt';
const KEY = generateApiKey(PREFIX);
const BODY = KEY.slice(PREFIX.length + 1);
const T0 = Date.parse('2026-11-28T10:00:00Z');

/** A verifier whose store would accept anything that reaches it, and counts every read. */
function countingVerifier() {
  let reads = 0;
  const lookup = async (keyHash: string): Promise<KeyRecord> => {
    reads += 1;
    return { keyHash, keyId: 'krt_kid_0000000000000000', clientId: 'acme', secretVersionId: 'v', rotationId: 'r', state: KeyState.ACTIVE, scopes: ['*'], createdAt: new Date(T0).toISOString() };
  };
  const verifier = new KeyVerifier({ lookup, clock: new ManualClock(T0), keyPrefix: PREFIX, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  return { verifier, reads: () => reads };
}

/** `text` with the character at `i` replaced. */
const replaceAt = (text: string, i: number, by: string) => `${text.slice(0, i)}${by}${text.slice(i + 1)}`;
/** The body with its first two differing neighbours swapped (swapping equal ones would give the key back: a test that could not fail). */
function swapFirstDifferingNeighbours(text: string): string {
  const i = [...text].findIndex((c, at) => at + 1 < text.length && c !== text[at + 1]);
  return `${text.slice(0, i)}${text[i + 1]}${text[i]}${text.slice(i + 2)}`;
}
/** A different base62 character than `c`. */
const other = (c: string) => (c === 'A' ? 'B' : 'A');
/** A well-formed key of another prefix (its checksum right for that prefix). */
const withPrefix = (prefix: string) => generateApiKey(prefix);
const CYRILLIC: Record<string, string> = { a: '\u0430', e: '\u0435', o: '\u043e', c: '\u0441', p: '\u0440', x: '\u0445', A: '\u0410', B: '\u0412', E: '\u0415', K: '\u041a', M: '\u041c', O: '\u041e' };

interface Shape {
  readonly family: string;
  readonly name: string;
  readonly value: unknown;
}

const shapes: Shape[] = [
  // Prefix
  { family: 'wrong prefix', name: 'another valid prefix', value: withPrefix('krx') },
  { family: 'wrong prefix', name: 'a longer prefix', value: withPrefix('krtt') },
  { family: 'wrong prefix', name: 'upper-case prefix', value: `KRT_${BODY}` },
  { family: 'wrong prefix', name: 'no prefix', value: BODY },
  { family: 'wrong prefix', name: 'no underscore', value: `${PREFIX}${BODY}` },
  { family: 'wrong prefix', name: 'hyphen for underscore', value: `${PREFIX}-${BODY}` },
  { family: 'wrong prefix', name: 'double underscore', value: `${PREFIX}__${BODY}` },
  { family: 'wrong prefix', name: '17-character prefix', value: `${'k'.repeat(17)}_${BODY}` },
  { family: 'wrong prefix', name: 'prefix starting with a digit', value: `1rt_${BODY}` },
  // Length: every truncation, and one character too many of each kind
  ...Array.from({ length: KEY.length }, (_, n) => ({ family: 'truncated', name: `first ${n} characters`, value: KEY.slice(0, n) })),
  ...Array.from({ length: BODY.length }, (_, n) => ({ family: 'truncated', name: `body without character ${n}`, value: `${PREFIX}_${BODY.slice(0, n)}${BODY.slice(n + 1)}` })),
  ...['A', 'z', '0', '_', '-', '=', ' ', '\n', '\u0000', '\u200b'].map((c) => ({ family: 'extra characters', name: `key + ${JSON.stringify(c)}`, value: `${KEY}${c}` })),
  { family: 'extra characters', name: 'key twice', value: `${KEY}${KEY}` },
  { family: 'extra characters', name: 'key, comma, key (duplicate header)', value: `${KEY},${KEY}` },
  // Bad base62 and bad checksum at every position of the body
  ...Array.from({ length: BODY.length }, (_, i) => ({ family: 'bad base62', name: `'+' at body position ${i}`, value: `${PREFIX}_${replaceAt(BODY, i, '+')}` })),
  ...Array.from({ length: BODY.length }, (_, i) => ({ family: 'bad checksum', name: `one character changed at body position ${i}`, value: `${PREFIX}_${replaceAt(BODY, i, other(BODY[i]))}` })),
  { family: 'bad checksum', name: 'checksum of another body', value: `${PREFIX}_${BODY.slice(0, 43)}${checksumOf(`${PREFIX}_${'A'.repeat(43)}`)}` },
  { family: 'bad checksum', name: 'swapped neighbours', value: `${PREFIX}_${swapFirstDifferingNeighbours(BODY)}` },
  // Unicode look-alikes: each Latin letter of the key that has a Cyrillic twin, and fullwidth forms
  ...[...KEY].flatMap((c, i) => (CYRILLIC[c] ? [{ family: 'unicode look-alike', name: `Cyrillic ${c} at ${i}`, value: replaceAt(KEY, i, CYRILLIC[c]) }] : [])),
  { family: 'unicode look-alike', name: 'fullwidth key', value: [...KEY].map((c) => (c === '_' ? c : String.fromCodePoint(c.codePointAt(0)! + 0xfee0))).join('') },
  { family: 'unicode look-alike', name: 'zero-width joiner inside', value: `${KEY.slice(0, 10)}\u200d${KEY.slice(10)}` },
  { family: 'unicode look-alike', name: 'RTL override', value: `\u202e${KEY}` },
  { family: 'unicode look-alike', name: 'NFKC-decomposable underscore', value: KEY.replace('_', '\uff3f') },
  // Whitespace padding (a header value is trimmed by the authorizer, not by the verifier)
  ...[' ', '\t', '\n', '\r\n', '\u00a0', '\ufeff'].flatMap((w) => [
    { family: 'whitespace padding', name: `${JSON.stringify(w)} before`, value: `${w}${KEY}` },
    { family: 'whitespace padding', name: `${JSON.stringify(w)} after`, value: `${KEY}${w}` },
  ]),
  { family: 'whitespace padding', name: 'Bearer scheme left on', value: `Bearer ${KEY}` },
  // Huge and empty
  { family: 'huge', name: '16 KB', value: 'a'.repeat(16 * 1024) },
  { family: 'huge', name: '1 MB of a key repeated', value: KEY.repeat(Math.ceil((1024 * 1024) / KEY.length)) },
  { family: 'huge', name: 'key padded to 1 MB', value: KEY + ' '.repeat(1024 * 1024) },
  { family: 'empty', name: 'empty string', value: '' },
  // Non-strings (a caller that did not check its types)
  { family: 'non-string', name: 'Buffer of the key', value: Buffer.from(KEY) },
  { family: 'non-string', name: 'String object', value: new String(KEY) },
  { family: 'non-string', name: 'array with the key', value: [KEY] },
  { family: 'non-string', name: 'object whose toString is the key', value: { toString: () => KEY } },
  { family: 'non-string', name: 'symbol', value: Symbol(KEY) },
  { family: 'non-string', name: 'bigint', value: 10n ** 60n },
  { family: 'non-string', name: 'function', value: () => KEY },
  // Everything in the shared table
  // Everything in the shared table but the pasted key, which is well-formed (a key issued by no one: `unknown`).
  ...HOSTILE_VALUES.filter((h) => h.value !== PASTED_KEY).map((h) => ({ family: `hostile ${h.category}`, name: h.name, value: h.value })),
];

describe('every malformed shape → malformed, no store read', () => {
  it.each(shapes.map((s) => ({ ...s, title: `${s.family}: ${s.name}` })))('$title', async ({ value }) => {
    const { verifier, reads } = countingVerifier();
    await expect(verifier.verify(value)).resolves.toEqual({ accepted: false, reason: 'malformed' });
    expect(reads()).toBe(0);
    expect(verifier.lookups).toBe(0);
  });

  it('covers each family with many shapes', () => {
    const families = new Map<string, number>();
    for (const s of shapes) families.set(s.family, (families.get(s.family) ?? 0) + 1);
    for (const family of ['wrong prefix', 'truncated', 'extra characters', 'bad base62', 'bad checksum', 'unicode look-alike', 'whitespace padding', 'huge', 'empty', 'non-string']) {
      expect(families.get(family)).toBeGreaterThan(0);
    }
    expect(shapes.length).toBeGreaterThan(300);
  });
});

describe('the count can fail', () => {
  it('the valid key itself is accepted with exactly one read', async () => {
    const { verifier, reads } = countingVerifier();
    await expect(verifier.verify(KEY)).resolves.toMatchObject({ accepted: true });
    expect(reads()).toBe(1);
  });
});
