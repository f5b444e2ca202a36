/**
 * Where a {@link KeyProvider} reads the key from. The provider does the caching, single flight,
 * timers and failure handling; a source only reads the current value once per call. The
 * sources that need an AWS SDK client live in their own entry points
 * (`@keyroll/client/secrets-manager`), so that a consumer that reads its key from the
 * environment or a file installs no SDK.
 */
import { keyIdOf, parseApiKey } from '../lambdas/core/api-key';
import { parseSecretValue, type SecretValue } from '../lambdas/core/secret-value';
import { KeyRollError } from '../lambdas/core/errors';

/** One read of the current key. */
export interface KeyRead extends SecretValue {
  /** The version read, when the source has versions (Secrets Manager's VersionId); logged, never secret. */
  readonly versionId?: string;
}

/**
 * A place the current key can be read from. Implement it for a store KeyRoll does not ship a
 * source for; the provider classifies what `read()` rejects with (see {@link KeyUnavailableReason}):
 * a `MalformedKey` error (from {@link parseSecretValue} / {@link parseKeyText}) is `malformed`,
 * a {@link KeyNotFoundError} or an AWS `ResourceNotFoundException` is `not-found`, an AWS
 * `AccessDeniedException` / `DecryptionFailure` / `UnrecognizedClientException` or a
 * `PickupUnauthorized` is `access-denied`, anything else `request-failed`. Rejections must not carry the key.
 */
export interface KeySource {
  /** What kind of place it is, for messages: `secret`, `environment variable`, `file`. */
  readonly kind: string;
  /** Which one: a secret name or ARN, a variable name, a path. Appears in logs and errors; never secret. */
  readonly id: string;
  /** The client whose key this is, when the source knows it: the provider's default `clientId`. */
  readonly clientId?: string;
  /** Reads the current key now. */
  read(): Promise<KeyRead>;
}

/** The source holds no key at all (an unset variable, a missing file). */
export class KeyNotFoundError extends KeyRollError {
  override readonly name = 'KeyNotFound';
}

/**
 * Parses a key as a platform hands it over outside Secrets Manager: either the bare key
 * (`kr_…`; its id is derived from it) or KeyRoll's secret document `{"apiKey","keyId"}`.
 * Surrounding whitespace (a trailing newline in a file) is ignored.
 * @throws MalformedKeyError when it is neither (the message never echoes the value).
 */
export function parseKeyText(text: string): SecretValue {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return parseSecretValue(trimmed);
  const { key } = parseApiKey(trimmed);
  return { apiKey: key, keyId: keyIdOf(key) };
}

export { parseSecretValue };
export type { SecretValue };
