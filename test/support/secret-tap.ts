/**
 * Invariant 5 as one reusable check: a tap that collects everything a test run produced
 * (log lines, state I/O, execution events, SNS messages, EMF metric lines, DynamoDB items,
 * error messages, HTTP bodies, CLI output, report files), knows every plaintext key the run
 * could have leaked, and fails, naming the kind and source, if any key appears in it.
 *
 * What counts as a leak (a decision, see SECURITY.md):
 * - the key itself, or any 16 consecutive characters of its secret part (the 49 base62
 *   characters after `<prefix>_`): a truncated or prefix-stripped key still hands out
 *   at least 95 bits of it. Shorter fragments (a "kr_AbCd…" hint) are allowed.
 * - base64 and base64url of the secret part, at any byte alignment (so the key inside a
 *   larger encoded blob, e.g. a `Bearer` header or a JSON document, is found too): any
 *   16 characters of the encoding (12 bytes of key material);
 * - lowercase hex of the secret part (a Buffer dump): any 32 hex characters (16 bytes).
 * JSON escaping, URL encoding and double-JSON encoding leave base62 and `_` unchanged, so
 * the plain match covers them. Not covered: a key split across two records (stdout
 * chunks), encryption or compression, `\uXXXX` escapes of plain ASCII. The SHA-256 hash
 * and the key id are one-way derivations and are meant to be stored and shown.
 */
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lambdas/aws/clients';
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

/** How a key appeared. */
export type LeakForm = 'plaintext' | 'secret-part' | 'base64' | 'base64url' | 'hex';

/** One key found in one record; `excerpt` has the match masked, so a failure never prints a key. */
export interface Leak {
  readonly kind: SourceKind;
  readonly source: string;
  readonly form: LeakForm;
  readonly excerpt: string;
}

/** What a check scanned (for reports: `KEYROLL_TAP_STATS=1` prints it). */
export interface TapStats {
  readonly records: number;
  readonly characters: number;
  readonly keys: number;
  readonly byKind: Partial<Record<SourceKind, number>>;
}

/** Characters of the secret part (or of its base64) that make a fragment a leak. */
const RAW_WINDOW = 16;
/** Hex characters (16 bytes of the secret part) that make a hex fragment a leak. */
const HEX_WINDOW = 32;
/** Characters any encoded form is made of: runs of anything else can be skipped. */
const ENCODED_RUN = /[0-9A-Za-z+/_=-]+/g;

/** The part of a key that is secret: everything after the first `_` (or the whole string). */
export function secretPartOf(key: string): string {
  const separator = key.indexOf('_');
  return separator >= 0 ? key.slice(separator + 1) : key;
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

function windows(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i++) out.push(text.slice(i, i + size));
  return out;
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

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (value instanceof Error) return `${value.name}: ${value.message}${value.cause === undefined ? '' : ` (cause: ${textOf(value.cause)})`}`;
  return JSON.stringify(value) ?? 'undefined';
}

/** Collects what a run produced and fails on any plaintext key in it. */
export class SecretTap {
  readonly records: TapRecord[] = [];
  private readonly keys = new Set<string>();
  /** Fragment length → rolling hash of a fragment → the fragments with that hash. */
  private readonly fragments = new Map<number, Map<number, Fragment[]>>();
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
    for (const item of items) this.add(`${source} ${String(item['pk'] ?? '')}/${String(item['sk'] ?? '')}`, item, SourceKind.DYNAMODB_ITEM);
  }

  /** Adds keys the check must look for (e.g. a key the test generated itself). */
  addKeys(keys: Iterable<string>): void {
    for (const key of keys) {
      if (!key || this.keys.has(key)) continue;
      this.keys.add(key);
      const secret = secretPartOf(key);
      const bytes = Buffer.from(secret, 'utf8');
      const add = (size: number, fragments: string[], form: LeakForm) => {
        let map = this.fragments.get(size);
        if (!map) this.fragments.set(size, (map = new Map()));
        for (const fragment of fragments) {
          const hash = rollingHash(fragment, 0, size) & SMI_MASK;
          this.seen[(hash & 0xffffff) >> 3]! |= 1 << (hash & 7);
          const bucket = map.get(hash) ?? [];
          if (!bucket.some((f) => f.text === fragment)) bucket.push({ text: fragment, key, form });
          map.set(hash, bucket);
        }
      };
      add(RAW_WINDOW, windows(secret, RAW_WINDOW), 'secret-part');
      for (const encoded of alignedBase64(bytes)) {
        add(RAW_WINDOW, windows(encoded, RAW_WINDOW), 'base64');
        add(RAW_WINDOW, windows(encoded.replace(/\+/g, '-').replace(/\//g, '_'), RAW_WINDOW), 'base64url');
      }
      add(HEX_WINDOW, windows(bytes.toString('hex'), HEX_WINDOW), 'hex');
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

  /** Every leak in the records (each record reported once, with its first match). */
  leaks(): Leak[] {
    const found: Leak[] = [];
    for (const record of this.records) {
      const leak = this.scan(record.text);
      if (leak) found.push({ kind: record.kind, source: record.source, ...leak });
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
    if (process.env['KEYROLL_TAP_STATS']) process.stderr.write(`secret tap: ${JSON.stringify(stats)}\n`);
    if (stats.keys === 0) throw new Error('Secret tap: no plaintext key known, the check would pass vacuously.');
    if (stats.records < (options.minRecords ?? 1)) throw new Error(`Secret tap: ${stats.records} records, expected at least ${options.minRecords ?? 1}.`);
    const missing = (options.kinds ?? []).filter((kind) => !stats.byKind[kind]);
    if (missing.length > 0) throw new Error(`Secret tap: no record of kind ${missing.join(', ')} was collected (have ${Object.keys(stats.byKind).join(', ')}).`);
    const leaks = this.leaks();
    if (leaks.length > 0) {
      const lines = leaks.slice(0, 20).map((l) => `  [${l.kind}] ${l.source} (${l.form}): ${l.excerpt}`);
      throw new Error(`Plaintext key material in ${leaks.length} of ${stats.records} records:\n${lines.join('\n')}`);
    }
    return stats;
  }

  /**
   * One pass over the runs of encoding characters with a rolling hash per fragment length,
   * comparing strings only on a hash hit: linear in the text, whatever the number of keys.
   */
  private scan(text: string): Omit<Leak, 'kind' | 'source'> | undefined {
    for (const match of text.matchAll(ENCODED_RUN)) {
      const run = match[0];
      for (const [size, map] of this.fragments) {
        if (run.length < size) continue;
        const drop = power(size - 1);
        let hash = rollingHash(run, 0, size);
        for (let i = 0; ; i++) {
          const hit = this.seen[(hash & 0xffffff) >> 3]! & (1 << (hash & 7)) ? map.get(hash & SMI_MASK)?.find((f) => run.startsWith(f.text, i)) : undefined;
          if (hit) {
            const whole = text.indexOf(hit.key);
            if (hit.form === 'secret-part' && whole >= 0) return { form: 'plaintext', excerpt: mask(text, whole, hit.key.length) };
            return { form: hit.form, excerpt: mask(text, match.index + i, size) };
          }
          if (i + size >= run.length) break;
          hash = (Math.imul(hash - Math.imul(run.charCodeAt(i), drop), HASH_BASE) + run.charCodeAt(i + size)) | 0;
        }
      }
    }
    return undefined;
  }
}

/** A fragment of a key's encoded form that is a leak wherever it appears. */
interface Fragment {
  readonly text: string;
  readonly key: string;
  readonly form: LeakForm;
}

const HASH_BASE = 131;
/** Map keys stay small integers (V8 Smis): a heap-number key makes every lookup slow. */
const SMI_MASK = 0x3fffffff;

/** Polynomial hash (int32, mod 2^32) of `text[from, from + size)`. */
function rollingHash(text: string, from: number, size: number): number {
  let hash = 0;
  for (let i = from; i < from + size; i++) hash = (Math.imul(hash, HASH_BASE) + text.charCodeAt(i)) | 0;
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
  } as T;
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
