/**
 * projectDelivery against moto (lambdas/aws/delivery/project-delivery.ts): what AWS holds
 * afterwards, read back (GetResourcePolicy, ListGrants, ListSubscriptionsByTopic and each
 * subscription's FilterPolicy); a re-run writes nothing; a crash after any AWS call of a
 * projection, then a re-run, converges with nothing left behind; two concurrent runs
 * converge; offboarding leaves no grant, reader statement or subscription; and a notice for
 * client A reaches A's queue only (moto applies the subscriptions' filter policies).
 *
 * Every projection runs as the delivery function (`actAs`), so each of its AWS calls is also
 * judged against the delivery role of the synthesized template (test/support/iam-guard.ts).
 */
import { randomUUID } from 'node:crypto';
import { CreateKeyCommand, KMSClient, ListGrantsCommand, type GrantListEntry } from '@aws-sdk/client-kms';
import { GetResourcePolicyCommand } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { ClientDelivery, NotificationEndpoint } from '../../lambdas/core/delivery';
import { ManualClock } from '../../lambdas/core/clock';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import { ClientNotifier } from '../../lambdas/aws/client-notifier';
import { grantNameFor } from '../../lambdas/aws/delivery/kms-grants';
import { projectDelivery, type DeliveryProjectionDeps } from '../../lambdas/aws/delivery/project-delivery';
import { secretPolicyFor, SecretPolicySid } from '../../lambdas/aws/delivery/secret-policy';
import { filterPolicyFor } from '../../lambdas/aws/delivery/subscriptions';
import { clientItemKey } from '../../lambdas/aws/table-keys';
import { actAs } from '../../local/local-identity';
import { callName, isReadOnly, observeCalls, recordCallsOf, type AwsCall } from '../support/call-recorder';
import { makeTestDeps, registerTestClient, uniqueName } from '../support/fixtures';
import { iamChecks, registerIamWorld, takeIamDenials, useTemplateForIam } from '../support/iam-guard';
import { synthesizedTemplate } from '../support/iam-template';
import type { CfnTemplate } from '../infra/iam-rules';
import { TEST_ACCOUNT } from '../support/iam-world';

jest.setTimeout(120_000);

const OTHER = '210987654321';
const reader = (name: string) => `arn:aws:iam::${OTHER}:role/${name}`;
const KEYROLL_READERS = [`arn:aws:iam::${TEST_ACCOUNT}:role/create-secret`, `arn:aws:iam::${TEST_ACCOUNT}:role/test-secret`, `arn:aws:iam::${TEST_ACCOUNT}:role/pickup`];
const DELIVERY_ROLE = `arn:aws:iam::${TEST_ACCOUNT}:role/delivery`;

const kms = new KMSClient({});
const sns = new SNSClient({});
const sqs = new SQSClient({});
let rotationDeps: Awaited<ReturnType<typeof makeTestDeps>>;
let deps: DeliveryProjectionDeps;
let keyArn: string;
let topicArn: string;

beforeAll(async () => {
  rotationDeps = await makeTestDeps(new ManualClock(Date.parse('2026-12-03T10:00:00Z')));
  keyArn = (await kms.send(new CreateKeyCommand({ Description: 'delivery test' }))).KeyMetadata!.Arn!;
  topicArn = (await sns.send(new CreateTopicCommand({ Name: uniqueName('clients') }))).TopicArn!;
  registerIamWorld({ tableName: rotationDeps.tableName, clientTopicArn: topicArn });
  deps = {
    dynamoDb: dynamoDbClient(),
    tableName: rotationDeps.tableName,
    secretsManager: secretsManagerClient(),
    kms,
    sns,
    clock: rotationDeps.clock,
    settings: { keyArn, clientTopicArn: topicArn, keyrollSecretReaderArns: KEYROLL_READERS, deliveryRoleArn: DELIVERY_ROLE, partition: 'aws' },
  };
  recordCallsOf(deps.dynamoDb, deps.secretsManager, kms, sns);
});

/** Runs the projection as the delivery function would. */
const project = (clientId: string, projectionDeps = deps) => actAs({ function: 'delivery' }, () => projectDelivery(projectionDeps, clientId));

/** A same-account queue to subscribe, and a reader of what it receives. */
async function newQueue(): Promise<{ arn: string; drain: () => Promise<{ clientId: string; eventType: string }[]> }> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('client-q') }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  return {
    arn: Attributes!.QueueArn!,
    async drain() {
      const out: { clientId: string; eventType: string }[] = [];
      for (;;) {
        const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!Messages?.length) return out;
        for (const m of Messages) out.push(JSON.parse((JSON.parse(m.Body!) as { Message: string }).Message) as { clientId: string; eventType: string });
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      }
    },
  };
}

/** Sets (or, with undefined, removes) the client's delivery settings, as the operator API does. */
async function setDelivery(clientId: string, delivery: ClientDelivery | undefined): Promise<void> {
  await dynamoDbClient().send(
    new UpdateCommand({
      TableName: rotationDeps.tableName,
      Key: clientItemKey(clientId),
      ...(delivery ? { UpdateExpression: 'SET delivery = :d', ExpressionAttributeValues: { ':d': delivery } } : { UpdateExpression: 'REMOVE delivery' }),
    }),
  );
}

async function offboard(clientId: string): Promise<void> {
  await rotationDeps.keys.markOffboarded(clientId, '2026-12-03T11:00:00.000Z');
}

const delivery = (readers: string[], endpoints: NotificationEndpoint[] = []): ClientDelivery => ({ readers, endpoints, pickupKeys: [] });
const sqsEndpoint = (arn: string): NotificationEndpoint => ({ protocol: 'sqs', endpoint: arn });

/** What AWS holds for a client, read back. */
async function heldFor(clientId: string, secretId: string, candidates: readonly string[]) {
  const policy = (await secretsManagerClient().send(new GetResourcePolicyCommand({ SecretId: secretId }))).ResourcePolicy;
  const grants: GrantListEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListGrantsCommand({ KeyId: keyArn, ...(marker ? { Marker: marker } : {}) }));
    grants.push(...(page.Grants ?? []));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  const names = new Set(candidates.map((r) => grantNameFor(clientId, r)));
  // ListSubscriptionsByTopic shows a subscription waiting for confirmation as `PendingConfirmation`,
  // not by its ARN, and GetSubscriptionAttributes refuses that (as AWS does): such an entry is read
  // through the ARN the projection recorded for its endpoint, and one with no recorded ARN is
  // returned in `unrecordedPending` (a leak if its endpoint is one of this client's).
  const recorded = (await rotationDeps.keys.getClient(clientId))?.deliveryProjection?.subscriptions ?? [];
  const subscriptions = [];
  const unrecordedPending: { protocol?: string; endpoint?: string }[] = [];
  for (const s of (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions ?? []) {
    const pending = s.SubscriptionArn === 'PendingConfirmation';
    const arn = pending ? recorded.find((r) => r.protocol === s.Protocol && r.endpoint === s.Endpoint)?.subscriptionArn : s.SubscriptionArn;
    if (arn === undefined) {
      unrecordedPending.push({ protocol: s.Protocol, endpoint: s.Endpoint });
      continue;
    }
    const attributes = (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: arn }))).Attributes ?? {};
    if (attributes.FilterPolicy === filterPolicyFor(clientId)) subscriptions.push({ protocol: s.Protocol, endpoint: s.Endpoint, scope: attributes.FilterPolicyScope, pending });
  }
  return { policy, grants: grants.filter((g) => names.has(g.Name!)), subscriptions, unrecordedPending };
}

async function newClient(readers: string[], endpoints: NotificationEndpoint[] = []) {
  const client = await registerTestClient(rotationDeps, uniqueName('acme'));
  await setDelivery(client.clientId, delivery(readers, endpoints));
  return client;
}

const secretArnOf = async (secretId: string) => (await secretsManagerClient().send(new GetResourcePolicyCommand({ SecretId: secretId }))).ARN!;

describe('projectDelivery', () => {
  it('puts the secret policy, one grant per reader and one filtered subscription per endpoint', async () => {
    const queue = await newQueue();
    const readers = [reader('app'), reader('batch')];
    const hook = `https://hooks.example.com/${uniqueName('keyroll')}`;
    const client = await newClient(readers, [sqsEndpoint(queue.arn), { protocol: 'https', endpoint: hook }]);

    const result = await project(client.clientId);
    // The same-account queue is confirmed at once; the https endpoint waits for its confirmation
    // (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html).
    expect(result).toEqual({ clientId: client.clientId, secretPolicy: 'put', grants: { created: 2, revoked: 0, kept: 0 }, subscriptions: { created: 2, removed: 0, kept: 0, pendingConfirmation: 1 } });

    const held = await heldFor(client.clientId, client.secretId, readers);
    expect(held.policy).toBe(secretPolicyFor({ readers, ...deps.settings }));
    const secretArn = await secretArnOf(client.secretId);
    expect(held.grants.map((g) => ({ grantee: g.GranteePrincipal, operations: g.Operations, constraints: g.Constraints, name: g.Name })).sort((a, b) => a.grantee!.localeCompare(b.grantee!))).toEqual(
      readers.map((r) => ({ grantee: r, operations: ['Decrypt'], constraints: { EncryptionContextSubset: { SecretARN: secretArn } }, name: grantNameFor(client.clientId, r) })),
    );
    expect(held.subscriptions).toEqual(
      expect.arrayContaining([
        { protocol: 'sqs', endpoint: queue.arn, scope: 'MessageAttributes', pending: false },
        { protocol: 'https', endpoint: hook, scope: 'MessageAttributes', pending: true },
      ]),
    );
    expect(held.subscriptions).toHaveLength(2);
    expect(held.unrecordedPending.filter((s) => s.endpoint === hook)).toEqual([]);
  });

  it('a re-run on an unchanged record reads only: no write to any service', async () => {
    const queue = await newQueue();
    const client = await newClient([reader('app')], [sqsEndpoint(queue.arn)]);
    await project(client.clientId);
    const calls: AwsCall[] = [];
    const again = await observeCalls(
      Object.assign((call: AwsCall) => void calls.push(call)),
      () => project(client.clientId),
    );
    expect(again).toEqual({ clientId: client.clientId, secretPolicy: 'unchanged', grants: { created: 0, revoked: 0, kept: 1 }, subscriptions: { created: 0, removed: 0, kept: 1, pendingConfirmation: 0 } });
    expect(calls.filter((c) => !isReadOnly(c.command)).map(callName)).toEqual([]);
    expect(calls.length).toBeGreaterThan(0);
  });

  it('removing a reader revokes its grant and takes it out of the policy; removing an endpoint unsubscribes it', async () => {
    const [q1, q2] = [await newQueue(), await newQueue()];
    const client = await newClient([reader('app'), reader('old')], [sqsEndpoint(q1.arn), sqsEndpoint(q2.arn)]);
    await project(client.clientId);
    await setDelivery(client.clientId, delivery([reader('app')], [sqsEndpoint(q1.arn)]));

    const result = await project(client.clientId);
    expect(result).toMatchObject({ secretPolicy: 'put', grants: { created: 0, revoked: 1, kept: 1 }, subscriptions: { created: 0, removed: 1, kept: 1 } });
    const held = await heldFor(client.clientId, client.secretId, [reader('app'), reader('old')]);
    expect(held.grants.map((g) => g.GranteePrincipal)).toEqual([reader('app')]);
    expect(held.policy).not.toContain(reader('old'));
    expect(held.subscriptions.map((s) => s.endpoint)).toEqual([q1.arn]);
  });

  it('offboarding leaves no grant, no reader statement and no subscription; the denies stay', async () => {
    const queue = await newQueue();
    const readers = [reader('app'), reader('batch')];
    const email = `${uniqueName('keys')}@acme.example`;
    const client = await newClient(readers, [sqsEndpoint(queue.arn), { protocol: 'email', endpoint: email }]);
    // The email subscription waits for its confirmation, and must be removed all the same.
    expect(await project(client.clientId)).toMatchObject({ subscriptions: { created: 2, pendingConfirmation: 1 } });
    expect((await heldFor(client.clientId, client.secretId, readers)).subscriptions).toContainEqual({ protocol: 'email', endpoint: email, scope: 'MessageAttributes', pending: true });
    await offboard(client.clientId);

    const result = await project(client.clientId);
    expect(result).toMatchObject({ secretPolicy: 'put', grants: { created: 0, revoked: 2, kept: 0 }, subscriptions: { created: 0, removed: 2, kept: 0 } });
    const held = await heldFor(client.clientId, client.secretId, readers);
    expect(held.grants).toEqual([]);
    expect(held.subscriptions).toEqual([]);
    expect(held.unrecordedPending.filter((s) => s.endpoint === email)).toEqual([]);
    const statements = (JSON.parse(held.policy!) as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid);
    expect(statements).not.toContain(SecretPolicySid.READERS_READ_CURRENT);
    expect(statements).toEqual([SecretPolicySid.ONLY_NAMED_READERS, SecretPolicySid.CURRENT_ONLY, SecretPolicySid.ONLY_ROTATOR, SecretPolicySid.DELIVERY_OWNS_POLICY]);
    expect(held.policy).not.toContain(OTHER);
    // And a client without delivery settings at all is projected the same way.
    const bare = await registerTestClient(rotationDeps, uniqueName('bare'));
    expect(await project(bare.clientId)).toMatchObject({ grants: { created: 0 }, subscriptions: { created: 0 } });
  });

  it('an unknown client is a named error', async () => {
    await expect(project(`nobody-${randomUUID().slice(0, 8)}`)).rejects.toMatchObject({ name: 'UnknownClient' });
  });

  it("notices published for client A reach A's queue only (the subscriptions' filter, applied by SNS)", async () => {
    const [qa, qb] = [await newQueue(), await newQueue()];
    const a = await newClient([], [sqsEndpoint(qa.arn)]);
    const b = await newClient([], [sqsEndpoint(qb.arn)]);
    await project(a.clientId);
    await project(b.clientId);
    const notifier = new ClientNotifier(sns, topicArn);
    const notice = (clientId: string, eventType: string) => ({ eventId: randomUUID(), clientId, eventType, occurredAt: '2026-12-03T10:00:00Z' }) as unknown as Parameters<ClientNotifier['publish']>[0];
    for (const eventType of ['key.rotated', 'key.emergency']) {
      await notifier.publish(notice(a.clientId, eventType));
      await notifier.publish(notice(b.clientId, eventType));
    }
    const [toA, toB] = [await qa.drain(), await qb.drain()];
    expect(toA.map((n) => n.clientId)).toEqual([a.clientId, a.clientId]);
    expect(toB.map((n) => n.clientId)).toEqual([b.clientId, b.clientId]);
  });
});

describe('projectDelivery: crashes and concurrency', () => {
  /** Before: readers r1, r2 and queues q1, q2; after: r2, r3 and q2, q3 (one of each kept, removed, added). */
  async function changedClient() {
    const [q1, q2, q3] = [await newQueue(), await newQueue(), await newQueue()];
    const client = await newClient([reader('r1'), reader('r2')], [sqsEndpoint(q1.arn), sqsEndpoint(q2.arn)]);
    await project(client.clientId);
    const after = delivery([reader('r2'), reader('r3')], [sqsEndpoint(q2.arn), sqsEndpoint(q3.arn)]);
    await setDelivery(client.clientId, after);
    // What the operator may ask next: the additions taken back (only the write-ahead record finds them).
    const undone = delivery([reader('r2')], [sqsEndpoint(q2.arn)]);
    return { client, after, undone, all: [reader('r1'), reader('r2'), reader('r3')] };
  }

  async function expectConverged(clientId: string, secretId: string, after: ClientDelivery, all: string[]) {
    const held = await heldFor(clientId, secretId, all);
    expect(held.policy).toBe(secretPolicyFor({ readers: [...after.readers], ...deps.settings }));
    expect(held.grants.map((g) => g.GranteePrincipal).sort()).toEqual([...after.readers].sort());
    expect(held.subscriptions.map((s) => s.endpoint).sort()).toEqual(after.endpoints.map((e) => e.endpoint).sort());
    const record = await rotationDeps.keys.getClient(clientId);
    expect(record?.deliveryProjection?.readers).toEqual([...after.readers].sort());
    expect(record?.deliveryProjection?.subscriptions.map((s) => s.endpoint).sort()).toEqual(after.endpoints.map((e) => e.endpoint).sort());
    // Converged: one more run changes nothing.
    const again = await project(clientId);
    expect(again).toMatchObject({ secretPolicy: 'unchanged', grants: { created: 0, revoked: 0 }, subscriptions: { created: 0, removed: 0 } });
  }

  it('a crash right after any AWS call of a projection, then a re-run, converges with nothing left behind (also when the record changed meanwhile)', async () => {
    // The calls of a clean projection of the change name the crash points.
    const probe = await changedClient();
    const clean: AwsCall[] = [];
    await observeCalls(
      Object.assign((call: AwsCall) => void clean.push(call)),
      () => project(probe.client.clientId),
    );
    expect(clean.length).toBeGreaterThan(10);

    for (let crashAfter = 1; crashAfter <= clean.length; crashAfter++) {
      const { client, after, undone, all } = await changedClient();
      let seen = 0;
      let crashed = false;
      const observer = Object.assign(
        () => {
          if (++seen === crashAfter) {
            crashed = true;
            throw new Error(`crash after call ${crashAfter}`);
          }
        },
        {
          admit: () => {
            if (crashed) throw new Error('the process is gone');
          },
        },
      );
      await expect(observeCalls(observer, () => project(client.clientId))).rejects.toThrow(`crash after call ${crashAfter}`);
      // Every other point re-runs on the same record; the others after the additions were taken back.
      const next = crashAfter % 2 === 0 ? undone : after;
      if (next === undone) await setDelivery(client.clientId, undone);
      await project(client.clientId);
      await expectConverged(client.clientId, client.secretId, next, all);
    }
  });

  it('two concurrent runs, one of them started before the record changed again, converge to the record', async () => {
    const { client, all } = await changedClient();
    const last = delivery([reader('r3')], []);
    await Promise.all([project(client.clientId), setDelivery(client.clientId, last).then(() => project(client.clientId)), project(client.clientId)]);
    await expectConverged(client.clientId, client.secretId, last, all);
  });
});

describe('projectDelivery: every call judged against the synthesized delivery role', () => {
  it('the checks ran, for every action the projection uses, all allowed', () => {
    const mine = iamChecks().filter((c) => c.who === 'DeliveryDeliveryFunction');
    expect([...new Set(mine.map((c) => c.request.action))].sort()).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'kms:CreateGrant',
        'kms:ListGrants',
        'kms:RevokeGrant',
        'secretsmanager:GetResourcePolicy',
        'secretsmanager:PutResourcePolicy',
        'sns:GetSubscriptionAttributes',
        'sns:Subscribe',
        'sns:Unsubscribe',
      ].sort(),
    );
    expect(mine.every((c) => c.decision.allowed)).toBe(true);
  });

  it('a planted gap is found: without sns:Subscribe in the role, the projection is denied as on AWS', async () => {
    const planted = JSON.parse(JSON.stringify(synthesizedTemplate())) as CfnTemplate;
    for (const resource of Object.values(planted.Resources)) {
      const document = resource.Properties?.PolicyDocument as { Statement?: { Sid?: string }[] } | undefined;
      if (resource.Type === 'AWS::IAM::Policy' && document?.Statement) document.Statement = document.Statement.filter((st) => st.Sid !== 'SubscribeClientEndpoints');
    }
    const queue = await newQueue();
    const client = await newClient([], [sqsEndpoint(queue.arn)]);
    useTemplateForIam(planted);
    try {
      await expect(project(client.clientId)).rejects.toMatchObject({ name: 'AuthorizationErrorException' });
    } finally {
      useTemplateForIam(undefined);
    }
    expect(takeIamDenials().map((d) => d.request.action)).toEqual(['sns:Subscribe']);
  });
});
