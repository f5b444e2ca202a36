/**
 * Long-polls an SQS queue subscribed to KeyRoll's client topic and applies each notification
 * to a key provider. Works with raw message delivery on or off.
 *
 * Every process that holds a provider needs its own queue (SNS fans out to queues; consumers
 * of one queue compete). A subscription filter policy on `clientId` keeps other clients'
 * messages out; those that arrive anyway are ignored and deleted.
 *
 * Messages are deleted once handled, including ignored and unparseable ones. A message
 * whose refresh failed is left on the queue, so it comes back after the visibility timeout
 * and the refresh is tried again.
 *
 * A queue in another account than the topic receives a SubscriptionConfirmation when KeyRoll
 * subscribes it. Given the topic ARN, the poller verifies that message like an HTTPS webhook
 * does (signature, certificate host, topic, age: sns-message.ts) and confirms it by visiting
 * its SubscribeURL (host checked again), then deletes it. A confirmation that fails to verify
 * is logged and deleted with no effect; one whose confirmation request fails stays queued.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient, type DeleteMessageBatchCommandOutput, type Message, type ReceiveMessageCommandOutput } from '@aws-sdk/client-sqs';
// Shared code only through the main entry: the built `sqs` entry imports it from there instead
// of carrying a second copy (packages/client/entries.ts).
import {
  applyRotationNotification,
  confirmSnsSubscription,
  InvalidClientOptionsError,
  NotificationOutcome,
  parseRotationNotification,
  redactKeys,
  silentLogger,
  SnsMessageType,
  SnsMessageVerifier,
  systemScheduler,
  type ApiKeySource,
  type ClientLogger,
  type FetchLike,
  type Scheduler,
} from './index';

/** The part of an SQS client the poller uses; an `SQSClient` fits. */
export interface SqsLike {
  send(command: ReceiveMessageCommand, options?: { abortSignal?: AbortSignal }): Promise<ReceiveMessageCommandOutput>;
  send(command: DeleteMessageBatchCommand): Promise<DeleteMessageBatchCommandOutput>;
}

/** Options of an {@link SqsNotificationPoller}. */
export interface SqsNotificationPollerOptions {
  /** The queue subscribed to the client topic. */
  readonly queueUrl: string;
  /** The provider to refresh. */
  readonly provider: ApiKeySource;
  /**
   * Whose notifications to act on.
   * @default the provider's `clientId`, when it has one
   */
  readonly clientId?: string;
  /** @default an `SQSClient` built from the environment */
  readonly sqs?: SqsLike;
  /**
   * Long-poll wait of each ReceiveMessage, 0-20 seconds.
   * @default 20
   */
  readonly waitTimeSeconds?: number;
  /**
   * Messages per ReceiveMessage, 1-10.
   * @default 10
   */
  readonly maxMessages?: number;
  /**
   * Pause after a failed ReceiveMessage before the next one.
   * @default 5_000
   */
  readonly errorBackoffMs?: number;
  /** @default timers that do not keep the process alive */
  readonly scheduler?: Scheduler;
  /** @default silent */
  readonly logger?: ClientLogger;
  /**
   * KeyRoll's client topic. When set, a SubscriptionConfirmation from it on the queue (a queue in
   * another account) is verified and confirmed. Unset: such a message is logged and deleted.
   * @default none
   */
  readonly topicArn?: string;
  /** Verifies SubscriptionConfirmations. @default one for `topicArn` */
  readonly verifier?: SnsMessageVerifier;
  /** Fetches signing certificates and visits SubscribeURL. @default globalThis.fetch */
  readonly fetch?: FetchLike;
}

/** What one poll did. */
export interface PollResult {
  readonly received: number;
  readonly refreshed: number;
  readonly ignored: number;
  /** Messages whose refresh failed; left on the queue for redelivery. */
  readonly failed: number;
  readonly deleted: number;
  /** SubscriptionConfirmations verified and confirmed. */
  readonly confirmed: number;
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidClientOptionsError(`${name} must be an integer from ${min} to ${max}; got ${value}.`);
  }
  return value;
}

/**
 * Polls a queue for KeyRoll notifications until stopped.
 *
 * @example
 * const poller = new SqsNotificationPoller({ queueUrl, provider: keys });
 * poller.start();
 * // on shutdown:
 * await poller.stop();
 */
export class SqsNotificationPoller {
  readonly queueUrl: string;
  readonly clientId: string;
  readonly #provider: ApiKeySource;
  readonly #sqs: SqsLike;
  readonly #waitTimeSeconds: number;
  readonly #maxMessages: number;
  readonly #errorBackoffMs: number;
  readonly #scheduler: Scheduler;
  readonly #logger: ClientLogger;
  readonly #verifier: SnsMessageVerifier | undefined;
  readonly #fetch: FetchLike | undefined;
  #abort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #wakeUp: (() => void) | undefined;

  constructor(options: SqsNotificationPollerOptions) {
    if (!options.queueUrl) throw new InvalidClientOptionsError('queueUrl is required; got an empty value.');
    const clientId = options.clientId ?? (options.provider as { clientId?: unknown }).clientId;
    if (typeof clientId !== 'string' || clientId.length === 0) {
      throw new InvalidClientOptionsError('clientId is required when the provider has none; got none.');
    }
    this.queueUrl = options.queueUrl;
    this.clientId = clientId;
    this.#provider = options.provider;
    this.#sqs = options.sqs ?? new SQSClient({});
    this.#waitTimeSeconds = integerIn('waitTimeSeconds', options.waitTimeSeconds ?? 20, 0, 20);
    this.#maxMessages = integerIn('maxMessages', options.maxMessages ?? 10, 1, 10);
    this.#errorBackoffMs = options.errorBackoffMs ?? 5_000;
    if (!Number.isFinite(this.#errorBackoffMs) || this.#errorBackoffMs < 0) {
      throw new InvalidClientOptionsError(`errorBackoffMs must be a non-negative number of milliseconds; got ${this.#errorBackoffMs}.`);
    }
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#logger = options.logger ?? silentLogger;
    this.#fetch = options.fetch;
    this.#verifier = options.verifier ?? (options.topicArn !== undefined ? new SnsMessageVerifier({ topicArn: options.topicArn, fetch: options.fetch }) : undefined);
  }

  /** Whether the poll loop is running. */
  get running(): boolean {
    return this.#loop !== undefined;
  }

  /** Starts polling in the background. Calling it while running does nothing. */
  start(): void {
    if (this.#loop) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#loop = this.#run(abort.signal).finally(() => {
      this.#loop = undefined;
    });
  }

  /**
   * Stops polling: aborts the ReceiveMessage in flight, lets messages already received
   * finish (and be deleted), and resolves when the loop has ended.
   */
  async stop(): Promise<void> {
    this.#abort?.abort();
    this.#wakeUp?.();
    await this.#loop;
  }

  /**
   * One ReceiveMessage, then applies and deletes what it got. `start()` calls it in a loop;
   * tests and callers with their own loop can call it directly.
   */
  async pollOnce(signal?: AbortSignal): Promise<PollResult> {
    const { Messages: messages = [] } = await this.#sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: this.#maxMessages,
        WaitTimeSeconds: this.#waitTimeSeconds,
        MessageAttributeNames: ['All'],
      }),
      signal ? { abortSignal: signal } : undefined,
    );
    // Concurrently: refreshes triggered by several messages share one read (single flight).
    const outcomes = await Promise.all(messages.map((message) => this.#handle(message)));
    const done = messages.filter((message, i) => outcomes[i] !== 'failed' && message.ReceiptHandle);
    const deleted = await this.#delete(done);
    return {
      received: messages.length,
      refreshed: outcomes.filter((o) => o === NotificationOutcome.REFRESHED).length,
      ignored: outcomes.filter((o) => o === NotificationOutcome.IGNORED).length,
      failed: outcomes.filter((o) => o === 'failed').length,
      deleted,
      confirmed: outcomes.filter((o) => o === 'confirmed').length,
    };
  }

  async #run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.pollOnce(signal);
      } catch (error) {
        if (signal.aborted) break;
        this.#logger.warn(`KeyRoll: receiving notifications from ${this.queueUrl} failed; retrying.`, describe(error));
        await this.#sleep(this.#errorBackoffMs, signal);
      }
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const handle = this.#scheduler.setTimeout(() => {
        this.#wakeUp = undefined;
        resolve();
      }, ms);
      this.#wakeUp = () => {
        this.#scheduler.clearTimeout(handle);
        this.#wakeUp = undefined;
        resolve();
      };
    });
  }

  async #handle(message: Message): Promise<NotificationOutcome | 'failed' | 'confirmed'> {
    if (subscriptionConfirmation(message.Body)) return this.#confirm(message);
    try {
      return await applyRotationNotification(this.#provider, this.clientId, parseRotationNotification(message.Body, message.MessageAttributes));
    } catch (error) {
      this.#logger.warn('KeyRoll: a rotation notification could not be applied; it stays queued for redelivery.', {
        queueUrl: this.queueUrl,
        messageId: message.MessageId,
        ...describe(error),
      });
      return 'failed';
    }
  }

  /** A SubscriptionConfirmation: verified and confirmed when a topic is configured, else ignored. */
  async #confirm(message: Message): Promise<NotificationOutcome | 'failed' | 'confirmed'> {
    const where = { queueUrl: this.queueUrl, messageId: message.MessageId };
    if (!this.#verifier) {
      this.#logger.warn('KeyRoll: a SubscriptionConfirmation arrived but no topicArn is configured to verify it; ignored.', where);
      return NotificationOutcome.IGNORED;
    }
    let verified;
    try {
      verified = await this.#verifier.verify(message.Body);
    } catch (error) {
      this.#logger.warn('KeyRoll: a SubscriptionConfirmation was rejected; nothing done.', { ...where, ...describe(error) });
      return NotificationOutcome.IGNORED;
    }
    try {
      await confirmSnsSubscription(verified, this.#fetch ? { fetch: this.#fetch } : {});
    } catch (error) {
      this.#verifier.release(verified.MessageId);
      this.#logger.warn('KeyRoll: confirming the subscription failed; the message stays queued.', { ...where, ...describe(error) });
      return 'failed';
    }
    this.#logger.info?.('KeyRoll: subscription of the queue to the client topic confirmed.', { ...where, topicArn: verified.TopicArn });
    return 'confirmed';
  }

  async #delete(messages: readonly Message[]): Promise<number> {
    if (messages.length === 0) return 0;
    try {
      const { Failed: failed = [] } = await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: messages.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
      if (failed.length > 0) {
        this.#logger.warn(`KeyRoll: ${failed.length} handled notification(s) could not be deleted; they will be delivered again.`, {
          queueUrl: this.queueUrl,
          codes: failed.map((entry) => entry.Code),
        });
      }
      return messages.length - failed.length;
    } catch (error) {
      this.#logger.warn('KeyRoll: deleting handled notifications failed; they will be delivered again.', {
        queueUrl: this.queueUrl,
        ...describe(error),
      });
      return 0;
    }
  }
}

/** Whether an SQS body is an SNS SubscriptionConfirmation envelope (cheap check before verifying). */
function subscriptionConfirmation(body: string | undefined): boolean {
  if (!body?.includes('SubscriptionConfirmation')) return false;
  try {
    const document = JSON.parse(body) as unknown;
    return typeof document === 'object' && document !== null && (document as { Type?: unknown }).Type === SnsMessageType.SUBSCRIPTION_CONFIRMATION;
  } catch {
    return false;
  }
}

function describe(error: unknown): { errorName: string; errorMessage: string } {
  if (!(error instanceof Error)) return { errorName: 'UnknownError', errorMessage: 'A non-Error value was thrown.' };
  return { errorName: error.name, errorMessage: redactKeys(error.message) };
}
