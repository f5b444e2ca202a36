/**
 * KeyRoll client SDK: what an API consumer runs to always send its current key.
 *
 * - {@link KeyProvider}: reads AWSCURRENT of the client's secret, caches it, refreshes it on
 *   a timer, on notifications and on refusals; single flight; serves the last good key when
 *   Secrets Manager fails.
 * - {@link createAuthenticatedFetch}: a `fetch` that adds the key header and, on 401/403,
 *   refreshes once and retries once when the key changed.
 * - {@link SqsNotificationPoller} / {@link createSnsSubscriberHandler}: refresh on
 *   key.rotated and key.emergency notifications (SNS→SQS, or a Lambda subscribed to SNS).
 *
 * No plaintext key appears in anything the SDK logs or throws.
 */
export { createAuthenticatedFetch, isReplayableBody, KeyHeader } from './authenticated-fetch';
export type { AuthenticatedFetchOptions, FetchLike } from './authenticated-fetch';
export { InvalidClientOptionsError, KeyUnavailableError, KeyUnavailableReason } from './errors';
export { DEFAULT_REFRESH_INTERVAL_MS, DEFAULT_RETRY_AFTER_FAILURE_MS, DEFAULT_SECRET_NAME_PREFIX, KeyProvider, RefreshReason } from './key-provider';
export type { ApiKeySource, KeyChange, KeyProviderOptions, RefreshOptions, RefreshResult, SecretsManagerLike } from './key-provider';
export { silentLogger } from './logger';
export type { ClientLogger } from './logger';
export { applyRotationNotification, createSnsSubscriberHandler, NotificationOutcome, parseRotationNotification } from './notifications';
export type { MessageAttributesLike, RotationNotification, SnsEventLike, SnsHandlerResult } from './notifications';
export { SqsNotificationPoller } from './poller';
export type { PollResult, SqsLike, SqsNotificationPollerOptions } from './poller';
export { redactKeys, REDACTED } from './redact';
export { systemScheduler } from './scheduler';
export type { Scheduler } from './scheduler';
export { ClientEventType } from '../lambdas/core/notifications';
export { systemClock } from '../lambdas/core/clock';
export type { Clock } from '../lambdas/core/clock';
