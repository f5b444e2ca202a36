/**
 * The client SDK against moto with real SDK clients: clients registered and rotated by the
 * project's own provisioning and rotation steps (beginRotation → createSecret → setSecret →
 * testSecret → finishSecret), notices published to a real SNS topic with the attributes the
 * state machine sets, delivered to real SQS queues (raw delivery off and on), and an API
 * that checks keys with the real DynamoDB verifier over HTTP on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient, type GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, PublishCommand, SetSubscriptionAttributesCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ManualClock } from '../../lambdas/core/clock';
import type { ClientNotice } from '../../lambdas/core/notifications';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { Stage } from '../../lambdas/aws/secret-store';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { createAuthenticatedFetch, createSnsSubscriberHandler, KeyUnavailableError, type KeyChange } from '../../client';
import { SecretsManagerKeyProvider, type SecretsManagerLike } from '../../client/secrets-manager';
import { SqsNotificationPoller } from '../../client/sqs';
import { makeTestDeps, newRotationId, registerTestClient, uniqueName } from '../support/fixtures';
import { allPlaintextKeys } from '../support/invariants';
import { rotationRequest, type TestDeps } from '../support/step-helpers';
import { errorText, newSecretValue, RecordingLogger } from './helpers';

const START = Date.parse('2026-11-28T10:00:00Z');
const INTERVAL = 300_000;

let clock: ManualClock;
let deps: TestDeps;
const sns = new SNSClient({});
const sqs = new SQSClient({});

beforeEach(async () => {
  clock = new ManualClock(START);
  deps = await makeTestDeps(clock);
});

/** The real Secrets Manager client, counting GetSecretValue calls. */
function countingSecretsManager(): SecretsManagerLike & { calls: number } {
  const real = secretsManagerClient();
  const counter = {
    calls: 0,
    send(command: GetSecretValueCommand) {
      counter.calls += 1;
      return real.send(command);
    },
  };
  return counter;
}

/** A registered client and a provider for it over the real SDK. */
async function clientWithProvider() {
  const client = await registerTestClient(deps);
  const secrets = countingSecretsManager();
  const logger = new RecordingLogger();
  const provider = new SecretsManagerKeyProvider({
    clientId: client.clientId,
    secretNamePrefix: deps.secretNamePrefix,
    secretsManager: secrets,
    clock,
    logger,
    refreshIntervalMs: INTERVAL,
  });
  const changes: KeyChange[] = [];
  provider.onChange((change) => changes.push(change));
  return { client, secrets, logger, provider, changes };
}

/** Runs a whole rotation through the project's own steps; returns the notice finishSecret produced. */
async function rotate(clientId: string, mode: RotationMode): Promise<ClientNotice> {
  const rotationId = newRotationId();
  const context = await beginRotation(deps, { request: rotationRequest(clientId, mode), rotationId });
  await createSecret(deps, context);
  await setSecret(deps, context);
  await testSecret(deps, context);
  clock.advance(1_000);
  const { notice } = await finishSecret(deps, context);
  // The state machine releases the lock after the overlap; a test that rotates again needs it now.
  await deps.keys.releaseLock(clientId, rotationId);
  return notice;
}

async function currentValue(secretId: string) {
  return (await deps.secrets.readStage(secretId, Stage.CURRENT))!.value;
}

/** Publishes a notice the way the state machine's SnsPublish task does. */
async function publish(topicArn: string, notice: ClientNotice, clientId = notice.clientId): Promise<void> {
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: JSON.stringify(notice),
      MessageAttributes: {
        clientId: { DataType: 'String', StringValue: clientId },
        eventType: { DataType: 'String', StringValue: notice.eventType },
      },
    }),
  );
}

/** A client topic with one SQS queue subscribed. */
async function topicWithQueue(options: { rawDelivery: boolean; filterClientId?: string }) {
  const name = uniqueName('clients');
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-q` }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn, ReturnSubscriptionArn: true }));
  if (options.rawDelivery) {
    await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'RawMessageDelivery', AttributeValue: 'true' }));
  }
  if (options.filterClientId) {
    await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: JSON.stringify({ clientId: [options.filterClientId] }) }));
  }
  return { topicArn: TopicArn!, queueUrl: QueueUrl! };
}

/** Messages still on the queue, visible or in flight. */
async function queueDepth(queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible);
}

/** Polls until `count` messages were received (a bounded number of polls, not a time limit). */
async function pollFor(poller: SqsNotificationPoller, count: number) {
  const total = { received: 0, refreshed: 0, ignored: 0, failed: 0, deleted: 0 };
  for (let i = 0; i < 10 && total.received < count; i++) {
    const result = await poller.pollOnce();
    for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += result[k];
  }
  return total;
}

/** Asserts that no key the secret ever held appears in `text`. */
async function expectNoPlaintext(secretId: string, ...texts: string[]) {
  const keys = await allPlaintextKeys(secretId);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) for (const text of texts) expect(text).not.toContain(key);
}

describe('KeyProvider over Secrets Manager (moto)', () => {
  it('reads AWSCURRENT, ignores AWSPENDING, and follows finishSecret on refresh and on staleness', async () => {
    const { client, provider, secrets, changes } = await clientWithProvider();
    const first = await currentValue(client.secretId);
    expect(provider.secretId).toBe(client.secretId);
    await expect(provider.getKey()).resolves.toBe(first.apiKey);
    expect(provider.currentKeyId()).toBe(client.currentKeyId);

    // Mid-rotation: a new key is AWSPENDING; the provider must keep the current one.
    const rotationId = newRotationId();
    const context = await beginRotation(deps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
    await createSecret(deps, context);
    await setSecret(deps, context);
    await expect(provider.refresh('manual')).resolves.toMatchObject({ keyId: first.keyId, changed: false });

    await testSecret(deps, context);
    const { notice } = await finishSecret(deps, context);
    const second = await currentValue(client.secretId);
    expect(notice.currentKeyId).toBe(second.keyId);
    // Cached until refreshed or stale.
    await expect(provider.getKey()).resolves.toBe(first.apiKey);
    await expect(provider.refresh('notification')).resolves.toEqual({ keyId: second.keyId, previousKeyId: first.keyId, changed: true });
    await expect(provider.getKey()).resolves.toBe(second.apiKey);
    await deps.keys.releaseLock(client.clientId, rotationId);

    const third = await rotate(client.clientId, RotationMode.SCHEDULED);
    clock.advance(INTERVAL);
    await expect(provider.getKey()).resolves.toBe((await currentValue(client.secretId)).apiKey);
    expect(provider.currentKeyId()).toBe(third.currentKeyId);
    expect(changes.map((c) => [c.previousKeyId, c.keyId, c.reason])).toEqual([
      [undefined, first.keyId, 'initial'],
      [first.keyId, second.keyId, 'notification'],
      [second.keyId, third.currentKeyId, 'stale'],
    ]);
    expect(secrets.calls).toBe(4);
  });

  it('works with the default SDK client and a secret ARN', async () => {
    const client = await registerTestClient(deps);
    const { ARN } = await secretsManagerClient().send(new DescribeSecretCommand({ SecretId: client.secretId }));
    const provider = new SecretsManagerKeyProvider({ secretId: ARN!, clock });
    await expect(provider.getKey()).resolves.toBe((await currentValue(client.secretId)).apiKey);
  });

  it('a missing or malformed secret gives KeyUnavailableError with no secret material in it or in the log', async () => {
    const logger = new RecordingLogger();
    const missing = new SecretsManagerKeyProvider({ clientId: uniqueName('nobody'), secretNamePrefix: deps.secretNamePrefix, clock, logger });
    const notFound = await missing.getKey().catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(KeyUnavailableError);
    expect(notFound).toMatchObject({ reason: 'not-found', causeName: 'ResourceNotFoundException' });

    const leaked = newSecretValue();
    const name = `${deps.secretNamePrefix}${uniqueName('broken')}`;
    await new SecretsManagerClient({}).send(new CreateSecretCommand({ Name: name, SecretString: `apiKey=${leaked.apiKey}` }));
    const broken = new SecretsManagerKeyProvider({ secretId: name, clock, logger });
    const malformed = await broken.getKey().catch((e: unknown) => e);
    expect(malformed).toMatchObject({ name: 'KeyUnavailable', reason: 'malformed' });
    expect(errorText(malformed)).not.toContain(leaked.apiKey);
    expect(logger.text()).not.toContain(leaked.apiKey);
    expect(logger.warnings).toHaveLength(2);
  });
});

describe('Refresh on notifications (SNS → SQS on moto)', () => {
  it('raw delivery off: the poller refreshes on this client’s key.rotated, ignores another client’s, and empties the queue', async () => {
    const { client, provider, logger, changes } = await clientWithProvider();
    const other = await registerTestClient(deps);
    const { topicArn, queueUrl } = await topicWithQueue({ rawDelivery: false });
    const first = await provider.getKey();

    const notice = await rotate(client.clientId, RotationMode.SCHEDULED);
    const otherNotice = await rotate(other.clientId, RotationMode.SCHEDULED);
    await publish(topicArn, otherNotice);
    await publish(topicArn, notice);

    const poller = new SqsNotificationPoller({ queueUrl, provider, waitTimeSeconds: 0, logger });
    expect(await pollFor(poller, 2)).toEqual({ received: 2, refreshed: 1, ignored: 1, failed: 0, deleted: 2 });
    expect(provider.currentKeyId()).toBe(notice.currentKeyId);
    await expect(provider.getKey()).resolves.toBe((await currentValue(client.secretId)).apiKey);
    expect(changes.at(-1)).toEqual({ previousKeyId: client.currentKeyId, keyId: notice.currentKeyId, reason: 'notification' });
    expect(await queueDepth(queueUrl)).toBe(0);
    expect(first).toBe((await deps.secrets.readVersion(client.secretId, client.currentVersionId))!.apiKey);
    await expectNoPlaintext(client.secretId, logger.text(), JSON.stringify(changes), JSON.stringify(notice));
  });

  it('raw delivery on, filtered to the client: key.emergency refreshes as an emergency', async () => {
    const { client, provider, logger, changes } = await clientWithProvider();
    const { topicArn, queueUrl } = await topicWithQueue({ rawDelivery: true, filterClientId: client.clientId });
    await provider.getKey();
    const notice = await rotate(client.clientId, RotationMode.EMERGENCY);
    expect(notice.eventType).toBe('key.emergency');
    await publish(topicArn, notice);

    const raw = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MessageAttributeNames: ['All'], VisibilityTimeout: 0 }));
    expect(JSON.parse(raw.Messages![0].Body!)).toMatchObject({ eventType: 'key.emergency' }); // the notice itself, no envelope
    expect(raw.Messages![0].MessageAttributes).toMatchObject({ clientId: { StringValue: client.clientId }, eventType: { StringValue: 'key.emergency' } });

    const poller = new SqsNotificationPoller({ queueUrl, provider, waitTimeSeconds: 0, logger });
    expect(await pollFor(poller, 1)).toMatchObject({ received: 1, refreshed: 1, deleted: 1 });
    expect(changes.at(-1)).toMatchObject({ keyId: notice.currentKeyId, reason: 'emergency' });
    expect(await queueDepth(queueUrl)).toBe(0);
    await expectNoPlaintext(client.secretId, logger.text());
  });

  it('start() polls in the background until stop()', async () => {
    const { client, provider } = await clientWithProvider();
    const { topicArn, queueUrl } = await topicWithQueue({ rawDelivery: false });
    await provider.getKey();
    const poller = new SqsNotificationPoller({ queueUrl, provider, waitTimeSeconds: 1 });
    const changed = new Promise<KeyChange>((resolve) => provider.onChange(resolve));
    poller.start();
    try {
      const notice = await rotate(client.clientId, RotationMode.SCHEDULED);
      await publish(topicArn, notice);
      await expect(changed).resolves.toMatchObject({ keyId: notice.currentKeyId, reason: 'notification' });
    } finally {
      await poller.stop();
    }
    expect(poller.running).toBe(false);
  });

  it('a Lambda subscribed to SNS refreshes from the delivered record', async () => {
    const { client, provider } = await clientWithProvider();
    const { topicArn, queueUrl } = await topicWithQueue({ rawDelivery: false });
    await provider.getKey();
    const notice = await rotate(client.clientId, RotationMode.SCHEDULED);
    await publish(topicArn, notice);
    // What SNS delivered (the envelope) is what a Lambda record carries as `Sns`.
    const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }));
    const event = { Records: [{ EventSource: 'aws:sns', Sns: JSON.parse(Messages![0].Body!) as unknown }] };
    const handler = createSnsSubscriberHandler(provider, client.clientId);
    await expect(handler(event)).resolves.toEqual({ refreshed: 1, ignored: 0 });
    expect(provider.currentKeyId()).toBe(notice.currentKeyId);
    await expect(createSnsSubscriberHandler(provider, 'someone-else')(event)).resolves.toEqual({ refreshed: 0, ignored: 1 });
  });
});

describe('createAuthenticatedFetch against an API guarded by the KeyRoll verifier', () => {
  let server: Server;
  let baseUrl: string;
  const presented: string[] = [];

  beforeEach(async () => {
    const verifier = createDynamoKeyVerifier({ tableName: deps.tableName, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0, clock });
    presented.length = 0;
    server = createServer((req, res) => {
      const key = req.headers.authorization?.replace(/^Bearer /, '') ?? req.headers['x-api-key'];
      presented.push(String(key));
      const scopes = req.url?.startsWith('/admin') ? ['admin:write'] : [];
      void verifier.verify(key, scopes).then((verdict) => {
        res.statusCode = verdict.accepted ? 200 : verdict.reason === 'insufficient_scope' ? 403 : 401;
        res.end(JSON.stringify(verdict.accepted ? { clientId: verdict.principal.clientId } : { reason: verdict.reason }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('after an emergency rotation: 401 with the revoked key → one refresh → retry with the new key succeeds', async () => {
    const { client, provider, secrets, logger } = await clientWithProvider();
    const api = createAuthenticatedFetch(provider);
    const ok = await api(`${baseUrl}/whoami`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ clientId: client.clientId });
    const oldKey = presented[0];

    const notice = await rotate(client.clientId, RotationMode.EMERGENCY);
    const response = await api(`${baseUrl}/orders`, { method: 'POST', body: JSON.stringify({ n: 1 }) });
    expect(response.status).toBe(200);
    const newKey = (await currentValue(client.secretId)).apiKey;
    expect(presented).toEqual([oldKey, oldKey, newKey]);
    expect(provider.currentKeyId()).toBe(notice.currentKeyId);
    expect(secrets.calls).toBe(2);
    await expectNoPlaintext(client.secretId, logger.text());
  });

  it('during a scheduled overlap the old key still works, so nothing is refreshed until the cache is stale', async () => {
    const { client, provider, secrets } = await clientWithProvider();
    const api = createAuthenticatedFetch(provider, { header: 'x-api-key' });
    expect((await api(`${baseUrl}/a`)).status).toBe(200);
    await rotate(client.clientId, RotationMode.SCHEDULED);
    expect((await api(`${baseUrl}/b`)).status).toBe(200);
    expect(presented[1]).toBe(presented[0]);
    expect(secrets.calls).toBe(1);

    clock.advance(INTERVAL);
    expect((await api(`${baseUrl}/c`)).status).toBe(200);
    expect(presented[2]).toBe((await currentValue(client.secretId)).apiKey);
    expect(secrets.calls).toBe(2);
  });

  it('a refusal that is not about the key (missing scope, 403): one refresh, no retry, then a cooldown', async () => {
    const { provider, secrets } = await clientWithProvider();
    const api = createAuthenticatedFetch(provider, { clock });
    expect((await api(`${baseUrl}/orders`)).status).toBe(200);
    const response = await api(`${baseUrl}/admin/users`);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ reason: 'insufficient_scope' });
    expect(presented).toHaveLength(2);
    expect(secrets.calls).toBe(2);
    for (let i = 0; i < 3; i++) expect((await api(`${baseUrl}/admin/users`)).status).toBe(403);
    expect(secrets.calls).toBe(2);
  });
});
