/**
 * Errors of the client SDK. Like every KeyRoll error they set `name` and keep a `cause`;
 * their messages name the secret and what went wrong, never the key or the secret value.
 */
import { KeyRollError } from '../lambdas/core/errors';

/** Why the current key could not be read. */
export const KeyUnavailableReason = {
  /** The secret (or its AWSCURRENT version) does not exist. */
  NOT_FOUND: 'not-found',
  /** The caller may not read the secret or decrypt it. */
  ACCESS_DENIED: 'access-denied',
  /** The secret value is not a KeyRoll secret document (`{"apiKey","keyId"}` with a well-formed key). */
  MALFORMED: 'malformed',
  /** Any other failure: network, throttling, service fault. */
  REQUEST_FAILED: 'request-failed',
} as const;
export type KeyUnavailableReason = (typeof KeyUnavailableReason)[keyof typeof KeyUnavailableReason];

/**
 * The current key could not be read from the client's secret. `getKey()` throws it only when
 * no key was ever read; once a key is cached, a failed refresh keeps serving that key.
 */
export class KeyUnavailableError extends KeyRollError {
  override readonly name = 'KeyUnavailable';
  constructor(
    /** The secret name or ARN that was read. */
    readonly secretId: string,
    readonly reason: KeyUnavailableReason,
    /** The name of the underlying error (e.g. `AccessDeniedException`), for logs. */
    readonly causeName: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not read the current API key from secret '${secretId}' (${reason}: ${causeName}).`, options);
  }
}

/** A client SDK option is missing or out of range; the message says what was received and what is expected. */
export class InvalidClientOptionsError extends KeyRollError {
  override readonly name = 'InvalidClientOptions';
}
