/**
 * `@keyroll/client`: what an API consumer runs to always send its current key. Needs no AWS SDK;
 * the parts that do are their own entry points.
 *
 * - {@link KeyProvider}: reads the current key from a {@link KeySource}, caches it, refreshes it
 *   on a timer, on notifications and on refusals; single flight; serves the last good key when
 *   a read fails. Sources here: {@link EnvKeySource}, {@link FileKeySource}; in
 *   `@keyroll/client/secrets-manager`: `SecretsManagerKeySource` / `SecretsManagerKeyProvider`.
 * - {@link createAuthenticatedFetch}: a `fetch` that adds the key header and, on 401/403,
 *   refreshes once and retries once when the key changed.
 * - {@link createSnsSubscriberHandler}: refresh from a Lambda subscribed to the client topic; the
 *   SQS poller is `@keyroll/client/sqs`, the HTTPS webhook `@keyroll/client/webhook`, the key
 *   pickup outside AWS `@keyroll/client/pickup`.
 * - {@link verifySnsMessage} / {@link SnsMessageVerifier}: SNS message signatures (here, so that
 *   the webhook and SQS entries share one copy).
 *
 * No plaintext key appears in anything the SDK logs or throws.
 */
export { createAuthenticatedFetch, isReplayableBody, KeyHeader } from './authenticated-fetch';
export type { AuthenticatedFetchOptions, FetchLike } from './authenticated-fetch';
export { DEFAULT_KEY_VARIABLE, EnvKeySource } from './env-source';
export type { EnvKeySourceOptions } from './env-source';
export { InvalidClientOptionsError, KeyUnavailableError, KeyUnavailableReason, PickupFailedError, PickupUnauthorizedError } from './errors';
export { FileKeySource } from './file-source';
export type { FileKeySourceOptions } from './file-source';
export { DEFAULT_REFRESH_INTERVAL_MS, DEFAULT_RETRY_AFTER_FAILURE_MS, KeyProvider, RefreshReason } from './key-provider';
export type { ApiKeySource, KeyChange, KeyProviderOptions, KeyProviderTiming, RefreshOptions, RefreshResult } from './key-provider';
export { KeyNotFoundError, parseKeyText, parseSecretValue } from './key-source';
export type { KeyRead, KeySource, SecretValue } from './key-source';
export { silentLogger } from './logger';
export type { ClientLogger } from './logger';
export { applyRotationNotification, createSnsSubscriberHandler, NotificationOutcome, parseRotationNotification } from './notifications';
export type { MessageAttributesLike, RotationNotification, SnsEventLike, SnsHandlerResult } from './notifications';
export { redactKeys, REDACTED } from './redact';
export {
  confirmSnsSubscription,
  isSnsServiceUrl,
  SigningCertificates,
  SnsMessageRejectedError,
  SnsMessageType,
  SnsMessageVerifier,
  SnsRejection,
  snsStringToSign,
  SnsSubscriptionConfirmationError,
  verifySnsMessage,
} from './sns-message';
export type { ConfirmSubscriptionOptions, SigningCertificatesOptions, SnsMessageVerifierInstanceOptions, SnsMessageVerifierOptions, VerifiedSnsMessage } from './sns-message';
export { systemScheduler } from './scheduler';
export type { Scheduler } from './scheduler';
export { ClientEventType } from '../lambdas/core/notifications';
export { MalformedKeyError } from '../lambdas/core/errors';
export { systemClock } from '../lambdas/core/clock';
export type { Clock } from '../lambdas/core/clock';
