/**
 * `@keyroll/client/webhook`: KeyRoll's notices over an HTTPS subscription to the client topic.
 * {@link createSnsWebhookHandler} is framework-neutral (`{headers, body}` in, `{status}` out);
 * {@link nodeHttpListener} adapts it to `node:http`. Needs no AWS SDK.
 *
 * What it does with each POST from SNS, after verifying it (signature, certificate host, type,
 * topic, age, MessageId once: see sns-message.ts):
 * - SubscriptionConfirmation: GETs its SubscribeURL (host checked again) to confirm.
 * - Notification: a KeyRoll notice for this client acts as it does from the SQS poller (refresh
 *   on key.rotated / key.emergency, catch-up on key.expiring / key.retired); one for another
 *   client is logged and ignored.
 * - UnsubscribeConfirmation: logged only.
 *
 * Shared code only through the main entry (packages/client/entries.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  applyRotationNotification,
  confirmSnsSubscription,
  InvalidClientOptionsError,
  parseRotationNotification,
  redactKeys,
  silentLogger,
  SnsMessageRejectedError,
  SnsMessageType,
  SnsMessageVerifier,
  SnsRejection,
  type ApiKeySource,
  type ClientLogger,
  type Clock,
  type FetchLike,
  type VerifiedSnsMessage,
} from './index';

export { confirmSnsSubscription, SigningCertificates, SnsMessageRejectedError, SnsMessageType, SnsMessageVerifier, SnsRejection, SnsSubscriptionConfirmationError, verifySnsMessage } from './index';
export type { SnsMessageVerifierOptions, VerifiedSnsMessage } from './index';

/** A POST as the handler needs it: headers (any case) and the raw body text. */
export interface WebhookRequest {
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: string;
}

/** The status to answer SNS with: 2xx stops its retries, anything else makes it retry. */
export interface WebhookResponse {
  readonly status: number;
}

/** Options of {@link createSnsWebhookHandler}. */
export interface SnsWebhookHandlerOptions {
  /** KeyRoll's client topic (the stack output); a message from any other topic is refused. */
  readonly topicArn: string;
  /** The provider to refresh. */
  readonly provider: ApiKeySource;
  /** @default the provider's `clientId` */
  readonly clientId?: string;
  /** Verifies messages (share one per process). @default one built from the options here */
  readonly verifier?: SnsMessageVerifier;
  /** Fetches signing certificates and visits SubscribeURL. @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** @default 3_600_000 (see SnsMessageVerifierOptions.maxMessageAgeMs) */
  readonly maxMessageAgeMs?: number;
  /** Bodies larger than this are refused with 413 (SNS messages are at most 256 KiB plus the envelope). @default 300_000 */
  readonly maxBodyBytes?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default silent */
  readonly logger?: ClientLogger;
}

/** Statuses the handler answers with. */
export const WebhookStatus = {
  OK: 200,
  MALFORMED: 400,
  REJECTED: 403,
  TOO_LARGE: 413,
  /** Acting on the notice failed (the key could not be read): SNS retries. */
  FAILED: 500,
  /** SNS did not accept the confirmation: SNS resends the confirmation. */
  CONFIRMATION_FAILED: 502,
} as const;

function header(headers: WebhookRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? (value as readonly string[])[0] : (value as string | undefined);
  }
  return undefined;
}

function describe(error: unknown): { errorName: string; errorMessage: string } {
  if (!(error instanceof Error)) return { errorName: 'UnknownError', errorMessage: 'A non-Error value was thrown.' };
  return { errorName: error.name, errorMessage: redactKeys(error.message) };
}

/**
 * A handler for the HTTPS endpoint KeyRoll subscribed to the client topic for this client.
 *
 * @example
 * const keys = new KeyProvider({ clientId: 'acme', source: new PickupKeySource({ … }) });
 * const webhook = createSnsWebhookHandler({ topicArn: process.env.KEYROLL_TOPIC_ARN!, provider: keys });
 * http.createServer(nodeHttpListener(webhook)).listen(8443);
 */
export function createSnsWebhookHandler(options: SnsWebhookHandlerOptions): (request: WebhookRequest) => Promise<WebhookResponse> {
  const clientId = options.clientId ?? (options.provider as { clientId?: unknown }).clientId;
  if (typeof clientId !== 'string' || clientId.length === 0) throw new InvalidClientOptionsError('clientId is required when the provider has none; got none.');
  const verifier = options.verifier ?? new SnsMessageVerifier({ topicArn: options.topicArn, fetch: options.fetch, maxMessageAgeMs: options.maxMessageAgeMs, clock: options.clock });
  if (verifier.topicArn !== options.topicArn) throw new InvalidClientOptionsError('The verifier given expects another topic than topicArn.');
  const maxBodyBytes = options.maxBodyBytes ?? 300_000;
  const logger = options.logger ?? silentLogger;

  async function act(message: VerifiedSnsMessage): Promise<WebhookResponse> {
    switch (message.Type) {
      case SnsMessageType.SUBSCRIPTION_CONFIRMATION:
        try {
          await confirmSnsSubscription(message, { fetch: options.fetch });
        } catch (error) {
          verifier.release(message.MessageId);
          logger.warn('KeyRoll webhook: confirming the subscription failed.', { topicArn: message.TopicArn, messageId: message.MessageId, ...describe(error) });
          return { status: WebhookStatus.CONFIRMATION_FAILED };
        }
        logger.info?.('KeyRoll webhook: subscription confirmed.', { topicArn: message.TopicArn, messageId: message.MessageId });
        return { status: WebhookStatus.OK };
      case SnsMessageType.UNSUBSCRIBE_CONFIRMATION:
        logger.info?.('KeyRoll webhook: the endpoint was unsubscribed from the topic; no more notices will arrive.', { topicArn: message.TopicArn, messageId: message.MessageId });
        return { status: WebhookStatus.OK };
      case SnsMessageType.NOTIFICATION: {
        const notice = parseRotationNotification(message);
        if (notice && notice.clientId !== clientId) {
          // KeyRoll's subscription filter should never let this through: worth a line in the log.
          logger.warn('KeyRoll webhook: a notice for another client arrived; ignored.', { messageId: message.MessageId, expectedClientId: clientId, noticeClientId: notice.clientId });
          return { status: WebhookStatus.OK };
        }
        try {
          const outcome = await applyRotationNotification(options.provider, clientId as string, notice);
          logger.info?.(`KeyRoll webhook: notice ${outcome}.`, { messageId: message.MessageId, eventType: notice?.eventType, outcome });
          return { status: WebhookStatus.OK };
        } catch (error) {
          verifier.release(message.MessageId);
          logger.warn('KeyRoll webhook: the refresh a notice asked for failed; SNS will deliver it again.', { messageId: message.MessageId, ...describe(error) });
          return { status: WebhookStatus.FAILED };
        }
      }
    }
  }

  return async (request) => {
    if (Buffer.byteLength(request.body ?? '') > maxBodyBytes) return { status: WebhookStatus.TOO_LARGE };
    let message: VerifiedSnsMessage;
    try {
      message = await verifier.verify(request.body);
    } catch (error) {
      if (error instanceof SnsMessageRejectedError && error.reason === SnsRejection.DUPLICATE) {
        logger.info?.('KeyRoll webhook: a message already handled arrived again; ignored.', describe(error));
        return { status: WebhookStatus.OK };
      }
      logger.warn('KeyRoll webhook: a message was rejected; nothing done.', describe(error));
      const malformed = error instanceof SnsMessageRejectedError && error.reason === SnsRejection.MALFORMED;
      return { status: malformed ? WebhookStatus.MALFORMED : WebhookStatus.REJECTED };
    }
    // SNS sends the type in a header too; a disagreement means someone rewrote the request.
    const declared = header(request.headers, 'x-amz-sns-message-type');
    if (declared !== undefined && declared !== message.Type) {
      verifier.release(message.MessageId);
      logger.warn('KeyRoll webhook: x-amz-sns-message-type disagrees with the signed Type; nothing done.', { messageId: message.MessageId });
      return { status: WebhookStatus.MALFORMED };
    }
    return act(message);
  };
}

/** Options of {@link nodeHttpListener}. */
export interface NodeHttpListenerOptions {
  /** Stop reading a body beyond this many bytes and answer 413. @default 300_000 */
  readonly maxBodyBytes?: number;
}

/**
 * Adapts a webhook handler to `node:http` (`http.createServer(listener)`, or as a route of a
 * server of your own): POST only; the body is read up to a cap; the handler's status is sent
 * with an empty body.
 */
export function nodeHttpListener(handler: (request: WebhookRequest) => Promise<WebhookResponse>, options: NodeHttpListenerOptions = {}): (request: IncomingMessage, response: ServerResponse) => void {
  const maxBodyBytes = options.maxBodyBytes ?? 300_000;
  const answer = (response: ServerResponse, status: number): void => {
    if (!response.headersSent) response.writeHead(status, { 'content-length': '0' });
    response.end();
  };
  return (request, response) => {
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      answer(response, 405);
      request.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBodyBytes) {
        refused = true;
        answer(response, WebhookStatus.TOO_LARGE);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', () => answer(response, WebhookStatus.MALFORMED));
    request.on('end', () => {
      if (refused) return;
      handler({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') }).then(
        ({ status }) => answer(response, status),
        () => answer(response, WebhookStatus.FAILED),
      );
    });
  };
}
