/**
 * The internet-facing authorizer's role, evaluated (issue 16, item 7): the synthesized
 * policy is run through @cloud-copilot/iam-simulate with the context keys DynamoDB sets on
 * each request (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html:
 * dynamodb:LeadingKeys is the request's partition key, dynamodb:Attributes every attribute it
 * names, the table's key attributes included, dynamodb:ReturnValues its ReturnValues, NONE
 * unless asked). The two requests the authorizer makes are allowed; everything a compromised
 * dependency could try with the same actions (un-revoke a key, rewrite a lock or an audit
 * event, read a client item, read back a whole item) is denied.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { Template } from 'aws-cdk-lib/assertions';
import { getKeyInput, recordUseInput } from '../../lambdas/aws/key-item-requests';
import { auditItemKey, clientItemKey, keyItemKey } from '../../lambdas/aws/table-keys';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { asArray, newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

const ACCOUNT = TEST_ENV.account;
const TABLE_ARN = `arn:aws:dynamodb:${TEST_ENV.region}:${ACCOUNT}:table/keyroll-test`;
const KEY_ARN = `arn:aws:kms:${TEST_ENV.region}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000`;
const HASH = 'ab'.repeat(32);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}
let policy: { Version: string; Statement: Statement[] };
let tableId: string;

/** The CloudFormation values this role's policy holds, as the account would see them. */
function resolve(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if ('Fn::GetAtt' in obj) {
    const [id] = obj['Fn::GetAtt'] as [string, string];
    return id === tableId ? TABLE_ARN : KEY_ARN;
  }
  if ('Ref' in obj) return obj.Ref === 'AWS::Partition' ? 'aws' : obj.Ref === 'AWS::Region' ? TEST_ENV.region : obj.Ref === 'AWS::AccountId' ? ACCOUNT : `ref-${String(obj.Ref)}`;
  if ('Fn::Join' in obj) {
    const [separator, parts] = obj['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => String(resolve(p))).join(separator);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolve(v)]));
}

beforeAll(() => {
  const stack = new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV });
  const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: any }> };
  tableId = stack.getLogicalId(stack.rotation.table.node.defaultChild as never);
  const roleId = stack.getLogicalId(stack.auth.authorizerFunction.role!.node.defaultChild as never);
  const statements = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && asArray<any>(r.Properties.Roles).some((role) => role.Ref === roleId))
    .flatMap((r) => asArray<Statement>(r.Properties.PolicyDocument.Statement));
  policy = { Version: '2012-10-17', Statement: resolve(statements) as Statement[] };
});
afterAll(removeTempDirs);

/** The simulator's verdict on one DynamoDB request of the authorizer's role. */
async function decide(action: string, context: Record<string, string | string[]>): Promise<string> {
  const response = await runSimulation(
    {
      request: { principal: `arn:aws:iam::${ACCOUNT}:role/authorizer`, action, resource: { resource: TABLE_ARN, accountId: ACCOUNT }, contextVariables: context },
      identityPolicies: [{ name: 'authorizer', policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType === 'error') throw new Error(`simulation refused its input: ${JSON.stringify(response.errors)}`);
  return response.overallResult;
}

/** The condition keys DynamoDB sets for an UpdateItem (Key, attributes named by its expressions). */
function updateContext(partitionKey: string, attributes: string[], returnValues = 'NONE') {
  return { 'dynamodb:LeadingKeys': [partitionKey], 'dynamodb:Attributes': ['pk', 'sk', ...attributes], 'dynamodb:ReturnValues': returnValues };
}

describe('the authorizer role, evaluated', () => {
  it('the two statements on the table name their actions, the table, and the conditions (printed for the record)', () => {
    const dynamo = policy.Statement.filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((s) => [s.Sid, s.Action, s.Resource])).toEqual([
      ['ReadKeyItems', 'dynamodb:GetItem', TABLE_ARN],
      ['RecordKeyUse', 'dynamodb:UpdateItem', TABLE_ARN],
    ]);
    expect(dynamo[1].Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['KEY#*'] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'lastUsedAt'] },
      StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  it('allows the usage write exactly as the authorizer sends it (a key item, SET lastUsedAt, condition on pk and lastUsedAt, ReturnValues NONE)', async () => {
    const input = recordUseInput('t', HASH, '2026-01-01T00:00:00.000Z', '2025-12-31T23:55:00.000Z');
    // The attributes its expressions name, as DynamoDB lists them for dynamodb:Attributes.
    const named = [...`${input.UpdateExpression} ${input.ConditionExpression}`.matchAll(/(?<![:\w])([a-zA-Z][a-zA-Z0-9_]*)\b/g)]
      .map((m) => m[1])
      .filter((word) => !['SET', 'AND', 'OR', 'NOT', 'attribute_exists', 'attribute_not_exists'].includes(word));
    expect(new Set(named)).toEqual(new Set(['lastUsedAt', 'pk']));
    expect(input.ReturnValues).toBe('NONE');
    expect(await decide('dynamodb:UpdateItem', updateContext(input.Key.pk, ['lastUsedAt']))).toBe('Allowed');
  });

  it('allows the key read (GetItem on a key item)', async () => {
    const input = getKeyInput('t', HASH, true);
    expect(await decide('dynamodb:GetItem', { 'dynamodb:LeadingKeys': [input.Key.pk], 'dynamodb:Attributes': ['pk', 'sk'] })).toBe('Allowed');
  });

  it.each([
    ["set a key's state (un-revoke it)", updateContext(keyItemKey(HASH).pk, ['state'])],
    ['set lastUsedAt and the scopes', updateContext(keyItemKey(HASH).pk, ['lastUsedAt', 'scopes'])],
    ["move a key's notAfter", updateContext(keyItemKey(HASH).pk, ['notAfter'])],
    ['rewrite a client item (the rotation lock)', updateContext(clientItemKey('acme').pk, ['lastUsedAt'])],
    ["rewrite a client's lock attribute", updateContext(clientItemKey('acme').pk, ['lock'])],
    ['rewrite an audit event', updateContext(auditItemKey('acme', 'r1', 'rotation.started').pk, ['lastUsedAt'])],
    ['read back the whole key item (ReturnValues ALL_OLD)', updateContext(keyItemKey(HASH).pk, ['lastUsedAt'], 'ALL_OLD')],
    ['read back the new item (ALL_NEW)', updateContext(keyItemKey(HASH).pk, ['lastUsedAt'], 'ALL_NEW')],
    ['an item whose partition key only contains KEY#', updateContext('CLIENT#KEY#x', ['lastUsedAt'])],
    ['no partition key in the request context', { 'dynamodb:Attributes': ['pk', 'sk', 'lastUsedAt'], 'dynamodb:ReturnValues': 'NONE' }],
  ])('denies an UpdateItem that would %s', async (_what, context) => {
    expect(await decide('dynamodb:UpdateItem', context)).toBe('ImplicitlyDenied');
  });

  it.each([
    ['a client item', clientItemKey('acme').pk],
    ['an audit event', auditItemKey('acme', 'r1', 'rotation.started').pk],
  ])('denies GetItem on %s', async (_what, pk) => {
    expect(await decide('dynamodb:GetItem', { 'dynamodb:LeadingKeys': [pk] })).toBe('ImplicitlyDenied');
  });

  it.each(['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchWriteItem'])('denies %s even on a key item', async (action) => {
    expect(await decide(action, { 'dynamodb:LeadingKeys': [keyItemKey(HASH).pk] })).toBe('ImplicitlyDenied');
  });
});
