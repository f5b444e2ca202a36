/**
 * Parsing and checking of the CLI's arguments, before anything is read or written. Every
 * check says which argument is wrong and what is expected, and never echoes the value: an
 * operator may paste a key where a key id belongs.
 */
import { KEY_ID_PATTERN, SCOPE_PATTERN, MAX_SCOPES } from '../../lambdas/core/ops-requests';
import { canonicalTimeZone, MAX_INTERVAL_DAYS } from '../../lambdas/core/rotation-policy';
import { containsApiKey } from '../../lambdas/core/key-material';
import { CLIENT_ID_PATTERN, ROTATION_ID_PATTERN } from '../../lambdas/core/rotation-request';
import { UsageError } from './errors';

/** One line of printable text, as the audit trail requires (no control, format or separator characters, no lone surrogates). */
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+$/u;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const DURATION = /^(?:(\d{1,7})(w|d|h|m|s))+$/;
const DURATION_PART = /(\d{1,7})(w|d|h|m|s)/g;

/** `90m`, `24h`, `7d`, `1h30m`, `2w` → whole seconds. A bare number is refused (which unit?). */
export function parseDurationSeconds(text: string, option: string): number {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) {
    throw new UsageError(`${option} must be a duration such as 90m, 24h, 7d or 1h30m (units s, m, h, d, w).`, [`${option}: not a duration`]);
  }
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(DURATION_PART)) seconds += Number(amount) * UNIT_SECONDS[unit];
  if (seconds <= 0) throw new UsageError(`${option} must be longer than zero.`, [`${option}: zero`]);
  return seconds;
}

/** Seconds as the shortest exact duration text (`86400` → `1d`, `5400` → `1h30m`). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const sign = seconds < 0 ? '-' : '';
  let rest = Math.round(Math.abs(seconds));
  if (rest === 0) return '0s';
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return sign + parts.join('');
}

/** A whole number within bounds. */
export function parseWholeNumber(text: string, option: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text.trim())) throw new UsageError(`${option} must be a whole number between ${min} and ${max}.`, [`${option}: not a whole number`]);
  const value = Number(text.trim());
  if (value < min || value > max) throw new UsageError(`${option} must be between ${min} and ${max}.`, [`${option}: out of range`]);
  return value;
}

/** A client id as KeyRoll accepts it. */
export function checkClientId(text: string): string {
  if (!CLIENT_ID_PATTERN.test(text)) {
    throw new UsageError('<clientId> must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit.', ['clientId: invalid']);
  }
  if (containsApiKey(text)) throw new UsageError('<clientId> is an API key, not a client id; nothing was looked up.', ['clientId: an API key']);
  return text;
}

/** A key id (`<prefix>_kid_<16 hex>`); a key pasted here is refused without being echoed. */
export function checkKeyId(text: string): string {
  if (!KEY_ID_PATTERN.test(text)) {
    throw new UsageError('<keyId> must be a key id such as kr_kid_0123456789abcdef (see `keyroll status <clientId>`), never the key itself.', ['keyId: invalid']);
  }
  return text;
}

/** A rotation id (the execution name and ClientRequestToken). */
export function checkRotationId(text: string): string {
  if (!ROTATION_ID_PATTERN.test(text)) throw new UsageError('--rotation-id must be 32-64 characters of [A-Za-z0-9_-].', ['rotationId: invalid']);
  if (containsApiKey(text)) throw new UsageError('--rotation-id is an API key, not a rotation id.', ['rotationId: an API key']);
  return text;
}

/** Printable one-line text for the audit trail (`--reason`, `--actor`). */
export function checkText(text: string, option: string, max: number): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new UsageError(`${option} must not be empty.`, [`${option}: empty`]);
  if (trimmed.length > max) throw new UsageError(`${option} must be at most ${max} characters.`, [`${option}: too long`]);
  if (!PRINTABLE.test(trimmed)) throw new UsageError(`${option} must be one line of printable text.`, [`${option}: control characters`]);
  // Audit entries are stored and shown: a key pasted here would leak (invariant 5).
  if (containsApiKey(trimmed)) throw new UsageError(`${option} must not contain an API key (name it by its key id).`, [`${option}: an API key`]);
  return trimmed;
}

/** `orders:read,orders:write` → the scopes, each checked, without duplicates. */
export function parseScopes(text: string): string[] {
  const scopes = text.split(',').map((scope) => scope.trim());
  if (scopes.some((scope) => scope.length === 0)) throw new UsageError('--scopes must be a comma-separated list without empty entries, e.g. orders:read,orders:write.', ['scopes: empty entry']);
  const bad = scopes.filter((scope) => !SCOPE_PATTERN.test(scope)).length;
  if (bad) throw new UsageError(`--scopes: ${bad} scope(s) are not 1-64 characters of [A-Za-z0-9:._*/-].`, ['scopes: invalid scope']);
  // A key fits the scope alphabet; scopes are stored on the record and every key item (invariant 5).
  if (scopes.some(containsApiKey)) throw new UsageError('--scopes must not contain an API key.', ['scopes: an API key']);
  const unique = [...new Set(scopes)];
  if (unique.length > MAX_SCOPES) throw new UsageError(`--scopes: at most ${MAX_SCOPES} scopes.`, ['scopes: too many']);
  return unique;
}

/** `02:00-04:00` → the window; it may wrap past midnight (22:00-02:00) but must have a length. */
export function parseWindow(text: string): { start: string; end: string } {
  const match = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!match) throw new UsageError('--window must be HH:MM-HH:MM in 24-hour time, e.g. 02:00-04:00.', ['window: invalid']);
  const start = `${match[1]}:${match[2]}`;
  const end = `${match[3]}:${match[4]}`;
  if (start === end) throw new UsageError('--window: start and end must differ.', ['window: empty']);
  return { start, end };
}

/** An IANA time zone the runtime knows, canonicalised (`europe/paris` is refused, `Europe/Paris` kept). */
export function parseTimeZone(text: string): string {
  const zone = canonicalTimeZone(text.trim());
  if (!zone) throw new UsageError('--timezone must be an IANA time zone name, e.g. Europe/Paris or UTC.', ['timezone: unknown']);
  return zone;
}

/** CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
/** AWS region names such as us-east-1, eu-central-2, us-gov-west-1, cn-north-1. */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The global options as given (before any is used). */
export interface GlobalOptionValues {
  readonly stack?: string;
  readonly outputsFile?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly actor?: string;
}

/**
 * Checks the global options before the session uses them: an empty value is refused rather
 * than silently ignored, and a value that would reach an SDK error or a message is checked.
 */
export function checkGlobalOptions(options: GlobalOptionValues): void {
  if (options.stack !== undefined && !STACK_NAME.test(options.stack)) {
    throw new UsageError('--stack must be a CloudFormation stack name: a letter, then letters, digits or hyphens (at most 128).', ['stack: invalid']);
  }
  if (options.region !== undefined && !REGION.test(options.region)) throw new UsageError('--region must be an AWS region name such as us-east-1.', ['region: invalid']);
  // Used as given (not trimmed), so checked as given: it may reach a message.
  for (const [value, option, max] of [
    [options.profile, '--profile', 128],
    [options.outputsFile, '--outputs-file', 4096],
  ] as const) {
    if (value === undefined) continue;
    checkText(value, option, max);
    if (!PRINTABLE.test(value)) throw new UsageError(`${option} must be one line of printable text.`, [`${option}: control characters`]);
  }
  if (options.actor !== undefined) checkText(options.actor, '--actor', 128);
}

/** The interval of scheduled rotations. */
export function parseIntervalDays(text: string): number {
  return parseWholeNumber(text, '--interval-days', 1, MAX_INTERVAL_DAYS);
}
