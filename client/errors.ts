/**
 * Errors of the client SDK. Like every KeyRoll error they set `name` and keep a `cause`;
 * their messages name the source (secret, variable, file) and what went wrong, never the key or the value read.
 */
import { KeyRollError } from '../lambdas/core/errors';

/** Why the current key could not be read. */
export const KeyUnavailableReason = {
  /** The secret (or its AWSCURRENT version), the variable or the file does not exist. */
  NOT_FOUND: 'not-found',
  /** The caller may not read the secret or decrypt it. */
  ACCESS_DENIED: 'access-denied',
  /** The value is not a well-formed key or KeyRoll secret document (`{"apiKey","keyId"}`). */
  MALFORMED: 'malformed',
  /** Any other failure: network, throttling, service fault. */
  REQUEST_FAILED: 'request-failed',
} as const;
export type KeyUnavailableReason = (typeof KeyUnavailableReason)[keyof typeof KeyUnavailableReason];

/**
 * The current key could not be read from its source. `getKey()` throws it only when no key was
 * ever read; once a key is cached, a failed refresh keeps serving that key.
 */
export class KeyUnavailableError extends KeyRollError {
  override readonly name = 'KeyUnavailable';
  /** What was read: the secret name or ARN, the variable name, the path (a `KeySource`'s `id`). */
  readonly source: string;
  constructor(
    /** The source's `kind` and `id`, e.g. `secret` and `keyroll/clients/acme`. */
    source: { readonly kind: string; readonly id: string },
    readonly reason: KeyUnavailableReason,
    /** The name of the underlying error (e.g. `AccessDeniedException`), for logs. */
    readonly causeName: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not read the current API key from ${source.kind} '${source.id}' (${reason}: ${causeName}).`, options);
    this.source = source.id;
  }
}

/** A client SDK option is missing or out of range; the message says what was received and what is expected. */
export class InvalidClientOptionsError extends KeyRollError {
  override readonly name = 'InvalidClientOptions';
}

/**
 * The pickup endpoint refused the client's assertion (HTTP 401 `invalid_client`): the private
 * key is not one registered for the client, its kid is unknown, the clock is off, or the
 * assertion was replayed. The endpoint says nothing more, by design; neither does this error.
 */
export class PickupUnauthorizedError extends KeyRollError {
  override readonly name = 'PickupUnauthorized';
  constructor(
    /** The pickup URL. */
    readonly url: string,
  ) {
    super(`The key pickup at ${url} refused the client's assertion (401 invalid_client): check the client id, the kid, the private key registered for it, and the clock.`);
  }
}

/**
 * A key pickup failed otherwise: the endpoint answered 400 `invalid_request`, a 5xx or an
 * unexpected status or content type, the request timed out, or the response could not be
 * decrypted or is not for this client. `status` and `code` (the body's `error` field, only when
 * it is one the protocol defines) say which; no other part of a response body is kept.
 */
export class PickupFailedError extends KeyRollError {
  override readonly name = 'PickupFailed';
  constructor(
    readonly url: string,
    /** The HTTP status, when there was a response. */
    readonly status: number | undefined,
    /** `invalid_request` / `invalid_client` when the body said so. */
    readonly code: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`The key pickup at ${url} failed: ${detail}`, options);
  }
}
