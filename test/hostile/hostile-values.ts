/**
 * One table of hostile values, shared by every hostile-input test: wrong types, empty and
 * blank text, huge text, tricky unicode, injection-like text, and hostile field names.
 *
 * Each value carries hand-written facts that the tests use as their oracle (whether it is a
 * string at all, whether it is one line of printable text, whether it is a plain token), so
 * that an expectation never comes from the production code's own regular expressions.
 */

/** What kind of hostility a value represents (for reports and representative subsets). */
export type HostileCategory = 'type' | 'empty' | 'huge' | 'unicode' | 'injection' | 'number';

/** A hostile value and the facts the tests judge it by. */
export interface HostileValue {
  /** Short, unique, printable name (test titles). */
  readonly name: string;
  readonly category: HostileCategory;
  readonly value: unknown;
  /**
   * A string that is one line of printable text after trimming (no control, format, line or
   * paragraph separator character) and not blank: acceptable where free text (a reason, an
   * actor) is allowed, if it is short enough.
   */
  readonly printable?: boolean;
  /** Only [A-Za-z0-9._-], starting with a letter or digit, 1-64 characters: a well-formed id. */
  readonly plainId?: boolean;
  /** 32-64 characters of [A-Za-z0-9_-]: shaped like a rotation id (execution name, ClientRequestToken). */
  readonly rotationIdShaped?: boolean;
  /** A well-formed API key (valid checksum): never acceptable outside Secrets Manager and the client. */
  readonly apiKey?: boolean;
  /** A letter, then letters, digits or hyphens, at most 128: a valid CloudFormation stack name. */
  readonly stackName?: boolean;
}

import { generateApiKey } from '../../lambdas/core/api-key';

const KB = 1024;
/** Key-shaped text with a wrong checksum: not a key, so as harmless as any other id. */
export const KEY_LOOK_ALIKE = `krt_${'A1b2C3d4E5'.repeat(4)}abc123XYZ`;
/** A well-formed key (valid checksum, issued by no one) as an operator might paste it by mistake. */
export const PASTED_KEY = generateApiKey('krt');

/** Strings only: what a command line, a header or a JSON string field can carry. */
export const HOSTILE_STRINGS: readonly HostileValue[] = [
  { name: 'empty string', category: 'empty', value: '' },
  { name: 'one space', category: 'empty', value: ' ' },
  { name: 'whitespace mix', category: 'empty', value: ' \t\n\r ' },
  { name: 'non-breaking spaces', category: 'empty', value: '\u00a0\u2007\u202f' },
  { name: '10 KB of a', category: 'huge', value: 'a'.repeat(10 * KB), printable: true },
  { name: '1 MB of a', category: 'huge', value: 'a'.repeat(KB * KB), printable: true },
  { name: '600 printable chars', category: 'huge', value: 'reason '.repeat(86).trim(), printable: true },
  { name: 'RTL override', category: 'unicode', value: 'acme\u202Egnp.exe' },
  { name: 'zero-width joiner', category: 'unicode', value: 'ac\u200Dme' },
  { name: 'zero-width space', category: 'unicode', value: 'acme\u200B' },
  { name: 'emoji', category: 'unicode', value: 'rotate 🔑🔥', printable: true },
  { name: 'NUL byte', category: 'unicode', value: 'acme\u0000payments' },
  { name: 'lone high surrogate', category: 'unicode', value: 'acme\uD800' },
  { name: 'lone low surrogate', category: 'unicode', value: '\uDC00acme' },
  { name: 'Cyrillic homoglyph', category: 'unicode', value: '\u0430cme-payments', printable: true },
  { name: 'fullwidth letters', category: 'unicode', value: 'ａｃｍｅ', printable: true },
  // JavaScript's trim() removes a BOM (it is whitespace there): what is left is printable.
  { name: 'BOM', category: 'unicode', value: '\uFEFFacme', printable: true },
  { name: 'line separator', category: 'unicode', value: 'acme\u2028[ERROR] forged' },
  { name: 'combining marks', category: 'unicode', value: 'a\u0301\u0302\u0303cme', printable: true },
  { name: 'SQL injection', category: 'injection', value: "x' OR 1=1 --", printable: true },
  { name: 'SQL drop', category: 'injection', value: 'acme; DROP TABLE keys;--', printable: true },
  { name: 'shell substitution', category: 'injection', value: '$(rm -rf /)', printable: true },
  { name: 'shell backticks', category: 'injection', value: '`id`', printable: true },
  { name: 'shell separator', category: 'injection', value: 'acme; ls', printable: true },
  { name: 'path traversal', category: 'injection', value: '../../etc/passwd', printable: true },
  { name: 'dot dot', category: 'injection', value: '..', printable: true },
  { name: 'JSONPath', category: 'injection', value: '$.x', printable: true },
  { name: 'JSONPath root', category: 'injection', value: '$', printable: true },
  { name: 'log forging newline', category: 'injection', value: 'ok\n[ERROR] rotation failed for acme' },
  { name: 'log forging CRLF', category: 'injection', value: 'ok\r\n{"level":"ERROR","message":"forged"}' },
  { name: 'ANSI escape', category: 'injection', value: '\u001b[31mred\u001b[0m' },
  { name: 'ARN-looking', category: 'injection', value: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:acme', printable: true },
  { name: 'template literal', category: 'injection', value: '${process.env.AWS_SECRET_ACCESS_KEY}', printable: true },
  { name: 'States intrinsic', category: 'injection', value: "States.Format('{}', $.x)", printable: true },
  { name: 'HTML/script', category: 'injection', value: '<script>alert(1)</script>', printable: true },
  { name: 'format string', category: 'injection', value: '%s%s%n%x', printable: true },
  { name: 'JSON in a string', category: 'injection', value: '{"clientId":"other"}', printable: true },
  { name: 'option-looking', category: 'injection', value: '--emergency', printable: true },
  { name: 'option with value', category: 'injection', value: '--reason=x', printable: true },
  { name: '__proto__', category: 'injection', value: '__proto__', printable: true },
  { name: 'constructor', category: 'injection', value: 'constructor', printable: true, plainId: true, stackName: true },
  { name: 'key look-alike', category: 'injection', value: KEY_LOOK_ALIKE, printable: true, plainId: true, rotationIdShaped: true },
  { name: 'pasted API key', category: 'injection', value: PASTED_KEY, printable: true, plainId: true, rotationIdShaped: true, apiKey: true },
  { name: 'pasted API key in prose', category: 'injection', value: `leaked ${PASTED_KEY} in a gist`, printable: true, apiKey: true },
];

/** Values no JSON string field should take: wrong types, odd numbers. */
export const HOSTILE_NON_STRINGS: readonly HostileValue[] = [
  { name: 'undefined', category: 'type', value: undefined },
  { name: 'null', category: 'type', value: null },
  { name: 'true', category: 'type', value: true },
  { name: 'false', category: 'type', value: false },
  { name: 'number 0', category: 'number', value: 0 },
  { name: 'number 42', category: 'number', value: 42 },
  { name: 'negative', category: 'number', value: -3600 },
  { name: 'fraction', category: 'number', value: 3600.5 },
  { name: 'NaN', category: 'number', value: Number.NaN },
  { name: 'Infinity', category: 'number', value: Number.POSITIVE_INFINITY },
  { name: '1e308', category: 'number', value: 1e308 },
  { name: 'beyond safe integer', category: 'number', value: Number.MAX_SAFE_INTEGER + 2 },
  { name: 'empty array', category: 'type', value: [] },
  { name: 'array of a string', category: 'type', value: ['acme'] },
  { name: 'empty object', category: 'type', value: {} },
  { name: 'object with toString', category: 'type', value: { toString: () => 'acme' } },
  { name: 'JSON __proto__ object', category: 'type', value: JSON.parse('{"__proto__":{"polluted":true}}') as unknown },
];

/** Every hostile value. */
export const HOSTILE_VALUES: readonly HostileValue[] = [...HOSTILE_STRINGS, ...HOSTILE_NON_STRINGS];

/** Field names an attacker may add to a JSON object (own properties, including `__proto__`). */
export const HOSTILE_FIELD_NAMES: readonly string[] = [
  'apiKey',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '',
  ' ',
  'clientid',
  'clientId ',
  'x'.repeat(10 * KB),
  'a\n[ERROR] forged',
  '$.clientId',
  PASTED_KEY,
  '\u202Eeman',
];

/** `base` with `field` set to `value` as an own property (so `__proto__` stays data, not a prototype). */
export function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...base };
  if (value === undefined) {
    delete copy[field];
    return copy;
  }
  Object.defineProperty(copy, field, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Control, format, line and paragraph separator characters: what makes a log line lie. */
const FORGING = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Why a message that describes hostile input is unsafe, or undefined when it is safe: one
 * line of printable text, bounded, and not echoing the value (a plain token may appear: it
 * can neither forge a log line nor be anything but an id).
 */
export function unsafeMessage(message: string, hostile: unknown): string | undefined {
  if (FORGING.test(message)) return 'contains a control/format/separator character';
  if (message.length > 2000) return `is ${message.length} characters long`;
  if (typeof hostile === 'string') {
    // The value, or what is left after trimming, unless that is a plain token (`clientId ` trims to a field name).
    const echoable = [hostile, hostile.trim()].filter((text) => text.length >= 4 && !/^[A-Za-z0-9._-]+$/.test(text));
    if (echoable.some((text) => message.includes(text))) return 'echoes the hostile value';
  }
  return undefined;
}

/** A short printable description of a value (for failure messages; never the value itself when huge). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `string(${value.length})` : JSON.stringify(value);
  if (typeof value === 'number') return String(value);
  return Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
}
