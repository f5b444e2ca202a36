/**
 * Tenant isolation (issue 19, item 3), evaluated as IAM does: for the synthesized template and
 * the secret policies and KMS grants KeyRoll's delivery projection really writes (projectDelivery
 * against moto, then read back with GetResourcePolicy and ListGrants), each principal × request
 * cell is judged with @cloud-copilot/iam-simulate, identity and resource policies together
 * (local/access-evaluation.ts, which adds the KMS grant match iam-simulate lacks), printed as a
 * matrix and asserted cell by cell against what isolation requires:
 *
 * - a reader registered for client A reads A's AWSCURRENT and decrypts with A's SecretARN context,
 *   and nothing else (not AWSPENDING, not by VersionId, not B's secret, not the table, not the topic);
 * - an unregistered principal of A's account with an administrator identity policy gets nothing;
 * - KeyRoll's own roles keep exactly what their identity policies give them, and nobody but the
 *   delivery role may change a secret's policy or rotate it;
 * - no tenant can subscribe to the client topic or change a subscription's filter.
 *
 * Then offboarding client A leaves no grant, policy statement or subscription of A behind (moto).
 */
import { DescribeSecretCommand, GetResourcePolicyCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateKeyCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import { ConfirmSubscriptionCommand, CreateTopicCommand, ListSubscriptionsByTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { evaluateAccess, evaluateKmsViaSecretsManager, evaluateSecretRead, type Caller, type KmsGrant } from '../../local/access-evaluation';
import { assumeRoleIn } from '../../local/emulated-accounts';
import { startHttpsEndpoint, type HttpsEndpoint } from '../../local/https-endpoint';
import { localSnsUrl } from '../../local/sns-local-urls';
import { projectDelivery, type DeliveryProjectionDeps } from '../../lambdas/aws/delivery/project-delivery';
import { clientItemKey, pickupJtiKey, PICKUP_CLIENT_ATTRIBUTES, TABLE_KEY_ATTRIBUTES, TTL_ATTRIBUTE } from '../../lambdas/aws/table-keys';
import type { ClientDelivery } from '../../lambdas/core/delivery';
import { makeTestDeps, registerTestClient, uniqueName } from '../support/fixtures';
import { principalsOf } from '../support/iam-principals';
import { synthesizedTemplate } from '../support/iam-template';
import { TEST_ACCOUNT, TEST_KEY_ARN, tableArn, worldResolver, type IamWorld } from '../support/iam-world';
import type { CfnTemplate, Statement } from './iam-rules';

jest.setTimeout(120_000);

const CLIENT_A_ACCOUNT = '111111111111';
const CLIENT_B_ACCOUNT = '222222222222';
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const roleArn = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;

/** The template's role whose logical id starts with `prefix`, if the stack has one. */
function templateRole(template: CfnTemplate, prefix: string): string | undefined {
  return Object.entries(template.Resources).find(([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith(prefix))?.[0];
}

/** The resource policy the template gives the client topic (resolved), or none. */
function clientTopicPolicy(template: CfnTemplate, world: IamWorld): Record<string, unknown> | undefined {
  const resolver = worldResolver(template, world);
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
    const topics = resolver.resolve(resource.Properties!.Topics) as string[];
    if (topics.includes(world.clientTopicArn!)) return resolver.resolve(resource.Properties!.PolicyDocument) as Record<string, unknown>;
  }
  return undefined;
}

function keyPolicyOf(template: CfnTemplate, world: IamWorld): Record<string, unknown> {
  const [, key] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::KMS::Key')!;
  return worldResolver(template, world).resolve(key.Properties!.KeyPolicy) as Record<string, unknown>;
}

/**
 * The pickup function's role (lib/keyroll-pickup.ts). The logical id's prefix is the construct path
 * `Pickup/Pickup/Role`: plain `Pickup` would also match the REST API's CloudWatch role
 * (`PickupApiCloudWatchRole…`), which comes first in the template.
 */
const PICKUP_ROLE = 'PickupPickupRole';

/** An administrator of KeyRoll's own account: trusted with the key and the table, not with client secrets or subscriptions. */
const KEYROLL_ADMIN = "KeyRoll's account admin";
const TOPIC_CELLS = ['sns:Subscribe client topic', 'sns:SetSubscriptionAttributes client topic'];
/** Whether the stack has the delivery construct (lib/keyroll-delivery.ts), whose client-topic policy denies subscribing to all but its role. */
const HAS_DELIVERY_CONSTRUCT = Object.entries(synthesizedTemplate().Resources).some(([id, r]) => r.Type === 'AWS::IAM::Role' && id.includes('Delivery'));

interface Principal extends Caller {
  readonly name: string;
}

interface Cell {
  readonly principal: string;
  readonly request: string;
  readonly allowed: boolean;
  readonly reason: string;
}

const sm = new SecretsManagerClient({});
const kms = new KMSClient({});
const sns = new SNSClient({});
const sqs = new SQSClient({});
const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } });

let template: CfnTemplate;
let world: IamWorld;
let projection: DeliveryProjectionDeps;
let clientA: string;
let clientB: string;
let secretArnA: string;
let secretArnB: string;
let currentVersionA: string;
let endpointA: HttpsEndpoint;
let readerA: string;
let readerB: string;
let cells: Cell[] = [];
let queueA: { url: string; sqs: SQSClient; sns: SNSClient };

/** Sets `clientId`'s delivery settings on its record (what `keyroll clients update` stores). */
async function setDelivery(tableName: string, clientId: string, delivery: ClientDelivery): Promise<void> {
  await doc.send(new UpdateCommand({ TableName: tableName, Key: clientItemKey(clientId), UpdateExpression: 'SET delivery = :d', ExpressionAttributeValues: { ':d': delivery } }));
}

async function grantsOnKey(keyArn: string): Promise<KmsGrant[]> {
  const out: KmsGrant[] = [];
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListGrantsCommand({ KeyId: keyArn, Marker: marker }));
    out.push(...((page.Grants ?? []) as KmsGrant[]));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return out;
}

async function secretArnAndCurrent(secretId: string): Promise<{ arn: string; current: string }> {
  const described = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  const current = Object.entries(described.VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))![0];
  return { arn: described.ARN!, current };
}

beforeAll(async () => {
  template = synthesizedTemplate();
  const deps = await makeTestDeps();
  const clientTopicArn = (await sns.send(new CreateTopicCommand({ Name: uniqueName('client-topic') }))).TopicArn!;
  world = { tableName: deps.tableName, secretNamePrefix: deps.secretNamePrefix, clientTopicArn };
  const keyArn = (await kms.send(new CreateKeyCommand({ Description: 'tenant isolation' }))).KeyMetadata!.Arn!;

  const createSecretRole = templateRole(template, 'RotationCreateSecretRole')!;
  const pickupRole = templateRole(template, PICKUP_ROLE);
  const deliveryRole = templateRole(template, 'Delivery') ?? 'KeyRollDeliveryRole';
  projection = {
    dynamoDb: doc,
    tableName: deps.tableName,
    secretsManager: sm,
    kms,
    sns,
    clock: deps.clock,
    settings: {
      keyArn,
      clientTopicArn,
      keyrollSecretReaderArns: [createSecretRole, templateRole(template, 'RotationTestSecretRole')!, ...(pickupRole ? [pickupRole] : [])].map((r) => roleArn(TEST_ACCOUNT, r)),
      deliveryRoleArn: roleArn(TEST_ACCOUNT, deliveryRole),
      partition: 'aws',
    },
  };

  clientA = (await registerTestClient(deps, uniqueName('tenant-a'))).clientId;
  clientB = (await registerTestClient(deps, uniqueName('tenant-b'))).clientId;
  readerA = roleArn(CLIENT_A_ACCOUNT, 'client-a-reader');
  readerB = roleArn(CLIENT_B_ACCOUNT, 'client-b-reader');

  endpointA = await startHttpsEndpoint();
  const aAccount = await assumeRoleIn(CLIENT_A_ACCOUNT, 'queue-owner');
  const aSqs = new SQSClient({ credentials: aAccount.credentials });
  const { QueueUrl } = await aSqs.send(new CreateQueueCommand({ QueueName: uniqueName('tenant-a') }));
  const queueArnA = (await aSqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
  queueA = { url: QueueUrl!, sqs: aSqs, sns: new SNSClient({ credentials: aAccount.credentials }) };
  const { QueueUrl: urlB } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('tenant-b') }));
  const queueB = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: urlB, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

  await setDelivery(deps.tableName, clientA, {
    readers: [readerA],
    endpoints: [
      { protocol: 'https', endpoint: endpointA.url },
      { protocol: 'sqs', endpoint: queueArnA },
    ],
    pickupKeys: [],
  });
  await setDelivery(deps.tableName, clientB, { readers: [readerB], endpoints: [{ protocol: 'sqs', endpoint: queueB }], pickupKeys: [] });
  await projectDelivery(projection, clientA);
  await projectDelivery(projection, clientB);

  const a = await secretArnAndCurrent((await sm.send(new DescribeSecretCommand({ SecretId: `${deps.secretNamePrefix}${clientA}` }))).ARN!);
  const b = await secretArnAndCurrent((await sm.send(new DescribeSecretCommand({ SecretId: `${deps.secretNamePrefix}${clientB}` }))).ARN!);
  secretArnA = a.arn;
  secretArnB = b.arn;
  currentVersionA = a.current;
});

afterAll(() => endpointA?.close());

describe('the isolation matrix', () => {
  beforeAll(async () => {
    const policyA = (await sm.send(new GetResourcePolicyCommand({ SecretId: secretArnA }))).ResourcePolicy!;
    const policyB = (await sm.send(new GetResourcePolicyCommand({ SecretId: secretArnB }))).ResourcePolicy!;
    // The grants are moto's, on the key the projection used; the policies are judged on the template's key (TEST_KEY_ARN).
    const grants = await grantsOnKey(projection.settings.keyArn);
    const keyArn = TEST_KEY_ARN;
    const keyPolicy = keyPolicyOf(template, world);
    const topicPolicy = clientTopicPolicy(template, world);
    const resolver = worldResolver(template, world);
    const principals = principalsOf(template);
    const keyroll = (id: string | undefined, name: string): Principal[] =>
      id ? [{ name, principalArn: roleArn(TEST_ACCOUNT, id), identityPolicies: [{ Version: '2012-10-17', Statement: principals.statementsOf(id).map((s: Statement) => resolver.statement(s)) }] }] : [];

    const who: Principal[] = [
      { name: "A's reader (identity: *)", principalArn: readerA, identityPolicies: [ALLOW_ALL] },
      { name: "B's reader (identity: *)", principalArn: readerB, identityPolicies: [ALLOW_ALL] },
      { name: "A's account admin, unregistered", principalArn: roleArn(CLIENT_A_ACCOUNT, 'Admin'), identityPolicies: [ALLOW_ALL] },
      { name: KEYROLL_ADMIN, principalArn: roleArn(TEST_ACCOUNT, 'Admin'), identityPolicies: [ALLOW_ALL] },
      ...keyroll(templateRole(template, 'RotationCreateSecretRole'), 'KeyRoll createSecret'),
      ...keyroll(templateRole(template, PICKUP_ROLE), 'KeyRoll pickup'),
      ...keyroll(templateRole(template, 'Delivery'), 'KeyRoll delivery'),
    ];
    const secretRead = (secretArn: string, policy: string, request: { versionStage?: string; versionId?: string }) => (caller: Caller) =>
      evaluateSecretRead(caller, request, { secretArn, secretPolicy: policy, versionId: request.versionId ?? currentVersionA, keyArn, keyPolicy, grants });
    const plain = (action: string, resourceArn: string, resourcePolicy?: Record<string, unknown> | string) => (caller: Caller) => evaluateAccess(caller, { action, resourceArn, resourcePolicy });
    const table = tableArn(world.tableName);
    const requests: [string, (caller: Caller) => Promise<{ allowed: boolean; reason: string }>][] = [
      ['GetSecretValue A AWSCURRENT', secretRead(secretArnA, policyA, { versionStage: 'AWSCURRENT' })],
      ['GetSecretValue A AWSPENDING', secretRead(secretArnA, policyA, { versionStage: 'AWSPENDING' })],
      ['GetSecretValue A by VersionId', secretRead(secretArnA, policyA, { versionId: currentVersionA })],
      ['GetSecretValue B AWSCURRENT', secretRead(secretArnB, policyB, { versionStage: 'AWSCURRENT' })],
      ["kms:Decrypt via SM, A's SecretARN", (caller) => evaluateKmsViaSecretsManager(caller, keyArn, keyPolicy, grants, secretArnA, currentVersionA)],
      ["kms:Decrypt via SM, B's SecretARN", (caller) => evaluateKmsViaSecretsManager(caller, keyArn, keyPolicy, grants, secretArnB, 'b-version')],
      ['dynamodb:GetItem table', plain('dynamodb:GetItem', table)],
      ['dynamodb:Scan table', plain('dynamodb:Scan', table)],
      ['dynamodb:Query table', plain('dynamodb:Query', table)],
      // Single items, with the fine-grained keys DynamoDB puts in the request (specifying-conditions.html): as the pickup function asks (lambdas/aws/pickup/pickup-table.ts), and a write of a client record.
      [
        'dynamodb:GetItem CLIENT# item',
        (caller) =>
          evaluateAccess(caller, {
            action: 'dynamodb:GetItem',
            resourceArn: table,
            context: { 'dynamodb:LeadingKeys': [clientItemKey(clientA).pk], 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, ...PICKUP_CLIENT_ATTRIBUTES] },
          }),
      ],
      [
        'dynamodb:PutItem PICKUP# item',
        (caller) =>
          evaluateAccess(caller, {
            action: 'dynamodb:PutItem',
            resourceArn: table,
            context: { 'dynamodb:LeadingKeys': [pickupJtiKey(clientA, 'j'.repeat(16)).pk], 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, TTL_ATTRIBUTE], 'dynamodb:ReturnValues': 'NONE' },
          }),
      ],
      [
        'dynamodb:PutItem CLIENT# item',
        (caller) =>
          evaluateAccess(caller, {
            action: 'dynamodb:PutItem',
            resourceArn: table,
            context: { 'dynamodb:LeadingKeys': [clientItemKey(clientA).pk], 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, 'currentKeyId'], 'dynamodb:ReturnValues': 'NONE' },
          }),
      ],
      // As a subscriber would ask: an https endpoint (sns:Protocol / sns:Endpoint are Subscribe's condition keys).
      [
        'sns:Subscribe client topic',
        (caller) =>
          evaluateAccess(caller, {
            action: 'sns:Subscribe',
            resourceArn: world.clientTopicArn!,
            resourcePolicy: topicPolicy,
            context: { 'sns:Protocol': 'https', 'sns:Endpoint': 'https://tenant.example/hook' },
          }),
      ],
      ['sns:SetSubscriptionAttributes client topic', plain('sns:SetSubscriptionAttributes', world.clientTopicArn!, topicPolicy)],
      // With BlockPublicPolicy, as the delivery function asks (its identity policy requires it).
      [
        'secretsmanager:PutResourcePolicy A',
        (caller) => evaluateAccess(caller, { action: 'secretsmanager:PutResourcePolicy', resourceArn: secretArnA, resourcePolicy: policyA, context: { 'secretsmanager:BlockPublicPolicy': 'true' } }),
      ],
      ['secretsmanager:RotateSecret A', plain('secretsmanager:RotateSecret', secretArnA, policyA)],
    ];
    cells = [];
    for (const principal of who) {
      for (const [request, judge] of requests) {
        const decision = await judge(principal);
        cells.push({ principal: principal.name, request, allowed: decision.allowed, reason: `${'step' in decision && decision.step ? `${String(decision.step)}: ` : ''}${decision.reason}` });
      }
    }
    const width = Math.max(...requests.map(([r]) => r.length));
    const lines = [`${''.padEnd(width)} | ${who.map((p) => p.name).join(' | ')}`];
    for (const [request] of requests) {
      lines.push(`${request.padEnd(width)} | ${who.map((p) => (cells.find((c) => c.principal === p.name && c.request === request)!.allowed ? 'ALLOW' : 'deny').padEnd(p.name.length)).join(' | ')}`);
    }
    const denied = cells.filter((c) => !c.allowed).length;
    process.stdout.write(`\nTenant isolation matrix: ${who.length} principals x ${requests.length} requests = ${cells.length} cells, ${denied} denied, ${cells.length - denied} allowed\n${lines.join('\n')}\n`);
  });

  /** The cells isolation allows; every other cell must be denied. */
  const ALLOWED: Record<string, string[]> = {
    "A's reader (identity: *)": ['GetSecretValue A AWSCURRENT', "kms:Decrypt via SM, A's SecretARN"],
    "B's reader (identity: *)": ['GetSecretValue B AWSCURRENT', "kms:Decrypt via SM, B's SecretARN"],
    "A's account admin, unregistered": [],
    // The key policy trusts KeyRoll's account and the table has no resource policy: its admins are trusted with both, never with a client's secret.
    [KEYROLL_ADMIN]: [
      "kms:Decrypt via SM, A's SecretARN",
      "kms:Decrypt via SM, B's SecretARN",
      'dynamodb:GetItem table',
      'dynamodb:Scan table',
      'dynamodb:Query table',
      'dynamodb:GetItem CLIENT# item',
      'dynamodb:PutItem PICKUP# item',
      'dynamodb:PutItem CLIENT# item',
    ],
    // createSecret reads every client's secret (it is KeyRoll) and decrypts through Secrets Manager; it reads and writes the table.
    'KeyRoll createSecret': [
      'GetSecretValue A AWSCURRENT',
      'GetSecretValue A AWSPENDING',
      'GetSecretValue A by VersionId',
      'GetSecretValue B AWSCURRENT',
      "kms:Decrypt via SM, A's SecretARN",
      "kms:Decrypt via SM, B's SecretARN",
      'dynamodb:GetItem table',
      'dynamodb:Query table',
      'dynamodb:GetItem CLIENT# item',
      'dynamodb:PutItem PICKUP# item',
      'dynamodb:PutItem CLIENT# item',
    ],
    // The delivery function changes subscriptions and secret policies, and reads no key.
    'KeyRoll delivery': ['sns:Subscribe client topic', 'sns:SetSubscriptionAttributes client topic', 'secretsmanager:PutResourcePolicy A'],
    // The pickup function serves every client, so it reads every client's secret: by the VersionId the client record names
    // (which is why the secret policies list it among KeyRoll's readers, exempt from the AWSCURRENT-only deny, so a stage
    // request is not refused either), decrypting through Secrets Manager. In the table it reads client records with the
    // attributes it needs and writes jti records only (lib/keyroll-pickup.ts, fine-grained conditions): no table-wide
    // GetItem without a partition key, no Query, no Scan, no client-record write.
    'KeyRoll pickup': [
      'GetSecretValue A AWSCURRENT',
      'GetSecretValue A AWSPENDING',
      'GetSecretValue A by VersionId',
      'GetSecretValue B AWSCURRENT',
      "kms:Decrypt via SM, A's SecretARN",
      "kms:Decrypt via SM, B's SecretARN",
      'dynamodb:GetItem CLIENT# item',
      'dynamodb:PutItem PICKUP# item',
    ],
  };

  /** The topic cells of KeyRoll's admin wait for the client-topic policy of lib/keyroll-delivery.ts (the next test). */
  const judgedHere = (c: Cell) => HAS_DELIVERY_CONSTRUCT || c.principal !== KEYROLL_ADMIN || !TOPIC_CELLS.includes(c.request);

  it('judges every principal × request, each cell as isolation requires', () => {
    expect(cells.length).toBeGreaterThanOrEqual(5 * 13);
    const wrong = cells
      .filter(judgedHere)
      .filter((c) => c.allowed !== (ALLOWED[c.principal] ?? []).includes(c.request))
      .map((c) => `${c.principal} / ${c.request}: ${c.allowed ? 'allowed' : 'denied'} (${c.reason})`);
    expect(wrong).toEqual([]);
  });

  (HAS_DELIVERY_CONSTRUCT ? it : it.skip)("nobody in KeyRoll's account but the delivery role subscribes or changes a filter (the client-topic policy)", () => {
    expect(cells.filter((c) => TOPIC_CELLS.includes(c.request) && c.allowed).map((c) => c.principal)).toEqual(['KeyRoll delivery', 'KeyRoll delivery']);
  });
});

describe('notices', () => {
  it("an endpoint receives only its own client's notices (KeyRoll's filter on clientId), once it confirmed", async () => {
    const confirmation = JSON.parse((await endpointA.waitFor((r) => r.headers['x-amz-sns-message-type'] === 'SubscriptionConfirmation')).body) as { SubscribeURL: string };
    expect((await fetch(localSnsUrl(confirmation.SubscribeURL))).status).toBe(200);
    const notice = (clientId: string) =>
      sns.send(
        new PublishCommand({
          TopicArn: projection.settings.clientTopicArn,
          Message: JSON.stringify({ type: 'key.rotated', clientId }),
          MessageAttributes: { clientId: { DataType: 'String', StringValue: clientId } },
        }),
      );
    await notice(clientB);
    await notice(clientA);
    await endpointA.waitFor((r) => r.headers['x-amz-sns-message-type'] === 'Notification');
    const received = endpointA.received
      .filter((r) => r.headers['x-amz-sns-message-type'] === 'Notification')
      .map((r) => (JSON.parse((JSON.parse(r.body) as { Message: string }).Message) as { clientId: string }).clientId);
    expect(received).toEqual([clientA]);

    // The same through A's queue in A's account (SQS delivery happens inside Publish, so the order is certain).
    const receive = async () => ((await queueA.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueA.url, MaxNumberOfMessages: 10 }))).Messages ?? []).map((m) => JSON.parse(m.Body!) as Record<string, string>);
    const [queued] = await receive();
    expect(queued).toMatchObject({ Type: 'SubscriptionConfirmation' });
    await queueA.sns.send(new ConfirmSubscriptionCommand({ TopicArn: projection.settings.clientTopicArn, Token: queued.Token }));
    await notice(clientB);
    await notice(clientA);
    expect((await receive()).map((m) => (JSON.parse(m.Message) as { clientId: string }).clientId)).toEqual([clientA]);
  });
});

describe('offboarding', () => {
  it('leaves no grant, secret-policy statement or subscription of the client behind (moto)', async () => {
    await doc.send(
      new UpdateCommand({ TableName: projection.tableName, Key: clientItemKey(clientA), UpdateExpression: 'SET offboardedAt = :t', ExpressionAttributeValues: { ':t': '2026-11-28T11:00:00.000Z' } }),
    );
    const result = await projectDelivery(projection, clientA);
    expect(result.grants.created).toBe(0);

    const grants = await grantsOnKey(projection.settings.keyArn);
    expect(grants.filter((g) => g.GranteePrincipal === readerA || JSON.stringify(g.Constraints ?? {}).includes(secretArnA))).toEqual([]);
    expect(grants.filter((g) => g.GranteePrincipal === readerB)).toHaveLength(1);

    const policy = JSON.parse((await sm.send(new GetResourcePolicyCommand({ SecretId: secretArnA }))).ResourcePolicy!) as { Statement: { Effect: string }[] };
    expect(JSON.stringify(policy)).not.toContain(readerA);
    expect(policy.Statement.filter((s) => s.Effect === 'Allow')).toEqual([]);

    const subscriptions = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: projection.settings.clientTopicArn }))).Subscriptions ?? [];
    expect(subscriptions.filter((s) => s.Endpoint === endpointA.url || s.Endpoint?.includes(CLIENT_A_ACCOUNT))).toEqual([]);
    expect(subscriptions.filter((s) => s.Endpoint?.includes('tenant-b'))).toHaveLength(1);
    process.stdout.write(`\nOffboarding ${clientA}: grants left for A 0, Allow statements left 0, subscriptions left 0 (B keeps ${subscriptions.length})\n`);
  });
});
