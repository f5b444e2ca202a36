/**
 * CDK assertions on the auth layer as the stack deploys it: the authorizer function and its
 * least-privilege role, the example HTTP API wired to it, the alarms and dashboard on the
 * auth metrics, and testSecret pointed at the example endpoint.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric } from '../../lambdas/aws/auth/auth-metrics';
import { KeyRollAuth } from '../../lib/keyroll-auth';
import { KeyRollRotation } from '../../lib/keyroll-rotation';
import { KeyRollStack, type KeyRollStackProps } from '../../lib/keyroll-stack';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

type Resources = Record<string, { Type: string; Properties?: any }>;

function synth(props: KeyRollStackProps = {}) {
  const stack = new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV, ...props });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  return { stack, template, resources, ofType, id };
}

let s: ReturnType<typeof synth>;
beforeAll(() => {
  s = synth();
});
afterAll(removeTempDirs);

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

describe('the authorizer function', () => {
  test('runs on Node.js 24 arm64 with tracing, configured from the rotation pipeline', () => {
    const fn = s.resources[s.id(s.stack.auth.authorizerFunction)].Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    expect(fn.Environment.Variables).toEqual({
      TABLE_NAME: { Ref: s.id(s.stack.rotation.table) },
      KEY_PREFIX: 'kr',
      CACHE_TTL_MS: '10000',
      USAGE_INTERVAL_SECONDS: '300',
      ROUTE_SCOPES: '{}',
      UNLISTED_ROUTES: 'allow',
      // The partition's DNS suffix, from which the lean DynamoDB client builds its host.
      AWS_URL_SUFFIX: 'amazonaws.com',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
  });

  test('its role may only read key items and write lastUsedAt (GetItem, UpdateItem on the table), use the key through DynamoDB, log, and trace', () => {
    const roleId = s.id(s.stack.auth.authorizerFunction.role!);
    const statements = s
      .ofType('AWS::IAM::Policy')
      .filter(([, p]) => asArray<any>(p.Properties.Roles).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => asArray<any>(p.Properties.PolicyDocument.Statement));
    const actions = statements.flatMap((st) => asArray<string>(st.Action)).sort();
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:UpdateItem',
        'kms:Decrypt',
        'kms:DescribeKey',
        'kms:Encrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    );
    const dynamo = statements.find((st) => asArray<string>(st.Action).includes('dynamodb:GetItem'));
    expect(dynamo.Resource).toEqual({ 'Fn::GetAtt': [s.id(s.stack.rotation.table), 'Arn'] });
    const kms = statements.find((st) => asArray<string>(st.Action).includes('kms:Decrypt'));
    expect(kms.Condition).toEqual({ StringEquals: { 'kms:ViaService': 'dynamodb.us-east-1.amazonaws.com' } });
  });
});

describe('the example protected API', () => {
  test('an HTTP API whose GET /whoami is guarded by the authorizer with simple responses and no API Gateway cache', () => {
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: ['$request.header.Authorization'],
    });
    const routes = s.ofType('AWS::ApiGatewayV2::Route');
    expect(routes).toHaveLength(1);
    expect(routes[0][1].Properties).toMatchObject({ RouteKey: 'GET /whoami', AuthorizationType: 'CUSTOM' });
  });

  test('its stage logs access (ids only, never the Authorization header) to an encrypted group, with throttling', () => {
    const stages = s.ofType('AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0][1].Properties;
    expect(stage).toMatchObject({ StageName: '$default', AutoDeploy: true, DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 } });
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', clientId: '$context.authorizer.clientId', keyId: '$context.authorizer.keyId' });
    expect(stage.AccessLogSettings.Format).not.toMatch(/authorization|header/i);
  });

  test('testSecret proves new keys against its /whoami endpoint', () => {
    const env = s.resources[s.id(s.stack.rotation.functions.testSecret)].Properties.Environment.Variables;
    expect(JSON.stringify(env.VERIFY_ENDPOINT_URL)).toContain(s.id(s.stack.auth.exampleApi!));
    expect(JSON.stringify(env.VERIFY_ENDPOINT_URL)).toContain('/whoami');
  });

  test('can be left out: no API, no endpoint proof, the authorizer stays', () => {
    const without = synth({ auth: { exampleApi: false } });
    expect(without.ofType('AWS::ApiGatewayV2::Api')).toHaveLength(0);
    expect(without.stack.auth.exampleEndpointUrl).toBeUndefined();
    expect(without.resources[without.id(without.stack.rotation.functions.testSecret)].Properties.Environment.Variables.VERIFY_ENDPOINT_URL).toBeUndefined();
    expect(without.resources[without.id(without.stack.auth.authorizerFunction)]).toBeDefined();
  });

  test('an explicit verifyEndpointUrl wins', () => {
    const custom = synth({ verifyEndpointUrl: 'https://api.example.com/health/key' });
    expect(custom.resources[custom.id(custom.stack.rotation.functions.testSecret)].Properties.Environment.Variables.VERIFY_ENDPOINT_URL).toBe('https://api.example.com/health/key');
  });
});

describe('auth alarms and metrics', () => {
  const authAlarms = () =>
    s
      .ofType('AWS::CloudWatch::Alarm')
      .filter(([id]) => id.startsWith('Auth'))
      .map(([, a]) => a.Properties);
  const opsTopic = () => ({ Ref: s.id(s.stack.rotation.opsTopic) });

  test('five alarms, each to the ops topic', () => {
    expect(authAlarms()).toHaveLength(5);
    for (const alarm of authAlarms()) expect(alarm.AlarmActions).toEqual([opsTopic()]);
  });

  test('the failure rate is metric math over failures and successes, with a minimum volume', () => {
    const rate = authAlarms().find((a) => a.Metrics)!;
    expect(rate.Threshold).toBe(0.05);
    const expression = rate.Metrics.find((m: any) => m.Expression);
    expect(expression.Expression).toBe('IF((ok + failed) >= 20, failed / (ok + failed), 0)');
    const names = rate.Metrics.filter((m: any) => m.MetricStat).map((m: any) => [m.Id, m.MetricStat.Metric.MetricName]);
    expect(names.sort()).toEqual([
      ['failed', AuthMetric.FAILED],
      ['ok', AuthMetric.SUCCEEDED],
    ]);
  });

  test.each([
    ['revoked', 1],
    ['expired', 1],
  ])('any use of a %s key raises an alarm on AuthFailedByReason (service + Reason dimensions, as the authorizer emits them)', (reason, threshold) => {
    const alarm = authAlarms().find((a) => asArray<any>(a.Dimensions).some((d) => d.Name === 'Reason' && d.Value === reason))!;
    expect(alarm).toMatchObject({ Namespace: AUTH_METRICS_NAMESPACE, MetricName: AuthMetric.FAILED_BY_REASON, Threshold: threshold, Statistic: 'Sum', Period: 300 });
    expect(alarm.Dimensions).toEqual(expect.arrayContaining([{ Name: 'service', Value: AUTH_METRICS_SERVICE }]));
  });

  test('absolute failures and authorizer errors are alarmed too', () => {
    expect(authAlarms().find((a) => a.MetricName === AuthMetric.FAILED && !a.Dimensions?.some((d: any) => d.Name === 'Reason'))).toMatchObject({ Threshold: 100 });
    expect(authAlarms().find((a) => a.MetricName === 'Errors' && a.Namespace === 'AWS/Lambda')).toBeDefined();
  });

  test('the metricXxx() methods name the metrics the authorizer emits', () => {
    const auth = s.stack.auth;
    expect(auth.metricAuthSucceeded()).toMatchObject({ namespace: 'KeyRoll', metricName: 'AuthSucceeded', dimensions: { service: 'keyroll-authorizer' } });
    expect(auth.metricPreviousKeyUse()).toMatchObject({ metricName: 'AuthSucceededByKeyRole', dimensions: { service: 'keyroll-authorizer', KeyRole: 'previous' } });
    expect(auth.metricRevokedKeyUse()).toMatchObject({ metricName: 'AuthFailedByReason', dimensions: { Reason: 'revoked' } });
    expect(auth.metricAuthFailureRate().period.toSeconds()).toBe(300);
  });

  test('a dashboard shows authentication and rotation health', () => {
    const dashboards = s.ofType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0][1].Properties.DashboardBody);
    for (const needle of ['AuthSucceeded', 'AuthFailedByReason', 'AuthSucceededByKeyRole', 'ExecutionsFailed', 'ExecutionsStarted', 'failure rate']) {
      expect(body.toLowerCase()).toContain(needle.toLowerCase());
    }
  });
});

describe('validation', () => {
  test('a cache TTL over 10 s is refused (it is the revocation bound)', () => {
    const stack = new Stack(newTestApp(), 'V', { env: TEST_ENV });
    const build = () => {
      const rotation = new KeyRollRotation(stack, 'R');
      new KeyRollAuth(stack, 'A', { table: rotation.table, encryptionKey: rotation.encryptionKey, opsTopic: rotation.opsTopic, keyPrefix: 'kr', cacheTtl: Duration.seconds(11) });
    };
    expect(build).toThrow('cacheTtl must be at most 10 seconds; got 11000 ms.');
  });

  test.each(['KR', 'k', 'kr_', 'a'.repeat(17)])('keyPrefix %p, which the authorizer would refuse at init, fails the synth', (keyPrefix) => {
    const stack = new Stack(newTestApp(), 'V', { env: TEST_ENV });
    const rotation = new KeyRollRotation(stack, 'R');
    expect(() => new KeyRollAuth(stack, 'A', { table: rotation.table, encryptionKey: rotation.encryptionKey, opsTopic: rotation.opsTopic, keyPrefix })).toThrow(
      /keyPrefix must be 2-16 lowercase letters or digits/,
    );
  });

  describe('route scopes', () => {
    const build = (auth: { routeScopes?: Record<string, string[]>; denyUnlistedRoutes?: boolean }) => {
      const stack = new Stack(newTestApp(), 'V', { env: TEST_ENV });
      const rotation = new KeyRollRotation(stack, 'R');
      const construct = new KeyRollAuth(stack, 'A', { table: rotation.table, encryptionKey: rotation.encryptionKey, opsTopic: rotation.opsTopic, keyPrefix: 'kr', exampleApi: false, ...auth });
      const fn = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(construct.authorizerFunction.node.defaultChild as never)];
      return fn.Properties.Environment.Variables as Record<string, string>;
    };

    test('unlisted routes are denied by default once routes are listed without "*", allowed with "*", with none listed, or when asked', () => {
      expect(build({ routeScopes: { 'GET /orders': ['orders:read'] } }).UNLISTED_ROUTES).toBe('deny');
      expect(build({ routeScopes: { 'GET /orders': ['orders:read'], '*': [] } }).UNLISTED_ROUTES).toBe('allow');
      expect(build({}).UNLISTED_ROUTES).toBe('allow');
      expect(build({ routeScopes: { 'GET /orders': ['orders:read'] }, denyUnlistedRoutes: false }).UNLISTED_ROUTES).toBe('allow');
      expect(build({ denyUnlistedRoutes: true }).UNLISTED_ROUTES).toBe('deny');
    });

    test.each([
      ['duplicate routes', { routeScopes: { 'GET /a/{x}': [], 'GET /a/{y}': [] } }, /match the same requests/],
      ['a malformed path', { routeScopes: { 'GET /a/{x': [] } }, /neither a literal nor a \{variable\}/],
      ['a malformed route', { routeScopes: { 'FETCH /a': [] } }, /routes are "METHOD \/path" or "\*"/],
      ['"*" with denyUnlistedRoutes', { routeScopes: { 'GET /a': [], '*': [] }, denyUnlistedRoutes: true }, /unlisted routes are denied/],
    ])('%s fails the synth with InvalidRouteScopes', (_what, auth, message) => {
      let error: unknown;
      try {
        build(auth);
      } catch (caught) {
        error = caught;
      }
      expect((error as Error | undefined)?.name).toBe('InvalidRouteScopes');
      expect((error as Error).message).toMatch(message);
    });
  });

  test('a usage window shorter than twice the usage-record interval is refused', () => {
    expect(() => synth({ rotation: { usageWindow: Duration.minutes(10) }, auth: { usageRecordInterval: Duration.minutes(6) } })).toThrow(
      /usageWindow \(600 s\) must be at least twice the auth layer's usageRecordInterval \(360 s\)/,
    );
  });
});
