/**
 * The key pickup protocol (clients outside AWS), the part that needs no crypto and no AWS: its
 * constants, the named outcomes, parsing the request form, and reading the unverified ids an
 * assertion claims (to find which registered key must verify it). Served by
 * lambdas/aws/pickup/pickup-handler.ts, spoken by the client SDK's pickup key source.
 *
 * `POST <PickupUrl>`, `application/x-www-form-urlencoded`:
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=<JWS>`
 * (RFC 7523 section 2.2, `private_key_jwt`). The JWS header's `kid` names one of the client's
 * registered pickup keys; its claims are `iss` = `sub` = clientId, `aud` = the pickup URL exactly,
 * `iat`, `exp` (at most {@link MAX_ASSERTION_LIFETIME_SECONDS} after `iat`) and a single-use `jti`.
 * Answers: 200 `application/jose` (a compact JWE of {@link PickupPlaintext}); 400
 * `{"error":"invalid_request"}` for a request that is not a pickup form; 401
 * `{"error":"invalid_client"}` for every authentication failure alike (no oracle: unknown
 * client, unknown key, bad signature, expired, replayed… all look the same to the caller);
 * 500 `{"error":"server_error"}` when KeyRoll's own state is inconsistent.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { KeyRollError } from './errors';
import { CLIENT_ID_PATTERN } from './rotation-request';

/** RFC 7523 section 2.2: the only `client_assertion_type` accepted. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Media type of a successful answer (a compact JWE, RFC 7516 section 9.2.1). */
export const PICKUP_RESPONSE_MEDIA_TYPE = 'application/jose';
/** The JWE's `cty`: what the encrypted plaintext is. */
export const PICKUP_CONTENT_TYPE = 'keyroll-pickup+json';
/** The request body is refused above this many bytes, before it is decoded or parsed. */
export const MAX_PICKUP_BODY_BYTES = 8 * 1024;
/** The longest an assertion may live: `exp - iat`, in seconds. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
export const ASSERTION_CLOCK_TOLERANCE_SECONDS = 30;
/** Bounds of a `jti`'s length, in characters. */
export const JTI_MIN_LENGTH = 16;
export const JTI_MAX_LENGTH = 128;
/** A replay record outlives the assertion's `exp` (plus the tolerance) by this much, in seconds, before DynamoDB's TTL may delete it. */
export const JTI_RETENTION_MARGIN_SECONDS = 300;

/** The JWE's plaintext (JSON): the client's current key as the table names it. */
export interface PickupPlaintext {
  readonly clientId: string;
  readonly keyId: string;
  readonly apiKey: string;
  /** When the endpoint issued this answer (ISO-8601). */
  readonly issuedAt: string;
}

/** Why a pickup was refused: the metric dimension and the log's outcome; never told to the caller. */
export const PickupRefusal = {
  /** Not a pickup form (400): too large, not form-encoded, a parameter missing or repeated, another assertion type. */
  MALFORMED_REQUEST: 'MalformedRequest',
  /** The assertion cannot be decoded, or its `sub`/`iss`/`kid` are missing or malformed. */
  MALFORMED_ASSERTION: 'MalformedAssertion',
  UNKNOWN_CLIENT: 'UnknownClient',
  OFFBOARDED: 'Offboarded',
  /** The client has no registered pickup key with the assertion's `kid`. */
  UNKNOWN_KEY: 'UnknownKey',
  /** Signature, algorithm, audience, issuer, subject, times or `jti` refused. */
  INVALID_ASSERTION: 'InvalidAssertion',
  /** The `jti` was seen before (a replay). */
  REPLAYED: 'Replayed',
} as const;
export type PickupRefusal = (typeof PickupRefusal)[keyof typeof PickupRefusal];

/** A pickup request refused: 400 for {@link PickupRefusal.MALFORMED_REQUEST}, 401 for every other reason. */
export class PickupRefusedError extends KeyRollError {
  override readonly name = 'PickupRefused';
  constructor(
    readonly reason: PickupRefusal,
    /** What exactly was wrong, for the log; never returned to the caller, never a claim value. */
    readonly detail: string,
  ) {
    super(`Pickup refused (${reason}): ${detail}.`);
  }

  /** The HTTP status the caller gets. */
  get status(): 400 | 401 {
    return this.reason === PickupRefusal.MALFORMED_REQUEST ? 400 : 401;
  }
}

/**
 * The client's secret does not hold the key the table says is current (the version is missing,
 * or its key's hash differs from `currentKeyHash`): KeyRoll's state is inconsistent, so nothing
 * is handed out (500). The message names the client and the problem, never the key.
 */
export class PickupKeyMismatchError extends KeyRollError {
  override readonly name = 'PickupKeyMismatch';
  constructor(
    readonly clientId: string,
    readonly problem: 'version-missing' | 'hash-mismatch' | 'key-id-mismatch',
  ) {
    super(`The current key of client ${clientId} in Secrets Manager does not match the table (${problem}).`);
  }
}

/** The two answers' bodies besides a JWE (the same body for every refusal of a kind). */
export const PICKUP_ERROR_BODIES = {
  400: '{"error":"invalid_request"}',
  401: '{"error":"invalid_client"}',
  500: '{"error":"server_error"}',
} as const;

const refuse = (detail: string) => new PickupRefusedError(PickupRefusal.MALFORMED_REQUEST, detail);

/** The largest base64 text that can decode to {@link MAX_PICKUP_BODY_BYTES}. */
const MAX_BASE64_BODY_CHARS = Math.ceil(MAX_PICKUP_BODY_BYTES / 3) * 4;
const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';
const KNOWN_PARAMETERS = new Set(['client_assertion_type', 'client_assertion', 'client_id']);

/** What a pickup form carries. */
export interface PickupForm {
  readonly assertion: string;
  /** RFC 7523 allows `client_id` next to the assertion; when given it must equal the assertion's subject. */
  readonly clientId?: string;
}

/**
 * Parses the request form. The size is checked on the raw body first (and on the decoded bytes
 * of a base64 body), so an oversized body is never decoded or parsed. A parameter given twice
 * is refused (RFC 6749 section 3.2: "parameters MUST NOT be included more than once"); unknown
 * parameters are ignored (section 3.2 again).
 * @param contentType the request's `Content-Type` header (parameters such as `charset` allowed)
 * @throws PickupRefusedError (MalformedRequest)
 */
export function parsePickupForm(body: string | null | undefined, isBase64Encoded: boolean, contentType: string | undefined): PickupForm {
  if (typeof body !== 'string' || body.length === 0) throw refuse('empty body');
  if (body.length > (isBase64Encoded ? MAX_BASE64_BODY_CHARS : MAX_PICKUP_BODY_BYTES)) throw refuse('body too large');
  const bytes = isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  if (bytes.length > MAX_PICKUP_BODY_BYTES) throw refuse('body too large');
  if (contentType?.split(';')[0].trim().toLowerCase() !== FORM_MEDIA_TYPE) throw refuse('not form-encoded');
  const text = bytes.toString('utf8');
  const values = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (!KNOWN_PARAMETERS.has(name)) continue;
    if (values.has(name)) throw refuse(`parameter ${name} repeated`);
    values.set(name, value);
  }
  if (values.get('client_assertion_type') !== JWT_BEARER_ASSERTION_TYPE) throw refuse('client_assertion_type missing or not jwt-bearer');
  const assertion = values.get('client_assertion');
  if (!assertion) throw refuse('client_assertion missing');
  const clientId = values.get('client_id');
  return clientId === undefined ? { assertion } : { assertion, clientId };
}

/** What an assertion claims to be, read without verifying it: only to find the key that must. */
export interface AssertionIds {
  readonly clientId: string;
  readonly kid: string;
}

/** A `kid` worth looking up (and logging): registered kids are JWK `kid`s or RFC 7638 thumbprints. */
const KID_PATTERN = /^[A-Za-z0-9._~:-]{1,128}$/;

/**
 * Reads the client id (`sub`, which must equal `iss`) and the header's `kid` of an assertion
 * without verifying it. Nothing read here is trusted: the signature check that follows uses
 * the key registered under that client and kid, and checks `iss`/`sub` again.
 * @throws PickupRefusedError (MalformedAssertion, 401)
 */
export function peekAssertion(assertion: string, formClientId?: string): AssertionIds {
  const malformed = (detail: string) => new PickupRefusedError(PickupRefusal.MALFORMED_ASSERTION, detail);
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw malformed('not a compact JWS with a JSON claims set');
  }
  const { sub, iss } = claims;
  if (typeof sub !== 'string' || !CLIENT_ID_PATTERN.test(sub)) throw malformed('sub missing or not a client id');
  if (iss !== sub) throw malformed('iss is not sub');
  if (formClientId !== undefined && formClientId !== sub) throw malformed('client_id is not sub');
  const { kid } = header;
  if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) throw malformed('kid missing or malformed');
  return { clientId: sub, kid };
}
