/**
 * The pickup endpoint as synthesized (lib/keyroll-pickup.ts): one POST /pickup on a REST API,
 * the function's audience computed from the API id without a cycle, stage throttling, access
 * logs of standard fields only, TLS 1.2, and the function's role confined to client items, jti
 * items, client secrets and decryption through Secrets Manager. Its calls are also judged at
 * run time (test/handlers/pickup.test.ts, through the IAM check).
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { KeyRoll } from '../../lib/keyroll';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { PICKUP_CLIENT_ATTRIBUTES, PICKUP_ITEM_PK_PATTERN, TTL_ATTRIBUTE } from '../../lambdas/aws/table-keys';
import { asArray, newTestApp, removeTempDirs, renderCfn, TEST_ENV } from './infra-app';

type Resources = Record<string, { Type: string; Properties?: any }>;
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

let stack: KeyRollStack;
let resources: Resources;
let outputs: Record<string, { Value: unknown }>;

beforeAll(() => {
  stack = new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV });
  const json = Template.fromStack(stack).toJSON();
  resources = json.Resources as Resources;
  outputs = json.Outputs;
});
afterAll(removeTempDirs);

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

function pickupStatements(): Statement[] {
  const role = logicalId(stack.pickup!.role);
  return ofType('AWS::IAM::Policy')
    .filter(([, policy]) => asArray(policy.Properties.Roles).some((r: any) => r.Ref === role))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

describe('the pickup API', () => {
  test('one REST API, regional, TLS_1_2, with one method: POST /pickup, no API Gateway authorizer, a Content-Type required', () => {
    const apis = ofType('AWS::ApiGateway::RestApi');
    expect(apis).toHaveLength(1);
    expect(apis[0][1].Properties).toMatchObject({ SecurityPolicy: 'TLS_1_2', EndpointConfiguration: { Types: ['REGIONAL'] } });
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods).toHaveLength(1);
    expect(methods[0][1].Properties).toMatchObject({ HttpMethod: 'POST', AuthorizationType: 'NONE', RequestParameters: { 'method.request.header.Content-Type': true } });
    expect(methods[0][1].Properties.Integration).toMatchObject({ Type: 'AWS_PROXY' });
    expect(ofType('AWS::ApiGateway::Resource').map(([, r]) => r.Properties.PathPart)).toEqual(['pickup']);
    // Only API Gateway of this API and stage may invoke the function: no test-invoke permission.
    const permissions = ofType('AWS::Lambda::Permission').filter(([, p]) => renderCfn(p.Properties.FunctionName).includes('PickupPickupFunction'));
    expect(permissions).toHaveLength(1);
    expect(renderCfn(permissions[0][1].Properties.SourceArn)).toMatch(/:execute-api:us-east-1:123456789012:\{Ref:PickupApi[0-9A-F]+\}\/\{Ref:PickupApiDeploymentStagev1[0-9A-F]+\}\/POST\/pickup$/);
  });

  test('stage v1: throttled (50/s, burst 100 by default), traced, access logs of standard fields only to an encrypted group', () => {
    const stages = ofType('AWS::ApiGateway::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0][1].Properties;
    expect(stage.StageName).toBe('v1');
    expect(stage.TracingEnabled).toBe(true);
    expect(stage.MethodSettings).toEqual([expect.objectContaining({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, HttpMethod: '*', ResourcePath: '/*' })]);
    expect(stage.MethodSettings[0].DataTraceEnabled).toBe(false);
    const format = JSON.parse(stage.AccessLogSetting.Format as string) as Record<string, string>;
    const variables = Object.values(format);
    for (const variable of variables) expect(variable).toMatch(/^\$context\.(requestId|identity\.sourceIp|requestTime|httpMethod|resourcePath|status|protocol|responseLength|integrationLatency|tlsVersion)$/);
    expect(JSON.stringify(format)).not.toMatch(/header|body|querystring|authorizer/i);
    const group = resources[renderCfn(stage.AccessLogSetting.DestinationArn).replace(/^\{GetAtt:(.+)\.Arn\}$/, '$1')];
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    expect(group.Properties.KmsKeyId).toBeDefined();
  });

  test('the audience is the execute-api URL of the API id (no cycle), and the PickupUrl output is the same', () => {
    const fn = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('PickupPickupFunction'))![1];
    const audience = renderCfn(fn.Properties.Environment.Variables.PICKUP_AUDIENCE);
    expect(audience).toMatch(/^https:\/\/\{Ref:PickupApi[0-9A-F]+\}\.execute-api\.us-east-1\.amazonaws\.com\/v1\/pickup$/);
    expect(renderCfn(outputs.PickupUrl.Value)).toBe(audience);
    expect(Object.keys(outputs).filter((key) => key.includes('Endpoint') && key !== 'ExampleEndpointUrl')).toEqual([]);
  });

  test("the table's TTL attribute is the jti items' one", () => {
    const [, table] = ofType('AWS::DynamoDB::Table')[0];
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
  });
});

describe("the pickup function's role", () => {
  test('GetItem on client items, of the projected attributes only; PutItem of jti items, of their three attributes, returning nothing', () => {
    const statements = pickupStatements();
    const read = statements.find((s) => s.Sid === 'ReadClientItems')!;
    expect(read.Action).toBe('dynamodb:GetItem');
    expect(read.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', ...PICKUP_CLIENT_ATTRIBUTES] },
      Null: { 'dynamodb:LeadingKeys': 'false', 'dynamodb:Attributes': 'false' },
    });
    const write = statements.find((s) => s.Sid === 'SpendPickupJti')!;
    expect(write.Action).toBe('dynamodb:PutItem');
    expect(write.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [PICKUP_ITEM_PK_PATTERN] },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', TTL_ATTRIBUTE] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
      StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  test('GetSecretValue on client secrets only; every KMS use through Secrets Manager (decrypt) or DynamoDB; nothing else', () => {
    const statements = pickupStatements();
    const actions = statements.flatMap((s) => asArray(s.Action)).sort();
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'kms:Decrypt',
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'secretsmanager:GetSecretValue',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const secrets = statements.find((s) => s.Sid === 'ReadClientSecrets')!;
    expect(renderCfn(secrets.Resource)).toBe('arn:aws:secretsmanager:us-east-1:123456789012:secret:keyroll/clients/*');
    for (const statement of statements.filter((s) => asArray(s.Action).some((a) => a.startsWith('kms:')))) {
      const via = renderCfn(statement.Condition?.StringEquals?.['kms:ViaService']);
      expect(['secretsmanager.us-east-1.amazonaws.com', 'dynamodb.us-east-1.amazonaws.com']).toContain(via);
      if (via.startsWith('secretsmanager')) expect(statement.Action).toBe('kms:Decrypt');
    }
  });
});

describe('KeyRollProps.pickup', () => {
  test('false leaves the endpoint out (no API, no output); an object sets throttling and a custom-domain audience', () => {
    const off = new Stack(newTestApp(), 'Off', { env: TEST_ENV });
    const withoutPickup = new KeyRoll(off, 'KeyRoll', { pickup: false });
    expect(withoutPickup.pickup).toBeUndefined();
    const offTemplate = Template.fromStack(off).toJSON();
    expect(Object.values(offTemplate.Resources as Resources).filter((r) => r.Type === 'AWS::ApiGateway::RestApi')).toHaveLength(0);
    expect(offTemplate.Outputs.PickupUrl).toBeUndefined();

    const custom = new Stack(newTestApp(), 'Custom', { env: TEST_ENV });
    const keyRoll = new KeyRoll(custom, 'KeyRoll', { pickup: { throttle: { rateLimit: 5, burstLimit: 10 }, audience: 'https://keys.example.com/pickup', cloudWatchRole: false } });
    expect(keyRoll.pickup!.url).toBe('https://keys.example.com/pickup');
    const template = Template.fromStack(custom).toJSON();
    const all = Object.values(template.Resources as Resources);
    expect(all.find((r) => r.Type === 'AWS::ApiGateway::Stage')!.Properties.MethodSettings[0]).toMatchObject({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 });
    expect(all.find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.PICKUP_AUDIENCE)!.Properties.Environment.Variables.PICKUP_AUDIENCE).toBe('https://keys.example.com/pickup');
    expect(template.Outputs.PickupUrl.Value).toBe('https://keys.example.com/pickup');
    expect(all.filter((r) => r.Type === 'AWS::ApiGateway::Account')).toHaveLength(0);
  });

  test('a malformed audience or throttle is refused at synth', () => {
    for (const audience of ['http://keys.example.com/pickup', 'https://keys.example.com/pickup?x=1', 'https://user@keys.example.com/pickup']) {
      expect(() => new KeyRoll(new Stack(newTestApp(), 'Bad', { env: TEST_ENV }), 'KeyRoll', { pickup: { audience } })).toThrow(/pickup\.audience/);
    }
    expect(() => new KeyRoll(new Stack(newTestApp(), 'Bad', { env: TEST_ENV }), 'KeyRoll', { pickup: { throttle: { rateLimit: 0 } } })).toThrow(/pickup\.throttle/);
  });
});
