/**
 * Invariant 5 as one reusable check: a tap that collects everything a test run produced
 * (log lines, state I/O, execution events, SNS messages, EMF metric lines, DynamoDB items,
 * error messages, HTTP bodies, CLI output, report files), knows every plaintext key the run
 * could have leaked, and fails, naming the kind and source, if any key appears in it.
 *
 * What counts as a leak (a decision, see SECURITY.md). Every record is first normalised:
 * JSON/JS escapes (`\n`, `\uXXXX`, at any depth of escaping) and URL escapes (`%XX`, `%25XX`)
 * are decoded, then every character that is not a letter or a digit is dropped. What is left
 * is searched for fragments of each key, so a key broken by newlines, spaces, `-`, JSON
 * escaping or `<Buffer 6b 72 …>` byte separators is found as if it were whole:
 * - the key, or any 16 consecutive characters of its secret part (the 49 base62 characters
 *   after `<prefix>_`): a truncated or prefix-stripped key still hands out at least 95 bits
 *   of it. Shorter fragments (a "kr_AbCd…" hint) are allowed.
 * - base64 or base64url of the secret part, at any byte alignment (so the key inside a
 *   larger encoded blob, e.g. a `Bearer` header or a JSON document, is found too): any 16
 *   letters and digits of the encoding (at least 11 bytes of key material);
 * - hex of the secret part, either case (a Buffer dump, `util.inspect` of a Buffer): any 32
 *   hex digits (16 bytes); decimal bytes (`JSON.stringify` of a Buffer, `util.inspect` of a
 *   Uint8Array): any 40 digits;
 * - the same encodings of the key's 32 random bytes (the base62 entropy decoded, see
 *   lambdas/core/api-key.ts): they are the key, the base62 text is only their spelling.
 * Errors are recorded as `util.inspect` prints them: stack, own extra properties (`detail`,
 * `$response`…), `cause` and `errors`, as a logger or the Lambda runtime would print them.
 * A log stream (stdout, stderr) is also searched across consecutive lines, so a key printed
 * in pieces on several lines is found. Not covered: encryption, compression, other
 * encodings of the bytes (base32, latin1 text), or fragments shorter than the windows above.
 * The SHA-256 hash and the key id (`<prefix>_kid_<16 hex>`, a domain-separated SHA-256) are
 * one-way derivations and are meant to be stored and shown: they never match.
 */
import { isUtf8 } from 'node:buffer';
import { inspect, types } from 'node:util';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { KEY_ENTROPY_BYTES, KEY_ENTROPY_CHARS } from '../../lambdas/core/api-key';
import { scanTable } from './fixtures';
import { allPlaintextKeys } from './invariants';

/** Where a record came from. */
export const SourceKind = {
  LOG: 'log',
  METRIC: 'metric',
  STATE_INPUT: 'state-input',
  STATE_OUTPUT: 'state-output',
  EXECUTION_EVENT: 'execution-event',
  SNS_MESSAGE: 'sns-message',
  DYNAMODB_ITEM: 'dynamodb-item',
  ERROR: 'error',
  HTTP_BODY: 'http-body',
  CLI_OUTPUT: 'cli-output',
  REPORT: 'report',
  OTHER: 'other',
} as const;
export type SourceKind = (typeof SourceKind)[keyof typeof SourceKind];

/** One thing a test run produced. */
export interface TapRecord {
  readonly kind: SourceKind;
  readonly source: string;
  readonly text: string;
}

/**
 * How a key appeared: the key's text (`plaintext`, `secret-part`), an encoding of its text
 * (`base64` either alphabet, `hex` either case, `decimal` bytes), or an encoding of its 32
 * random bytes (`raw-…`).
 */
export type LeakForm = 'plaintext' | 'secret-part' | 'base64' | 'hex' | 'decimal' | 'raw-base64' | 'raw-hex' | 'raw-decimal';

/** One key found in one record; `excerpt` has the match masked, so a failure never prints a key. */
export interface Leak {
  readonly kind: SourceKind;
  readonly source: string;
  readonly form: LeakForm;
  /** True when separators (spaces, newlines, escapes, record breaks) ran through the match. */
  readonly split: boolean;
  readonly excerpt: string;
}

/** What a check scanned (for reports: `KEYROLL_TAP_STATS=1` prints it). */
export interface TapStats {
  readonly records: number;
  readonly characters: number;
  readonly keys: number;
  readonly byKind: Partial<Record<SourceKind, number>>;
}

/** Letters and digits of the secret part (or of its base64) that make a fragment a leak. */
const TEXT_WINDOW = 16;
/** Hex digits (16 bytes) that make a hex fragment a leak. */
const HEX_WINDOW = 32;
/** Decimal digits (at least 14 bytes) that make a decimal byte list a leak. */
const DECIMAL_WINDOW = 40;
/** The longest window: a log stream carries this many characters minus one across lines. */
const MAX_WINDOW = Math.max(TEXT_WINDOW, HEX_WINDOW, DECIMAL_WINDOW);
/** Every fragment is found by its first PREFIX characters (the shortest window). */
const PREFIX = TEXT_WINDOW;
/** util.inspect as a logger prints an error, without its truncation of long values. */
const INSPECT = { depth: 8, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity } as const;

/** The part of a key that is secret: everything after the first `_` (or the whole string). */
export function secretPartOf(key: string): string {
  const separator = key.indexOf('_');
  return separator >= 0 ? key.slice(separator + 1) : key;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * The random bytes a key was made from (generateApiKey encodes 32 CSPRNG bytes, big-endian,
 * as the first 43 base62 characters of the secret part), or undefined for a value that does
 * not have that shape (a test's own made-up key).
 */
export function entropyBytesOf(key: string): Buffer | undefined {
  const entropy = secretPartOf(key).slice(0, KEY_ENTROPY_CHARS);
  if (!new RegExp(`^[0-9A-Za-z]{${KEY_ENTROPY_CHARS}}$`).test(entropy)) return undefined;
  let value = 0n;
  for (const char of entropy) value = value * 62n + BigInt(BASE62.indexOf(char));
  if (value >> BigInt(8 * KEY_ENTROPY_BYTES) !== 0n) return undefined;
  return Buffer.from(value.toString(16).padStart(2 * KEY_ENTROPY_BYTES, '0'), 'hex');
}

/** The base64 characters that depend only on `bytes`, whatever precedes them (alignments 0, 1, 2). */
function alignedBase64(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    const firstGroup = Math.ceil(pad / 3);
    const endGroup = Math.floor((pad + bytes.length) / 3);
    out.push(encoded.slice(4 * firstGroup, 4 * endGroup));
  }
  return out;
}

/** What normalisation keeps of an encoding: its letters and digits. */
const alphanumeric = (text: string) => text.replace(/[^0-9A-Za-z]/g, '');

function windows(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i++) out.push(text.slice(i, i + size));
  return out;
}

/** Every fragment of `bytes` in each encoding, as normalised text (letters and digits). */
function encodedFragments(bytes: Buffer, forms: { base64: LeakForm; hex: LeakForm; decimal: LeakForm }): [string[], LeakForm][] {
  const hex = bytes.toString('hex');
  return [
    // base64 and base64url differ only in `+/` vs `-_`, which normalisation drops.
    [alignedBase64(bytes).flatMap((encoded) => windows(alphanumeric(encoded), TEXT_WINDOW)), forms.base64],
    [[...windows(hex, HEX_WINDOW), ...windows(hex.toUpperCase(), HEX_WINDOW)], forms.hex],
    [windows([...bytes].join(''), DECIMAL_WINDOW), forms.decimal],
  ];
}

/** Splits a stdout/stderr chunk into lines, EMF (Powertools Metrics) lines as metrics. */
function stdioRecords(source: string, text: string): TapRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => ({ kind: line.includes('"_aws"') ? SourceKind.METRIC : SourceKind.LOG, source, text: line }));
}

/** The kind a workflow-runner source name stands for (`<State> input`, `event X`, `stdout`...). */
export function inferKind(source: string): SourceKind {
  if (source.startsWith('event ')) return SourceKind.EXECUTION_EVENT;
  if (source.endsWith(' input')) return SourceKind.STATE_INPUT;
  if (source.endsWith(' output')) return SourceKind.STATE_OUTPUT;
  if (source.endsWith(' error')) return SourceKind.ERROR;
  if (source.startsWith('sns')) return SourceKind.SNS_MESSAGE;
  if (source.startsWith('dynamodb')) return SourceKind.DYNAMODB_ITEM;
  if (source === 'stdout' || source === 'stderr' || source.startsWith('console.')) return SourceKind.LOG;
  return SourceKind.OTHER;
}

// eslint-disable-next-line @typescript-eslint/no-deprecated -- Error.isError (its replacement) is not in the ES2023 lib this tree compiles against
const isError = (value: unknown): value is Error => value instanceof Error || types.isNativeError(value);

/**
 * The text a value stands for. Errors as util.inspect prints them (own extra properties and
 * `cause` included: `JSON.stringify(error)` is `{}` and a template string drops both), also
 * inside objects; bytes as text, or as hex when they are not UTF-8.
 */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return isUtf8(bytes) ? bytes.toString('utf8') : bytes.toString('hex');
  }
  if (isError(value)) return inspect(value, INSPECT);
  try {
    const json = JSON.stringify(value, (_key, v: unknown) => (isError(v) ? inspect(v, INSPECT) : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
    if (json !== undefined) return json;
  } catch {
    // BigInt or a cycle: util.inspect prints both
  }
  return inspect(value, INSPECT);
}

/** A record's letters and digits, escapes decoded. */
interface Normalised {
  readonly codes: Uint16Array;
  readonly length: number;
}

const isAlphanumeric = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const hexValue = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);
const BACKSLASH = 92;
const PERCENT = 37;
const U = 117;
/** Letters that follow a backslash in a separator escape (`\n`, `\t`...): dropped with it. */
const ESCAPE_LETTER = new Uint8Array(128);
for (const c of 'nrtbfv0') ESCAPE_LETTER[c.charCodeAt(0)] = 1;

/** Reused between records (the scan is synchronous): no allocation per record. */
let scratch = new Uint16Array(1 << 16);

/**
 * Normalises `text` (see the module comment). With `spans`, also records where each kept
 * character came from (`from[i]`..`to[i]` in the text): only needed to mask a match.
 */
function normalise(text: string, spans?: { from: number[]; to: number[] }): Normalised {
  const n = text.length;
  if (scratch.length < n) scratch = new Uint16Array(Math.max(n, 2 * scratch.length));
  const codes = scratch;
  let length = 0;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    let code = c;
    let next = i + 1;
    if (c === BACKSLASH) {
      // Any depth of escaping: `\n`, `\\n`, `\\\\u0041`...
      let j = i;
      while (j < n && text.charCodeAt(j) === BACKSLASH) j++;
      const after = j < n ? text.charCodeAt(j) : -1;
      code = -1;
      next = j;
      if (after === U && j + 4 < n) {
        const h0 = hexValue(text.charCodeAt(j + 1));
        const h1 = hexValue(text.charCodeAt(j + 2));
        const h2 = hexValue(text.charCodeAt(j + 3));
        const h3 = hexValue(text.charCodeAt(j + 4));
        if ((h0 | h1 | h2 | h3) >= 0) {
          code = ((h0 * 16 + h1) * 16 + h2) * 16 + h3;
          next = j + 5;
        }
      } else if (after >= 0 && after < 128 && ESCAPE_LETTER[after]) next = j + 1;
    } else if (c === PERCENT) {
      // `%41`, and `%2541` (encoded twice): a decoded `%` starts the next escape.
      let j = i;
      code = -1;
      while (j + 2 < n && hexValue(text.charCodeAt(j + 1)) >= 0 && hexValue(text.charCodeAt(j + 2)) >= 0) {
        const decoded = hexValue(text.charCodeAt(j + 1)) * 16 + hexValue(text.charCodeAt(j + 2));
        if (decoded !== PERCENT) {
          code = decoded;
          j += 3;
          break;
        }
        j += 2;
      }
      if (code >= 0) next = j;
    }
    if (code >= 0 && isAlphanumeric(code)) {
      if (spans) {
        spans.from[length] = i;
        spans.to[length] = next;
      }
      codes[length++] = code;
    }
    i = next;
  }
  return { codes, length };
}

/** A fragment of a key's normalised encoded form that is a leak wherever it appears. */
interface Fragment {
  readonly text: string;
  readonly key: string;
  readonly form: LeakForm;
}

/** A fragment found at `at` in a normalised record, and the end of the run of fragments from there. */
interface Hit {
  readonly fragment: Fragment;
  readonly at: number;
  readonly end: number;
}

/** Collects what a run produced and fails on any plaintext key in it. */
export class SecretTap {
  readonly records: TapRecord[] = [];
  private readonly keys = new Set<string>();
  /** Rolling hash of a fragment's first PREFIX characters → the fragments with that hash. */
  private readonly fragments = new Map<number, Fragment[]>();
  /** One bit per hash (low 24 bits), set for every fragment: most positions end at this test. */
  private readonly seen = new Uint8Array(1 << 21);

  /**
   * Records `value` (a string, bytes, an Error, or anything JSON). Without a kind, it is
   * inferred from `source` (the workflow runner's names); stdout/stderr text is split into
   * lines and EMF lines are recorded as metrics.
   */
  add(source: string, value: unknown, kind: SourceKind = inferKind(source)): void {
    const text = textOf(value);
    if (kind === SourceKind.LOG) this.records.push(...stdioRecords(source, text));
    else this.records.push({ kind, source, text });
  }

  /** Records every item (e.g. a table scan) as a DynamoDB item. */
  addItems(source: string, items: readonly Record<string, unknown>[]): void {
    for (const item of items) this.add(`${source} ${String(item.pk ?? '')}/${String(item.sk ?? '')}`, item, SourceKind.DYNAMODB_ITEM);
  }

  /** Adds keys the check must look for (e.g. a key the test generated itself). */
  addKeys(keys: Iterable<string>): void {
    for (const key of keys) {
      if (!key || this.keys.has(key)) continue;
      this.keys.add(key);
      const secret = secretPartOf(key);
      const add = (fragments: string[], form: LeakForm) => {
        for (const fragment of fragments) {
          const hash = rollingHash(fragment, PREFIX) & SMI_MASK;
          this.seen[(hash & 0xffffff) >> 3] |= 1 << (hash & 7);
          const bucket = this.fragments.get(hash) ?? [];
          if (!bucket.some((f) => f.text === fragment)) bucket.push({ text: fragment, key, form });
          this.fragments.set(hash, bucket);
        }
      };
      add(windows(alphanumeric(secret), TEXT_WINDOW), 'secret-part');
      for (const [fragments, form] of encodedFragments(Buffer.from(secret, 'utf8'), { base64: 'base64', hex: 'hex', decimal: 'decimal' })) add(fragments, form);
      const raw = entropyBytesOf(key);
      if (raw) for (const [fragments, form] of encodedFragments(raw, { base64: 'raw-base64', hex: 'raw-hex', decimal: 'raw-decimal' })) add(fragments, form);
    }
  }

  /** Adds every version ever stored (deprecated ones too) of each secret. */
  async addKeysFromSecrets(secretIds: Iterable<string>): Promise<void> {
    for (const id of secretIds) this.addKeys(await allPlaintextKeys(id));
  }

  /** Adds every version of every secret whose name starts with `namePrefix`. */
  async addKeysUnderPrefix(namePrefix: string): Promise<void> {
    await this.addKeysFromSecrets(await secretNamesUnder(namePrefix));
  }

  /**
   * What a run left in storage: every item of the table (recorded as DynamoDB items) and
   * every key ever held by a secret under the name prefix (learned as keys to look for).
   */
  async addStore(store: { tableName: string; secretNamePrefix: string }): Promise<void> {
    this.addItems('dynamodb', await scanTable(store.tableName));
    await this.addKeysUnderPrefix(store.secretNamePrefix);
  }

  /** How many distinct keys the check looks for. */
  get keyCount(): number {
    return this.keys.size;
  }

  /**
   * Every leak in the records (each record reported once, with its first match), then every
   * key split across consecutive lines of one log stream (stdout, stderr).
   */
  leaks(): Leak[] {
    const found: Leak[] = [];
    /** Per log stream: the last MAX_WINDOW - 1 normalised characters so far. */
    const tails = new Map<string, string>();
    const splitKeys = new Map<string, string | undefined>();
    for (const record of this.records) {
      const normalised = normalise(record.text);
      const hit = this.scan(normalised);
      if (hit) found.push({ kind: record.kind, source: record.source, ...this.describe(record.text, hit) });
      if (record.kind !== SourceKind.LOG && record.kind !== SourceKind.METRIC) continue;
      const { codes, length } = normalised;
      const head = String.fromCharCode(...codes.subarray(0, Math.min(length, MAX_WINDOW - 1)));
      const last = String.fromCharCode(...codes.subarray(Math.max(0, length - (MAX_WINDOW - 1)), length));
      const tail = tails.get(record.source) ?? '';
      // Only a window that starts in an earlier line and ends in this one: the rest was seen.
      const across = tail.length > 0 && !hit ? this.scan(normalise(tail + head), tail.length) : undefined;
      // One leak per run of lines that carry the same key across their breaks.
      if (across && splitKeys.get(record.source) !== across.fragment.key) {
        found.push({ kind: record.kind, source: `${record.source} (across lines)`, form: across.fragment.form, split: true, excerpt: '<KEY MATERIAL split across lines>' });
      }
      splitKeys.set(record.source, across?.fragment.key);
      tails.set(record.source, (tail + last).slice(-(MAX_WINDOW - 1)));
    }
    return found;
  }

  /** What the records amount to. */
  stats(): TapStats {
    const byKind: Partial<Record<SourceKind, number>> = {};
    for (const r of this.records) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
    return { records: this.records.length, characters: this.records.reduce((n, r) => n + r.text.length, 0), keys: this.keys.size, byKind };
  }

  /**
   * Fails (listing kind, source, form and a masked excerpt) if any known key appears in
   * any record. Also fails when the check would pass vacuously: no key known, fewer
   * records than `minRecords`, or no record of a kind listed in `kinds`.
   */
  expectNoPlaintext(options: { minRecords?: number; kinds?: readonly SourceKind[] } = {}): TapStats {
    const stats = this.stats();
    if (process.env.KEYROLL_TAP_STATS) process.stderr.write(`secret tap: ${JSON.stringify(stats)}\n`);
    if (stats.keys === 0) throw new Error('Secret tap: no plaintext key known, the check would pass vacuously.');
    if (stats.records < (options.minRecords ?? 1)) throw new Error(`Secret tap: ${stats.records} records, expected at least ${options.minRecords ?? 1}.`);
    const missing = (options.kinds ?? []).filter((kind) => !stats.byKind[kind]);
    if (missing.length > 0) throw new Error(`Secret tap: no record of kind ${missing.join(', ')} was collected (have ${Object.keys(stats.byKind).join(', ')}).`);
    const leaks = this.leaks();
    if (leaks.length > 0) {
      const lines = leaks.slice(0, 20).map((l) => `  [${l.kind}] ${l.source} (${l.form}${l.split ? ', split' : ''}): ${l.excerpt}`);
      throw new Error(`Plaintext key material in ${leaks.length} of ${stats.records} records:\n${lines.join('\n')}`);
    }
    return stats;
  }

  /** The form and masked excerpt of a hit; the whole run of key material is masked. */
  private describe(text: string, hit: Hit): Pick<Leak, 'form' | 'split' | 'excerpt'> {
    const spans = { from: [] as number[], to: [] as number[] };
    normalise(text, spans);
    const start = spans.from[hit.at];
    const end = spans.to[hit.end - 1];
    const split = end - start !== hit.end - hit.at;
    if (hit.fragment.form === 'secret-part') {
      const whole = text.indexOf(hit.fragment.key);
      const [first, last] = [Math.min(start, whole), Math.max(end, whole + hit.fragment.key.length)];
      if (whole >= 0) return { form: 'plaintext', split: false, excerpt: mask(text, first, last - first) };
    }
    return { form: hit.fragment.form, split, excerpt: mask(text, start, end - start) };
  }

  /** The fragment that starts at `i` in `codes`, if any. */
  private fragmentAt({ codes, length }: Normalised, i: number): Fragment | undefined {
    if (i + PREFIX > length) return undefined;
    return this.fragments.get(rollingHash(codes, PREFIX, i) & SMI_MASK)?.find((f) => i + f.text.length <= length && matches(codes, i, f.text));
  }

  /**
   * One pass over the normalised record with a rolling hash of PREFIX characters, comparing
   * fragments only on a hash hit: linear in the text, whatever the number of keys. With
   * `crossing`, only a fragment that starts before it and ends after it counts.
   */
  private scan(normalised: Normalised, crossing?: number): Hit | undefined {
    const { codes, length } = normalised;
    if (length < PREFIX) return undefined;
    const first = crossing === undefined ? 0 : Math.max(0, crossing - MAX_WINDOW + 1);
    const last = Math.min(length - PREFIX, crossing === undefined ? length : crossing - 1);
    const drop = power(PREFIX - 1);
    const seen = this.seen;
    let hash = rollingHash(codes, PREFIX, first);
    for (let i = first; i <= last; i++) {
      if (i > first) hash = (Math.imul(hash - Math.imul(codes[i - 1], drop), HASH_BASE) + codes[i + PREFIX - 1]) | 0;
      if (!(seen[(hash & 0xffffff) >> 3] & (1 << (hash & 7)))) continue;
      const fragment = this.fragments.get(hash & SMI_MASK)?.find((f) => i + f.text.length <= length && (crossing === undefined || i + f.text.length > crossing) && matches(codes, i, f.text));
      if (!fragment) continue;
      // Mask the whole run of key material, not only the first fragment of it.
      let end = i + fragment.text.length;
      for (let k = i + 1; k < end; k++) {
        const next = this.fragmentAt(normalised, k);
        if (next?.key === fragment.key) end = Math.max(end, k + next.text.length);
      }
      return { fragment, at: i, end };
    }
    return undefined;
  }
}

function matches(codes: Uint16Array, at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (codes[at + k] !== text.charCodeAt(k)) return false;
  return true;
}

const HASH_BASE = 131;
/** Map keys stay small integers (V8 Smis): a heap-number key makes every lookup slow. */
const SMI_MASK = 0x3fffffff;

/** Polynomial hash (int32, mod 2^32) of `size` characters of `text` from `from`. */
function rollingHash(text: string | Uint16Array, size: number, from = 0): number {
  let hash = 0;
  if (typeof text === 'string') for (let i = from; i < from + size; i++) hash = (Math.imul(hash, HASH_BASE) + text.charCodeAt(i)) | 0;
  else for (let i = from; i < from + size; i++) hash = (Math.imul(hash, HASH_BASE) + text[i]) | 0;
  return hash;
}

/** HASH_BASE^n mod 2^32. */
function power(n: number): number {
  let result = 1;
  for (let i = 0; i < n; i++) result = Math.imul(result, HASH_BASE);
  return result;
}

/** Up to 40 characters either side of a match, the match itself replaced. */
function mask(text: string, at: number, length: number): string {
  return `${text.slice(Math.max(0, at - 40), at)}<KEY MATERIAL ×${length}>${text.slice(at + length, at + length + 40)}`;
}

/** Names of the secrets under a name prefix. */
export async function secretNamesUnder(namePrefix: string): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await secretsManagerClient().send(new ListSecretsCommand({ NextToken: token, Filters: [{ Key: 'name', Values: [namePrefix] }] }));
    names.push(...(page.SecretList ?? []).map((s) => s.Name!).filter((name) => name.startsWith(namePrefix)));
    token = page.NextToken;
  } while (token);
  return names;
}

/** A recorded topic (test/support/fixtures.ts) whose drained messages also go to the tap. */
export function tapTopic<T extends { drain(): Promise<readonly unknown[]> }>(tap: SecretTap, topic: T, name = 'topic'): T {
  return {
    ...topic,
    async drain() {
      const messages = await topic.drain();
      for (const message of messages) tap.add(`sns ${name}`, message, SourceKind.SNS_MESSAGE);
      return messages;
    },
  };
}

/**
 * Routes process.stdout/stderr writes into the tap (EMF lines as metrics, the rest as log
 * lines) until the returned function is called. `passThrough` still prints non-JSON text.
 */
export function captureStdio(tap: SecretTap, options: { passThrough?: boolean } = {}): () => void {
  const original = { out: process.stdout.write, err: process.stderr.write };
  const capture = (source: 'stdout' | 'stderr', write: typeof process.stdout.write, stream: NodeJS.WriteStream) =>
    ((chunk: unknown, ...rest: unknown[]) => {
      const text = textOf(chunk);
      tap.add(source, text, SourceKind.LOG);
      if (options.passThrough && !text.startsWith('{')) return write.call(stream, chunk as never, ...(rest as []));
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout', original.out, process.stdout);
  process.stderr.write = capture('stderr', original.err, process.stderr);
  return () => {
    process.stdout.write = original.out;
    process.stderr.write = original.err;
  };
}
