/**
 * SqsNotificationPoller with a stub SQS client: what it receives with, what it deletes and
 * keeps, error backoff with a manual scheduler, and that stop() aborts a long poll in flight.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { DeleteMessageBatchCommandOutput, ReceiveMessageCommandOutput } from '@aws-sdk/client-sqs';
import { ManualClock } from '../../lambdas/core/clock';
import { rotatedNotice } from '../../lambdas/core/notifications';
import { InvalidClientOptionsError } from '../../client/errors';
import { SecretsManagerKeyProvider } from '../../client/secrets-manager';
import { SqsNotificationPoller, type SqsLike } from '../../client/poller';
import { awsError, ManualScheduler, RecordingLogger, settle, StubSecretsManager } from './helpers';

const QUEUE_URL = 'http://sqs.us-east-1.localhost/123456789012/acme-keyroll';

function rotatedBody(clientId: string, currentKeyId: string, emergency = false): string {
  const notice = rotatedNotice({
    clientId,
    rotationId: 'rot-1',
    occurredAt: '2026-11-28T10:00:00.000Z',
    currentKeyId,
    previousKeyId: 'krt_kid_prev',
    previousKeyNotAfter: '2026-11-29T10:00:00.000Z',
    revokedKeyIds: [],
    emergency,
  });
  return JSON.stringify({
    Type: 'Notification',
    Message: JSON.stringify(notice),
    MessageAttributes: { clientId: { Type: 'String', Value: clientId }, eventType: { Type: 'String', Value: notice.eventType } },
  });
}

/** Answers ReceiveMessage from a list of batches (or waits until aborted), records deletes. */
class StubSqs implements SqsLike {
  readonly receives: { input: ReceiveMessageCommand['input']; signal: AbortSignal | undefined }[] = [];
  readonly deleted: string[] = [];
  batches: (Message[] | Error)[] = [];
  /** Receipt handles the delete call reports as failed. */
  failDeletes = new Set<string>();

  send(command: ReceiveMessageCommand, options?: { abortSignal?: AbortSignal }): Promise<ReceiveMessageCommandOutput>;
  send(command: DeleteMessageBatchCommand): Promise<DeleteMessageBatchCommandOutput>;
  async send(command: ReceiveMessageCommand | DeleteMessageBatchCommand, options?: { abortSignal?: AbortSignal }): Promise<ReceiveMessageCommandOutput | DeleteMessageBatchCommandOutput> {
    if (command instanceof DeleteMessageBatchCommand) {
      const entries = command.input.Entries ?? [];
      const failed = entries.filter((e) => this.failDeletes.has(e.ReceiptHandle!));
      this.deleted.push(...entries.filter((e) => !this.failDeletes.has(e.ReceiptHandle!)).map((e) => e.ReceiptHandle!));
      return { $metadata: {}, Successful: [], Failed: failed.map((e) => ({ Id: e.Id, Code: 'ReceiptHandleIsInvalid', SenderFault: true })) };
    }
    this.receives.push({ input: command.input, signal: options?.abortSignal });
    const next = this.batches.shift();
    if (next instanceof Error) throw next;
    if (next) return { $metadata: {}, Messages: next };
    // A long poll with nothing to deliver: wait until aborted.
    return new Promise((_resolve, reject) => {
      const signal = options?.abortSignal;
      if (!signal) return;
      signal.addEventListener('abort', () => reject(awsError('AbortError', 'Request aborted')), { once: true });
    });
  }
}

function setup() {
  const clock = new ManualClock(Date.parse('2026-11-28T10:00:00Z'));
  const scheduler = new ManualScheduler(clock);
  const secrets = new StubSecretsManager();
  const logger = new RecordingLogger();
  const provider = new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets, clock, scheduler });
  const sqs = new StubSqs();
  const poller = new SqsNotificationPoller({ queueUrl: QUEUE_URL, provider, sqs, scheduler, logger, errorBackoffMs: 5_000 });
  return { clock, scheduler, secrets, logger, provider, sqs, poller };
}

const message = (id: string, body: string, attributes?: Message['MessageAttributes']): Message => ({
  MessageId: id,
  ReceiptHandle: `rh-${id}`,
  Body: body,
  ...(attributes ? { MessageAttributes: attributes } : {}),
});

describe('SqsNotificationPoller.pollOnce', () => {
  it('long-polls for up to 10 messages with all message attributes', async () => {
    const { poller, sqs } = setup();
    sqs.batches = [[]];
    await expect(poller.pollOnce()).resolves.toEqual({ received: 0, refreshed: 0, ignored: 0, failed: 0, deleted: 0, confirmed: 0 });
    expect(sqs.receives[0].input).toEqual({ QueueUrl: QUEUE_URL, MaxNumberOfMessages: 10, WaitTimeSeconds: 20, MessageAttributeNames: ['All'] });
  });

  it('refreshes on this client’s rotation and deletes handled, ignored and unparseable messages', async () => {
    const { poller, sqs, secrets, provider } = setup();
    await provider.getKey();
    const next = secrets.rotate();
    sqs.batches = [
      [
        message('1', rotatedBody('acme', next.keyId)),
        message('2', rotatedBody('globex', 'krt_kid_other')),
        message('3', 'not json at all'),
        // raw delivery: the notice itself, attributes on the SQS message
        message('4', JSON.parse(rotatedBody('acme', next.keyId, true)).Message as string, {
          clientId: { DataType: 'String', StringValue: 'acme' },
          eventType: { DataType: 'String', StringValue: 'key.emergency' },
        }),
      ],
    ];
    const result = await poller.pollOnce();
    expect(result).toEqual({ received: 4, refreshed: 2, ignored: 2, failed: 0, deleted: 4, confirmed: 0 });
    expect(sqs.deleted.sort()).toEqual(['rh-1', 'rh-2', 'rh-3', 'rh-4']);
    expect(provider.currentKeyId()).toBe(next.keyId);
    // Both refreshing messages shared one read.
    expect(secrets.calls).toHaveLength(2);
  });

  it('leaves a message whose refresh failed on the queue for redelivery, and logs without the key', async () => {
    const { poller, sqs, secrets, provider, logger } = setup();
    const held = await provider.getKey();
    secrets.rotate();
    secrets.failure = awsError('ThrottlingException');
    sqs.batches = [[message('1', rotatedBody('acme', 'krt_kid_new')), message('2', rotatedBody('globex', 'krt_kid_x'))]];
    await expect(poller.pollOnce()).resolves.toMatchObject({ received: 2, failed: 1, ignored: 1, deleted: 1 });
    expect(sqs.deleted).toEqual(['rh-2']);
    expect(logger.warnings.map((w) => w.message)).toEqual(['KeyRoll: a rotation notification could not be applied; it stays queued for redelivery.']);
    expect(logger.warnings[0].attributes[0]).toMatchObject({ messageId: '1', errorName: 'KeyUnavailable' });
    expect(logger.text()).not.toContain(held);
    expect(logger.text()).not.toContain(secrets.value.apiKey);
  });

  it('reports deletes that SQS refused', async () => {
    const { poller, sqs, logger } = setup();
    sqs.batches = [[message('1', 'x'), message('2', 'y')]];
    sqs.failDeletes.add('rh-2');
    await expect(poller.pollOnce()).resolves.toMatchObject({ received: 2, deleted: 1 });
    expect(logger.warnings[0].message).toMatch(/1 handled notification\(s\) could not be deleted/);
  });
});

describe('SqsNotificationPoller loop', () => {
  it('polls until stopped; stop() aborts the long poll in flight', async () => {
    const { poller, sqs, secrets, provider } = setup();
    await provider.getKey();
    const next = secrets.rotate();
    sqs.batches = [[message('1', rotatedBody('acme', next.keyId))], []];
    poller.start();
    poller.start(); // no second loop
    expect(poller.running).toBe(true);
    await settle();
    expect(provider.currentKeyId()).toBe(next.keyId);
    expect(sqs.receives).toHaveLength(3); // the batch, the empty batch, then a long poll in flight
    const inFlight = sqs.receives[2].signal!;
    expect(inFlight.aborted).toBe(false);

    await poller.stop();
    expect(inFlight.aborted).toBe(true);
    expect(poller.running).toBe(false);
    expect(sqs.receives).toHaveLength(3);
  });

  it('backs off errorBackoffMs after a failed receive, then goes on', async () => {
    const { poller, sqs, scheduler, logger } = setup();
    sqs.batches = [awsError('QueueDoesNotExist', 'The specified queue does not exist.'), []];
    poller.start();
    await settle();
    expect(sqs.receives).toHaveLength(1);
    expect(logger.warnings[0].attributes[0]).toMatchObject({ errorName: 'QueueDoesNotExist' });
    await scheduler.advance(4_999);
    expect(sqs.receives).toHaveLength(1);
    await scheduler.advance(1);
    expect(sqs.receives).toHaveLength(3);
    await poller.stop();
  });

  it('stop() during the backoff ends the loop at once', async () => {
    const { poller, sqs, scheduler } = setup();
    sqs.batches = [awsError('ServiceUnavailable')];
    poller.start();
    await settle();
    expect(scheduler.pending).toBe(1);
    await poller.stop();
    expect(scheduler.pending).toBe(0);
    expect(sqs.receives).toHaveLength(1);
  });
});

describe('SqsNotificationPoller options', () => {
  it('takes the client id from the provider, or requires one', () => {
    const { poller } = setup();
    expect(poller.clientId).toBe('acme');
    const anonymous = new SecretsManagerKeyProvider({ secretId: 'arn:aws:secretsmanager:us-east-1:1:secret:x', secretsManager: new StubSecretsManager() });
    expect(() => new SqsNotificationPoller({ queueUrl: QUEUE_URL, provider: anonymous, sqs: new StubSqs() })).toThrow(InvalidClientOptionsError);
    expect(new SqsNotificationPoller({ queueUrl: QUEUE_URL, provider: anonymous, clientId: 'acme', sqs: new StubSqs() }).clientId).toBe('acme');
  });

  it('rejects out-of-range polling options, saying what it got', () => {
    const { provider } = setup();
    const base = { queueUrl: QUEUE_URL, provider, sqs: new StubSqs() };
    expect(() => new SqsNotificationPoller({ ...base, waitTimeSeconds: 21 })).toThrow(/waitTimeSeconds must be an integer from 0 to 20; got 21/);
    expect(() => new SqsNotificationPoller({ ...base, maxMessages: 0 })).toThrow(/maxMessages/);
    expect(() => new SqsNotificationPoller({ ...base, errorBackoffMs: -1 })).toThrow(/errorBackoffMs/);
    expect(() => new SqsNotificationPoller({ ...base, queueUrl: '' })).toThrow(/queueUrl/);
  });
});
