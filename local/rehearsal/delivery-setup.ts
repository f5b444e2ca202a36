/**
 * Sets up the rehearsal's delivered consumers the way a platform team and its clients would:
 *
 * - `outside-01`, a client outside AWS: it makes an ES256 key pair (jose) and registers the
 *   public JWK and an `https://` webhook; it picks its key up from the pickup endpoint
 *   (local/pickup-server.ts runs the real handler) with `PickupKeySource`, and follows notices
 *   through `createSnsWebhookHandler` on a local https endpoint that moto delivers to once the
 *   handler confirmed the subscription (local/https-endpoint.ts). Its last rotation is an
 *   emergency.
 * - `partner-01`, a client in a second emulated account (local/emulated-accounts.ts): a role
 *   of its own account reads the secret by ARN through the account boundary
 *   (local/account-boundary.ts: the secret's resource policy and KMS grant decide), and its
 *   notices land on a queue of its own account, which the SDK poller confirms.
 *
 * Their delivery settings go in through the operator API (`updateClientDelivery`), so KeyRoll's
 * own projection (lambdas/aws/delivery/project-delivery.ts) writes the secret policy, the KMS
 * grant and both subscriptions.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetSubscriptionAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { FetchLike } from '../../client/authenticated-fetch';
import { parseRotationNotification } from '../../client/notifications';
import { KeyProvider } from '../../client/key-provider';
import { PickupKeySource, type PrivateJwk } from '../../client/pickup';
import { SqsNotificationPoller, type SqsLike } from '../../client/poller';
import { SecretsManagerKeySource } from '../../client/secrets-manager';
import { createSnsWebhookHandler, verifySnsMessage } from '../../client/webhook';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { InProcessDeliveryProjector } from '../../lambdas/aws/delivery/project-delivery';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { SecretStore } from '../../lambdas/aws/secret-store';
import type { ClientRecord } from '../../lambdas/core/model';
import { createOpsDeps, type OpsDeps } from '../../operator/ops/ops-deps';
import { updateClientDelivery } from '../../operator/ops/update-delivery';
import { startAccountBoundary, type AccountBoundary } from '../account-boundary';
import type { PolicyDocument } from '../access-evaluation';
import { assumeRoleIn, CLIENT_ACCOUNT, HOME_ACCOUNT } from '../emulated-accounts';
import { startHttpsEndpoint, type HttpsEndpoint } from '../https-endpoint';
import { startPickupServer, type PickupServer } from '../pickup-server';
import { localSnsUrl } from '../sns-local-urls';
import { LOCAL_ROTATION_STATE_MACHINE_ARN, type SynthesizedKeyRoll } from '../synthesized-workflow';
import { DeliveredConsumer, newObservationLog, timedPickupFetch, type DeliveryConsumers, type DeliveryContext, type ObservationLog } from './delivery-consumers';

/** The outside-AWS client and the cross-account client. */
export const OUTSIDE_CLIENT = 'outside-01';
export const PARTNER_CLIENT = 'partner-01';

const DAY_MS = 24 * 3_600_000;
/** How long the set-up waits for SNS to deliver a confirmation and the consumer to confirm it. */
const CONFIRMATION_TIMEOUT_MS = 15_000;
const PARTITION = 'aws';
/** Stand-ins for the stack's roles: KeyRoll's secret readers and the delivery function's role. */
const KEYROLL_READER_ROLE = `arn:${PARTITION}:iam::${HOME_ACCOUNT}:role/KeyRollRehearsalRotation`;
const DELIVERY_ROLE = `arn:${PARTITION}:iam::${HOME_ACCOUNT}:role/KeyRollRehearsalDelivery`;

/** A delivery subscription did not get confirmed in time: the consumer would never hear a notice. */
export class DeliveryNotConfirmedError extends Error {
  override readonly name = 'DeliveryNotConfirmed';
}

/** The synthesized key policy with the pseudo parameters (the only references it has) resolved. */
export function resolvedKeyPolicy(synth: SynthesizedKeyRoll): PolicyDocument {
  const key = Object.values(synth.resources).find((r) => r.Type === 'AWS::KMS::Key');
  if (!key) throw new Error('The synthesized stack has no KMS key.');
  const pseudo: Record<string, string> = { 'AWS::Partition': PARTITION, 'AWS::AccountId': HOME_ACCOUNT, 'AWS::Region': 'us-east-1' };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    if (typeof record.Ref === 'string' && pseudo[record.Ref]) return pseudo[record.Ref];
    if (Array.isArray(record['Fn::Join'])) {
      const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => String(resolve(part))).join(separator);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(key.Properties.KeyPolicy) as PolicyDocument;
}

/** Fetch that reaches SNS's URLs (signing certificates, SubscribeURL) where the emulator serves them. */
const localSnsFetch: FetchLike = (input, init) => fetch(typeof input === 'string' ? localSnsUrl(input) : input instanceof URL ? localSnsUrl(input.href) : input, init);

/** Records the KeyRoll notices a consumer's queue delivers (the poller itself only acts on them). */
/**
 * EMULATOR GAP (seam): the patched moto puts its own `http://127.0.0.1:<port>/sns_<region>/…`
 * in a SubscriptionConfirmation's SubscribeURL (local/moto-patches/sitecustomize.py,
 * `public_base`), where SNS puts `https://sns.<region>.amazonaws.com/…`; the SDK rightly
 * refuses to visit any other host (client/sns-message.ts, confirmSnsSubscription). Such a
 * confirmation is verified with the SDK (signature, certificate, topic) and its URL visited
 * here; one with SNS's own URL is left to the SDK. True when it confirmed `body`.
 */
async function confirmEmulatorSubscription(body: string, topicArn: string): Promise<boolean> {
  let fields: { Type?: unknown; SubscribeURL?: unknown };
  try {
    fields = JSON.parse(body) as typeof fields;
  } catch {
    return false;
  }
  if (fields.Type !== 'SubscriptionConfirmation' || typeof fields.SubscribeURL !== 'string' || /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com\//.test(fields.SubscribeURL)) return false;
  const message = await verifySnsMessage(body, { topicArn, fetch: localSnsFetch });
  const response = await fetch(message.SubscribeURL!);
  await response.body?.cancel();
  if (response.status !== 200) throw new DeliveryNotConfirmedError(`The emulator answered ${response.status} to a confirmation of ${topicArn}.`);
  return true;
}

/**
 * The consumer's SQS client as its poller sees it: it records the KeyRoll notices the queue
 * delivers (the poller only acts on them), and confirms a subscription whose SubscribeURL is the
 * emulator's (see {@link confirmEmulatorSubscription}), deleting that message.
 */
function noticeRecordingSqs(inner: SQSClient, consumer: string, log: ObservationLog, topicArn: string): SqsLike {
  const send = async (command: ReceiveMessageCommand | DeleteMessageBatchCommand, options?: { abortSignal?: AbortSignal }) => {
    if (!(command instanceof ReceiveMessageCommand)) return inner.send(command);
    const output = await inner.send(command, options);
    const kept = [];
    for (const message of output.Messages ?? []) {
      if (await confirmEmulatorSubscription(message.Body ?? '', topicArn)) {
        await inner.send(new DeleteMessageCommand({ QueueUrl: command.input.QueueUrl, ReceiptHandle: message.ReceiptHandle }));
        continue;
      }
      const notice = parseRotationNotification(message.Body ?? '');
      if (notice) log.notices.push({ consumer, wallMs: Date.now(), type: notice.eventType });
      kept.push(message);
    }
    return { ...output, Messages: kept };
  };
  return { send: send as SqsLike['send'] };
}

/** The one subscription KeyRoll made for a client (recorded on its record by the projection). */
function subscriptionOf(client: ClientRecord): string {
  const arn = client.deliveryProjection?.subscriptions[0]?.subscriptionArn;
  if (!arn) throw new DeliveryNotConfirmedError(`The projection recorded no subscription for ${client.clientId}.`);
  return arn;
}

async function waitConfirmed(sns: SNSClient, subscriptionArn: string, poke: () => Promise<unknown> = () => Promise.resolve()): Promise<void> {
  const deadline = Date.now() + CONFIRMATION_TIMEOUT_MS;
  for (;;) {
    await poke();
    const { Attributes } = await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn }));
    if (Attributes?.PendingConfirmation === 'false') return;
    if (Date.now() > deadline) throw new DeliveryNotConfirmedError(`Subscription ${subscriptionArn} still pending after ${CONFIRMATION_TIMEOUT_MS} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Provisions both clients, gives their delivery settings through the operator API, and starts their consumers. */
export async function startDeliveryConsumers(context: DeliveryContext & { synth: SynthesizedKeyRoll }): Promise<DeliveryConsumers> {
  const { resources, clock } = context;
  const log = newObservationLog();
  const closers: (() => unknown)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const kms = new KMSClient({});
    const sns = new SNSClient({});
    const homeSm = new SecretsManagerClient({});
    closers.push(() => [kms, sns, homeSm].forEach((client) => client.destroy()));
    const keyArn = (await kms.send(new CreateKeyCommand({ Description: `keyroll rehearsal ${context.runId}: client secrets` }))).KeyMetadata!.Arn!;
    const keys = new KeyRepository(dynamoDbClient(), resources.tableName);
    const provisioning = { secrets: new SecretStore(secretsManagerClient()), keys, clock, settings: { keyPrefix: context.keyPrefix, secretNamePrefix: resources.secretNamePrefix, kmsKeyId: keyArn } };
    for (const clientId of [OUTSIDE_CLIENT, PARTNER_CLIENT]) {
      // The delivery function owns these secrets' policies (it also denies PutResourcePolicy to everyone else).
      await registerClient(provisioning, { clientId, scopes: ['orders:read'], secretPolicy: 'delivery', requestedBy: 'rehearsal', reason: 'rehearsal set-up' });
    }

    // The shared document client already drops undefined values, as the projection needs.
    const dynamoDb = dynamoDbClient();
    const projector = new InProcessDeliveryProjector({
      dynamoDb,
      tableName: resources.tableName,
      secretsManager: homeSm,
      kms,
      sns,
      clock,
      settings: { keyArn, clientTopicArn: resources.clientTopicArn, keyrollSecretReaderArns: [KEYROLL_READER_ROLE], deliveryRoleArn: DELIVERY_ROLE, partition: PARTITION },
    });
    const ops: OpsDeps = createOpsDeps(
      { dynamoDb, secretsManager: homeSm, scheduler: new SchedulerClient({}), stepFunctions: new SFNClient({}) },
      {
        TableName: resources.tableName,
        StateMachineArn: LOCAL_ROTATION_STATE_MACHINE_ARN,
        KeyPrefix: context.keyPrefix,
        SecretNamePrefix: resources.secretNamePrefix,
        KeyArn: keyArn,
        ClientTopicArn: resources.clientTopicArn,
        MinOverlapSeconds: '60',
        MaxOverlapSeconds: '10800',
        ScheduleGroupName: 'unused-by-delivery-updates',
        SchedulerRoleArn: `arn:${PARTITION}:iam::${HOME_ACCOUNT}:role/unused`,
        ScheduleDeadLetterQueueArn: `arn:${PARTITION}:sqs:us-east-1:${HOME_ACCOUNT}:unused`,
        ScheduledStartFunctionArn: `arn:${PARTITION}:lambda:us-east-1:${HOME_ACCOUNT}:function:unused`,
      },
      { clock, delivery: projector },
    );
    const deliver = (clientId: string, delivery: Record<string, unknown>) => updateClientDelivery(ops, { clientId, delivery, requestedBy: 'platform-team', reason: 'rehearsal: onboard a delivered client' });

    // Outside AWS: a key pair of its own, the pickup endpoint, a webhook.
    const pickup: PickupServer = await startPickupServer({
      tableName: resources.tableName,
      clock,
      logger: new Logger({ serviceName: 'rehearsal-pickup', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'KeyRollRehearsal', serviceName: 'rehearsal-pickup' }),
    });
    closers.push(() => pickup.close());
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const outsideName = 'outside-aws-1';
    const privateJwk = (await exportJWK(privateKey)) as PrivateJwk;
    const pickupSource = (consumer: string) => new PickupKeySource({ pickupUrl: pickup.url, clientId: OUTSIDE_CLIENT, privateKey: privateJwk, kid, fetch: timedPickupFetch(consumer, log), clock });
    const outsideProvider = new KeyProvider({
      clientId: OUTSIDE_CLIENT,
      source: pickupSource(outsideName),
      // Notices (and 401/403) drive refreshes; the timer is only a daily safety net.
      refreshIntervalMs: DAY_MS,
      clock,
    });
    const webhook = createSnsWebhookHandler({ topicArn: resources.clientTopicArn, provider: outsideProvider, fetch: localSnsFetch });
    const endpoint: HttpsEndpoint = await startHttpsEndpoint({
      path: '/keyroll/notices',
      handler: async (request) => {
        if (await confirmEmulatorSubscription(request.body, resources.clientTopicArn)) return { status: 200 };
        const answer = await webhook({ headers: request.headers, body: request.body });
        const notice = answer.status === 200 ? parseRotationNotification(request.body) : undefined;
        if (notice) log.notices.push({ consumer: outsideName, wallMs: Date.now(), type: notice.eventType });
        return { status: answer.status };
      },
    });
    closers.push(() => endpoint.close());
    const outsideProjection = await deliver(OUTSIDE_CLIENT, { pickupKeys: [{ ...publicJwk, kid }], endpoints: [{ protocol: 'https', endpoint: endpoint.url }] });
    await waitConfirmed(sns, subscriptionOf(outsideProjection.client));

    // Cross-account: a role and a queue of the client's own account, the secret through the boundary.
    const partner = await assumeRoleIn(CLIENT_ACCOUNT, 'partner-keyroll-consumer');
    const partnerSqs = new SQSClient({ credentials: partner.credentials });
    const partnerSm = new SecretsManagerClient({ credentials: partner.credentials });
    closers.push(() => [partnerSqs, partnerSm].forEach((client) => client.destroy()));
    const { QueueUrl } = await partnerSqs.send(new CreateQueueCommand({ QueueName: `keyroll-rehearsal-${context.runId}-partner-notices` }));
    const queueArn = (await partnerSqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    // The client's own queue policy lets KeyRoll's topic (and only it) send to the queue.
    await partnerSqs.send(
      new SetQueueAttributesCommand({
        QueueUrl,
        Attributes: {
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage', Resource: queueArn, Condition: { ArnEquals: { 'aws:SourceArn': resources.clientTopicArn } } }],
          }),
        },
      }),
    );
    const boundary: AccountBoundary = await startAccountBoundary({ keyPolicyOf: () => resolvedKeyPolicy(context.synth) });
    closers.push(() => boundary.close());
    boundary.register(partner.credentials.accessKeyId, {
      principalArn: partner.roleArn,
      identityPolicies: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue', 'kms:Decrypt'], Resource: '*' }] }],
    });
    const partnerProjection = await deliver(PARTNER_CLIENT, { readers: [partner.roleArn], endpoints: [{ protocol: 'sqs', endpoint: queueArn }] });
    const secretArn = (await homeSm.send(new DescribeSecretCommand({ SecretId: `${resources.secretNamePrefix}${PARTNER_CLIENT}` }))).ARN!;
    const partnerName = 'cross-account-1';
    const partnerProvider = new KeyProvider({
      clientId: PARTNER_CLIENT,
      // Across accounts, Secrets Manager needs the secret's full ARN.
      source: new SecretsManagerKeySource({ clientId: PARTNER_CLIENT, secretId: secretArn, secretsManager: new SecretsManagerClient({ endpoint: boundary.endpoint, credentials: partner.credentials }) }),
      refreshIntervalMs: DAY_MS,
      clock,
    });
    const poller = new SqsNotificationPoller({
      queueUrl: QueueUrl!,
      provider: partnerProvider,
      clientId: PARTNER_CLIENT,
      sqs: noticeRecordingSqs(partnerSqs, partnerName, log, resources.clientTopicArn),
      waitTimeSeconds: 0,
      topicArn: resources.clientTopicArn,
      fetch: localSnsFetch,
    });
    await waitConfirmed(sns, subscriptionOf(partnerProjection.client), () => poller.pollOnce());

    const consumers = [
      new DeliveredConsumer({ name: outsideName, clientId: OUTSIDE_CLIENT, kind: 'outside-aws', provider: outsideProvider, apiUrl: context.apiUrl, clock, log }),
      new DeliveredConsumer({
        name: partnerName,
        clientId: PARTNER_CLIENT,
        kind: 'cross-account',
        provider: partnerProvider,
        apiUrl: context.apiUrl,
        clock,
        log,
        poll: async () => {
          await poller.pollOnce();
        },
      }),
    ];
    for (const consumer of consumers) await consumer.start();
    return {
      clientIds: [OUTSIDE_CLIENT, PARTNER_CLIENT],
      emergencyClientIds: [OUTSIDE_CLIENT],
      consumers,
      observations: log,
      boundaryDecisions: () => boundary.decisions,
      probePickupLatency: async (samples) => {
        const probe = pickupSource('pickup-probe');
        // In a row, as one consumer would: the figure is the endpoint's latency, not a load test.
        for (let i = 0; i < samples; i++) await probe.read();
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
