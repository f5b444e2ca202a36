/**
 * The rotation request (the state machine's execution input), validated with a schema.
 * A request that fails validation changes nothing: the first step rejects it before
 * any lock or key is touched.
 */
import * as v from 'valibot';
import { InvalidRotationIdError, InvalidRotationInputError } from './errors';
import { containsApiKey } from './key-material';

/** Why a rotation runs. */
export const RotationMode = {
  SCHEDULED: 'scheduled',
  MANUAL: 'manual',
  /** Incident response: no overlap, every other key of the client revoked at finish. */
  EMERGENCY: 'emergency',
} as const;
export type RotationMode = (typeof RotationMode)[keyof typeof RotationMode];

/** Client ids: 1-64 characters, letters, digits and `._-`, starting with a letter or digit. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Rotation ids double as ClientRequestToken, which Secrets Manager requires to be 32-64 characters. */
export const ROTATION_ID_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;

/** Overlap bounds in seconds. */
export interface OverlapBounds {
  /** Smallest overlap a request may ask for. */
  readonly minSeconds: number;
  /** Largest overlap a request may ask for (the hard deadline for the previous key). */
  readonly maxSeconds: number;
}

/** Default bounds: 1 minute to 30 days. */
export const DEFAULT_OVERLAP_BOUNDS: OverlapBounds = { minSeconds: 60, maxSeconds: 30 * 24 * 3600 };

/** A validated rotation request. */
export interface RotationRequest {
  readonly clientId: string;
  readonly mode: RotationMode;
  readonly reason: string;
  readonly requestedBy: string;
  /** Absent: the client's policy or the deployment default applies. */
  readonly overlapSeconds?: number;
  /**
   * Emergency only: revoke every existing key of the client when the new key is created
   * (createSecret), before it becomes current. The client is locked out until it fetches
   * the new key; use it when the old keys must stop working now, not in a minute.
   */
  readonly revokeImmediately?: boolean;
  /**
   * Set by a fleet rotation: the Step Functions task token of the fleet's item, which this
   * rotation completes once its new key is current (or it failed). Not key material, but a
   * capability to answer the fleet's task: it is never logged, audited or notified.
   */
  readonly callbackToken?: string;
}

/** Step Functions task tokens (opaque, base64-like, up to 2048 characters); anything else is refused before any write. */
export const CALLBACK_TOKEN_PATTERN = /^[A-Za-z0-9+/=_-]{16,2048}$/;

// Printable text, so audit entries and notifications stay one honest line: no control
// characters (Cc), no format characters such as bidi overrides (Cf), no line or paragraph
// separators (Zl, Zp), no lone surrogates (Cs: not valid UTF-8, DynamoDB refuses them).
const PRINTABLE = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]+$/u;

// Ids and free text are stored, logged and shown: a key pasted into them would leak (invariant 5).
const noKey = (text: string): boolean => !containsApiKey(text);

const REQUEST_FIELDS = ['clientId', 'mode', 'reason', 'requestedBy', 'overlapSeconds', 'revokeImmediately', 'callbackToken'] as const;

/** Free text a human typed (a reason, a name): trimmed, 1-`maxLength` printable characters, never a key. */
function freeText(maxLength: number) {
  return v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(maxLength, `must be at most ${maxLength} characters`),
    v.regex(PRINTABLE, 'must not contain control characters'),
    v.check(noKey, 'must not contain an API key'),
  );
}

function requestSchema(bounds: OverlapBounds) {
  // Every check carries its own message: valibot's defaults echo the received value, and
  // the input may hold key material pasted by mistake.
  return v.strictObject(
    {
      clientId: v.pipe(v.string('must be a string'), v.regex(CLIENT_ID_PATTERN, 'must be 1-64 characters of [A-Za-z0-9._-]'), v.check(noKey, 'must not be an API key')),
      mode: v.picklist(Object.values(RotationMode), 'must be one of scheduled, manual, emergency'),
      reason: freeText(512),
      requestedBy: freeText(128),
      overlapSeconds: v.optional(
        v.pipe(
          v.number('must be a number'),
          v.integer('must be a whole number of seconds'),
          v.minValue(bounds.minSeconds, `must be at least ${bounds.minSeconds}`),
          v.maxValue(bounds.maxSeconds, `must be at most ${bounds.maxSeconds}`),
        ),
      ),
      revokeImmediately: v.optional(v.boolean('must be true or false')),
      callbackToken: v.optional(v.pipe(v.string('must be a string'), v.regex(CALLBACK_TOKEN_PATTERN, 'must be a Step Functions task token'))),
    },
    objectIssueMessage,
  );
}

/** The message for the object-level issues: a missing field, an unknown one, a non-object. */
function objectIssueMessage(issue: v.BaseIssue<unknown>): string {
  if (issue.expected === 'never') return `is not allowed; the fields are ${REQUEST_FIELDS.join(', ')}`;
  if (issue.path?.length) return 'is required';
  return 'must be a JSON object';
}

// An unknown field is named only when the name is short and plain: a key (at least 50
// characters) pasted as a field name must not reach an error message.
const NAMEABLE_FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;

/** Names where an issue is, without echoing a field name that could be key material. */
function issuePath(issue: v.BaseIssue<unknown>): string {
  const top = issue.path?.[0]?.key;
  if (top === undefined) return '(input)';
  if (typeof top === 'string' && (REQUEST_FIELDS as readonly string[]).includes(top)) return top;
  return typeof top === 'string' && NAMEABLE_FIELD.test(top) ? top : '(unknown field)';
}

/**
 * Validates an execution input.
 *
 * @throws InvalidRotationInputError listing every offending field; an emergency request
 *   that also asks for an overlap is rejected (emergency rotations have none).
 */
export function parseRotationRequest(raw: unknown, bounds: OverlapBounds = DEFAULT_OVERLAP_BOUNDS): RotationRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const issue = '(input): must be a JSON object';
    throw new InvalidRotationInputError(`Invalid rotation input: ${issue}`, [issue]);
  }
  const result = v.safeParse(requestSchema(bounds), raw);
  if (!result.success) {
    const issues = result.issues.map((issue) => `${issuePath(issue)}: ${issue.message}`);
    throw new InvalidRotationInputError(`Invalid rotation input: ${issues.join('; ')}`, issues);
  }
  const request = result.output;
  if (request.mode === RotationMode.EMERGENCY && request.overlapSeconds !== undefined) {
    const issue = 'overlapSeconds: an emergency rotation has no overlap; omit it';
    throw new InvalidRotationInputError(`Invalid rotation input: ${issue}`, [issue]);
  }
  if (request.revokeImmediately && request.mode !== RotationMode.EMERGENCY) {
    const issue = 'revokeImmediately: only an emergency rotation may revoke every key at once';
    throw new InvalidRotationInputError(`Invalid rotation input: ${issue}`, [issue]);
  }
  const { revokeImmediately, ...rest } = request;
  // `false` is the same as absent: keep the request (and the rotation context) minimal.
  return revokeImmediately ? { ...rest, revokeImmediately } : rest;
}

/** @throws InvalidRotationIdError unless `rotationId` can serve as a ClientRequestToken. */
export function assertValidRotationId(rotationId: unknown): asserts rotationId is string {
  if (typeof rotationId !== 'string' || !ROTATION_ID_PATTERN.test(rotationId)) {
    throw new InvalidRotationIdError(typeof rotationId === 'string' ? rotationId : '');
  }
  if (containsApiKey(rotationId)) throw new InvalidRotationIdError('', true);
}

/**
 * The overlap a rotation gets: none in emergency mode; otherwise the request's, else the
 * client's policy, else the deployment default, clamped into the bounds.
 */
export function effectiveOverlapSeconds(request: RotationRequest, clientOverlapSeconds: number | undefined, defaultOverlapSeconds: number, bounds: OverlapBounds = DEFAULT_OVERLAP_BOUNDS): number {
  if (request.mode === RotationMode.EMERGENCY) return 0;
  const chosen = request.overlapSeconds ?? clientOverlapSeconds ?? defaultOverlapSeconds;
  return Math.min(bounds.maxSeconds, Math.max(bounds.minSeconds, chosen));
}
