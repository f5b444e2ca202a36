/**
 * Schema pieces shared by the operator requests (register, offboard, revoke, rollback):
 * printable text, client ids, and issue lines that name a field but never echo a value
 * (the input may hold key material pasted by mistake).
 */
import * as v from 'valibot';
import { InvalidOperationInputError } from './errors';
import { containsApiKey } from './key-material';
import { CLIENT_ID_PATTERN } from './rotation-request';

// No control (Cc), format (Cf, e.g. bidi overrides), line or paragraph separator characters,
// and no lone surrogates (Cs: not valid UTF-8, DynamoDB refuses them).
const NO_CONTROL_CHARACTERS = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]*$/u;

/** Printable text of 1..`max` characters after trimming (audit entries stay one honest line). */
export function printableText(max: number) {
  return v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `must be at most ${max} characters`),
    v.regex(NO_CONTROL_CHARACTERS, 'must not contain control characters'),
    // Stored in the audit trail and shown: a key pasted here would leak (invariant 5).
    v.check((text) => !containsApiKey(text), 'must not contain an API key'),
  );
}

/** A client id: 1-64 characters of [A-Za-z0-9._-]. */
export const clientIdSchema = v.pipe(
  v.string('must be a string'),
  v.regex(CLIENT_ID_PATTERN, 'must be 1-64 characters of [A-Za-z0-9._-]'),
  v.check((text) => !containsApiKey(text), 'must not be an API key'),
);

/** Who asked (kept in the audit trail). */
export const actorSchema = printableText(128);
/** Why (kept in the audit trail). */
export const reasonSchema = printableText(512);

/** The message for object-level issues: a missing field, an unknown one, a non-object. */
export function objectIssueMessage(fields: readonly string[]) {
  return (issue: v.BaseIssue<unknown>): string => {
    if (issue.expected === 'never') return `is not allowed; the fields are ${fields.join(', ')}`;
    if (issue.path?.length) return 'is required';
    return 'must be a JSON object';
  };
}

// An unknown field is named only when the name is short and plain: a key pasted as a
// field name must not reach an error message.
export const NAMEABLE_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

/** `a.b.c: message` for an issue, naming only plain path segments. */
export function issueLine(issue: v.BaseIssue<unknown>): string {
  const segments = (issue.path ?? []).map((item) => {
    const key = item.key;
    if (typeof key === 'number') return `[${key}]`;
    return typeof key === 'string' && NAMEABLE_FIELD.test(key) ? key : '(unknown field)';
  });
  const where = segments.length ? segments.join('.').replace(/\.\[/g, '[') : '(input)';
  return `${where}: ${issue.message}`;
}

/**
 * Validates `raw` against `schema`.
 *
 * @throws InvalidOperationInputError listing every offending field (never a value).
 */
export function parseOperation<TSchema extends v.GenericSchema>(what: string, schema: TSchema, raw: unknown): v.InferOutput<TSchema> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const issue = '(input): must be a JSON object';
    throw new InvalidOperationInputError(`Invalid ${what}: ${issue}`, [issue]);
  }
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const issues = result.issues.map(issueLine);
    throw new InvalidOperationInputError(`Invalid ${what}: ${issues.join('; ')}`, issues);
  }
  return result.output;
}

/** Throws InvalidOperationInputError for issues found after the schema (cross-field rules). */
export function rejectIssues(what: string, issues: readonly string[]): void {
  if (issues.length) throw new InvalidOperationInputError(`Invalid ${what}: ${issues.join('; ')}`, issues);
}
