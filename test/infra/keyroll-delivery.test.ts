/**
 * KeyRollDelivery in the synthesized stack: the delivery function's role (exactly the actions
 * the projection calls, each with its conditions), its environment (KeyRoll's secret-reading
 * roles and its own role), the client topic's policy (nobody else subscribes or changes a
 * filter: evaluated with iam-simulate for a principal whose identity policy allows sns:*), and
 * the key policy, whose size does not depend on the number of clients (readers get grants).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { KeyRoll } from '../../lib/keyroll';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { functionRoles, identityStatements, nameOf, type CfnTemplate } from './iam-rules';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';
import { worldResolver } from '../support/iam-world';

let template: CfnTemplate;
beforeAll(() => {
  template = Template.fromStack(new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV })).toJSON() as CfnTemplate;
});
afterAll(removeTempDirs);

const idOf = (name: string) => Object.keys(template.Resources).find((k) => nameOf(k) === name)!;
const deliveryRole = () => functionRoles(template).get(idOf('DeliveryDeliveryFunction'))!;
const statements = () =>
  identityStatements(template)
    .filter((s) => s.role === deliveryRole())
    .map((s) => s.statement);
const resolver = () => worldResolver(template, { tableName: 'keyroll', secretNamePrefix: 'keyroll/clients/', clientTopicArn: 'arn:aws:sns:us-east-1:123456789012:clients' });

describe('the delivery function', () => {
  test('its role: exactly the calls the projection makes, none that reads a secret value or decrypts through Secrets Manager', () => {
    const actions = statements()
      .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
      .sort();
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'kms:CreateGrant',
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'kms:ListGrants',
        'kms:RevokeGrant',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetResourcePolicy',
        'secretsmanager:PutResourcePolicy',
        'sns:GetSubscriptionAttributes',
        'sns:SetSubscriptionAttributes',
        'sns:Subscribe',
        'sns:Unsubscribe',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const text = JSON.stringify(statements());
    expect(text).not.toMatch(/GetSecretValue|secretsmanager\./);
  });

  test('grants: Decrypt only, constrained to the SecretARN encryption context, never for an AWS service', () => {
    const grant = statements().find((s) => s.Action === 'kms:CreateGrant')!;
    expect(grant.Condition).toEqual({
      'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': ['SecretARN'] },
      Null: { 'kms:GrantOperations': 'false', 'kms:EncryptionContextKeys': 'false' },
      StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextSubset' },
      Bool: { 'kms:GrantIsForAWSResource': 'false' },
    });
  });

  test('the table: GetItem of the delivery attributes and UpdateItem of deliveryProjection, on CLIENT# items only', () => {
    const onTable = statements().filter((s) => String(s.Action).startsWith('dynamodb:'));
    expect(onTable.map((s) => s.Condition)).toEqual([
      {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] },
        Null: { 'dynamodb:LeadingKeys': 'false' },
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'clientId', 'secretId', 'offboardedAt', 'delivery', 'deliveryProjection'] },
        StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
      },
      {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] },
        Null: { 'dynamodb:LeadingKeys': 'false' },
        'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'deliveryProjection'] },
        StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
      },
    ]);
  });

  test("its environment names createSecret's and testSecret's roles and its own role", () => {
    const fn = template.Resources[idOf('DeliveryDeliveryFunction')];
    const env = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    const readers = JSON.stringify(env.KEYROLL_SECRET_READER_ARNS);
    for (const role of ['RotationCreateSecretRole', 'RotationTestSecretRole']) expect(readers).toContain(idOf(role));
    expect(env.DELIVERY_ROLE_ARN).toEqual({ 'Fn::GetAtt': [deliveryRole(), 'Arn'] });
  });

  test('extraSecretReaders (the pickup function) join the exempted readers', () => {
    const stack = new Stack(newTestApp(), 'User', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const pickup = new iam.Role(stack, 'PickupRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const { KeyRollDelivery } = jest.requireActual<typeof import('../../lib/keyroll-delivery')>('../../lib/keyroll-delivery');
    const extra = new KeyRollDelivery(stack, 'ExtraDelivery', { rotation: keyRoll.rotation, extraSecretReaders: [pickup] });
    const user = Template.fromStack(stack).toJSON() as CfnTemplate;
    const fnId = Stack.of(extra).getLogicalId(extra.deliveryFunction.node.defaultChild as never);
    const env = (user.Resources[fnId].Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(env.KEYROLL_SECRET_READER_ARNS)).toContain(Stack.of(pickup).getLogicalId(pickup.node.defaultChild as never));
  });
});

describe('the client topic', () => {
  /** What the topic policy and an identity policy allowing sns:* decide for `principal`. */
  async function decide(principal: string, action: string): Promise<string> {
    const r = resolver();
    const topicPolicy = Object.values(template.Resources).find((res) => res.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(res.Properties!.Topics).includes('ClientTopic'))!;
    const response = await runSimulation(
      {
        request: {
          principal,
          action,
          resource: { resource: 'arn:aws:sns:us-east-1:123456789012:clients', accountId: '123456789012' },
          contextVariables: { 'aws:PrincipalArn': principal, 'aws:SecureTransport': 'true', 'sns:Protocol': 'sqs', 'sns:Endpoint': 'arn:aws:sqs:us-east-1:210987654321:q' },
        },
        identityPolicies: [{ name: 'broad', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sns:*', Resource: '*' }] } }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: r.resolve(topicPolicy.Properties!.PolicyDocument),
      },
      {},
    );
    if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
    return response.overallResult;
  }

  test('denies Subscribe and SetSubscriptionAttributes to every principal but the delivery role, whatever its identity policy', async () => {
    const deliveryArn = `arn:aws:iam::123456789012:role/${deliveryRole()}`;
    for (const action of ['sns:Subscribe', 'sns:SetSubscriptionAttributes']) {
      expect(await decide(deliveryArn, action)).toBe('Allowed');
      for (const other of ['arn:aws:iam::123456789012:role/Admin', `arn:aws:iam::123456789012:role/${functionRoles(template).get(idOf('RotationCreateSecretFunction'))}`]) {
        expect(await decide(other, action)).toBe('ExplicitlyDenied');
      }
    }
    // Publishing and reading stay as they were.
    expect(await decide('arn:aws:iam::123456789012:role/Admin', 'sns:Publish')).toBe('Allowed');
  });
});

describe('the key policy', () => {
  test('holds no client or reader: its size is the same at 1 or 10,000 clients (figure in bench/README.md)', () => {
    const key = Object.values(template.Resources).find((res) => res.Type === 'AWS::KMS::Key')!;
    const policy = JSON.stringify(resolver().resolve(key.Properties!.KeyPolicy));
    expect(policy).not.toMatch(/secret:keyroll\/clients\/./);
    // KMS's limit is 32,768 bytes (https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
    expect(Buffer.byteLength(policy)).toBeLessThan(32_768 / 8);
  });
});
