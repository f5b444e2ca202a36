/**
 * SqsNotificationPoller and a SubscriptionConfirmation on its queue (KeyRoll subscribed a queue
 * in another account): verified like a webhook message, confirmed through its SubscribeURL,
 * deleted; a forged one is deleted unconfirmed; a failed confirmation stays queued.
 */
import { DeleteMessageBatchCommand, type DeleteMessageBatchCommandOutput, type Message, type ReceiveMessageCommand, type ReceiveMessageCommandOutput } from '@aws-sdk/client-sqs';
import { SecretsManagerKeyProvider } from '../../client/secrets-manager';
import { SqsNotificationPoller, type SqsLike } from '../../client/poller';
import { RecordingLogger, StubSecretsManager } from './helpers';
import { CERT_URL, confirmation, makeSigningIdentity, RecordingFetch, signSnsMessage, TOPIC_ARN, type SigningIdentity } from './sns-fixtures';

/** Hands out one batch, records deletes. */
class OneBatchSqs implements SqsLike {
  readonly deleted: string[] = [];
  constructor(private batch: Message[]) {}
  send(command: ReceiveMessageCommand, options?: { abortSignal?: AbortSignal }): Promise<ReceiveMessageCommandOutput>;
  send(command: DeleteMessageBatchCommand): Promise<DeleteMessageBatchCommandOutput>;
  async send(command: ReceiveMessageCommand | DeleteMessageBatchCommand): Promise<ReceiveMessageCommandOutput | DeleteMessageBatchCommandOutput> {
    await Promise.resolve();
    if (command instanceof DeleteMessageBatchCommand) {
      this.deleted.push(...(command.input.Entries ?? []).map((entry) => entry.ReceiptHandle!));
      return { $metadata: {}, Successful: [], Failed: [] };
    }
    const batch = this.batch;
    this.batch = [];
    return { $metadata: {}, Messages: batch };
  }
}

let sns: SigningIdentity;
let impostor: SigningIdentity;
beforeAll(() => {
  sns = makeSigningIdentity();
  impostor = makeSigningIdentity();
});

function setup(body: Record<string, string>, options: { topicArn?: string } = { topicArn: TOPIC_ARN }) {
  const http = new RecordingFetch();
  http.certificates.set(CERT_URL, sns.certificatePem);
  const secrets = new StubSecretsManager();
  const logger = new RecordingLogger();
  const provider = new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets });
  const sqs = new OneBatchSqs([{ MessageId: 'm1', ReceiptHandle: 'rh-1', Body: JSON.stringify(body) }]);
  const poller = new SqsNotificationPoller({ queueUrl: 'http://sqs.local/123456789012/acme', provider, sqs, logger, fetch: http.fetch, ...options });
  return { http, secrets, logger, sqs, poller };
}

describe('SqsNotificationPoller and SubscriptionConfirmation', () => {
  it('verifies it, GETs its SubscribeURL and deletes it; no key read', async () => {
    const signed = signSnsMessage(confirmation(new Date()), sns);
    const { http, secrets, sqs, poller } = setup(signed);
    await expect(poller.pollOnce()).resolves.toEqual({ received: 1, refreshed: 0, ignored: 0, failed: 0, deleted: 1, confirmed: 1 });
    expect(http.calls).toEqual([
      { url: CERT_URL, method: 'GET' },
      { url: signed.SubscribeURL, method: 'GET' },
    ]);
    expect(sqs.deleted).toEqual(['rh-1']);
    expect(secrets.calls).toHaveLength(0);
  });

  it('deletes a forged or other-topic confirmation without visiting its SubscribeURL', async () => {
    for (const signed of [signSnsMessage(confirmation(new Date()), impostor), signSnsMessage(confirmation(new Date(), { topicArn: `${TOPIC_ARN}-other` }), sns)]) {
      const { http, logger, sqs, poller } = setup(signed);
      await expect(poller.pollOnce()).resolves.toMatchObject({ ignored: 1, confirmed: 0, deleted: 1 });
      expect(http.calls.map((c) => c.url)).toEqual([CERT_URL]);
      expect(sqs.deleted).toEqual(['rh-1']);
      expect(logger.warnings.map((w) => w.message)).toEqual([expect.stringContaining('rejected')]);
    }
  });

  it('leaves it queued when SNS refuses the confirmation, so it is tried again', async () => {
    const { http, sqs, poller } = setup(signSnsMessage(confirmation(new Date()), sns));
    http.confirmStatus = 500;
    await expect(poller.pollOnce()).resolves.toMatchObject({ failed: 1, confirmed: 0, deleted: 0 });
    expect(sqs.deleted).toEqual([]);
  });

  it('without a topicArn, logs and deletes it unverified and unconfirmed', async () => {
    const { http, logger, sqs, poller } = setup(signSnsMessage(confirmation(new Date()), sns), {});
    await expect(poller.pollOnce()).resolves.toMatchObject({ ignored: 1, confirmed: 0, deleted: 1 });
    expect(http.calls).toEqual([]);
    expect(sqs.deleted).toEqual(['rh-1']);
    expect(logger.warnings.map((w) => w.message)).toEqual([expect.stringContaining('no topicArn')]);
  });
});
