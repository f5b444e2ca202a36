/**
 * How the CLI writes: results to stdout (text, or one JSON document with --json), messages
 * and progress to stderr. Everything written passes a last guard that replaces anything
 * shaped like a KeyRoll key with [REDACTED]: keys never reach the CLI's output (they are
 * never read), and the guard makes sure a mistake cannot change that.
 */
import { formatDuration } from './arguments';

/** Where the CLI writes; the process's streams in bin/keyroll.ts, buffers in tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Progress bars and spinners only on a terminal. @default false */
  readonly stderrIsTTY?: boolean;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Reads all of standard input (`identify` takes a leaked key there, never as an argument). */
  readonly readStdin?: () => Promise<string>;
}

/** `<prefix>_<43 base62 entropy><6 base62 checksum>` anywhere in a text. */
const KEY_SHAPE = /\b[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{49}\b/g;

/** `text` with anything shaped like a KeyRoll key replaced. */
export function redactKeys(text: string): string {
  return text.replace(KEY_SHAPE, '[REDACTED]');
}

/** The output of one CLI run. */
export class Output {
  constructor(
    private readonly io: CliIo,
    readonly json: boolean,
  ) {}

  /** A result: `data` as JSON with --json, else `text()`. */
  result(data: unknown, text: () => string): void {
    this.io.stdout(redactKeys(this.json ? `${JSON.stringify(data, null, 2)}\n` : ensureNewline(text())));
  }

  /** A message for the person at the terminal (stderr, also in --json mode). */
  note(text: string): void {
    this.io.stderr(redactKeys(ensureNewline(text)));
  }

  /** The raw stderr writer, for progress displays. */
  get stderrWriter(): (text: string) => void {
    return (text) => this.io.stderr(redactKeys(text));
  }

  get stderrIsTTY(): boolean {
    return this.io.stderrIsTTY ?? false;
  }
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** Rows as an aligned text table with a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** "key: value" lines, aligned. */
export function fields(pairs: readonly (readonly [string, string | undefined])[], indent = '  '): string {
  const shown = pairs.filter(([, value]) => value !== undefined && value !== '') as [string, string][];
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}

/** How long ago `iso` was, relative to `nowMs` (`3d4h ago`, `in 23h59m`). */
export function relative(iso: string | undefined, nowMs: number): string {
  if (!iso) return '-';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((nowMs - then) / 1000);
  const coarse = coarseDuration(Math.abs(seconds));
  return seconds >= 0 ? `${coarse} ago` : `in ${coarse}`;
}

/** A duration to two units at most (`3d4h`, `12m5s`). */
export function coarseDuration(seconds: number): string {
  const exact = formatDuration(seconds);
  const parts = exact.match(/\d+[dhms]/g) ?? [exact];
  return parts.slice(0, 2).join('');
}

/** An ISO timestamp without milliseconds (`2026-11-28T10:00:00Z`), or '-'. */
export function timestamp(iso: string | undefined): string {
  if (!iso) return '-';
  return iso.replace(/\.\d{3}Z$/, 'Z');
}
