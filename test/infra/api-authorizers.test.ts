/**
 * KeyRollAuth attached to APIs a user already has: `restApiAuthorizer()` on a RestApi,
 * `httpApiAuthorizer()` on an HttpApi, in a user stack that embeds the KeyRoll construct.
 * Each authorizer must reach the authorizer function on every request (API Gateway's cache at
 * 0: revocation takes effect at once), require the header the function reads, be invocable by
 * that API only, and carry its API's route scopes into the function's API_ROUTE_SCOPES under
 * that API's id only (one API's map never decides for another).
 */
import { Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Template } from 'aws-cdk-lib/assertions';
import { parseApiRouteScopes } from '../../lambdas/aws/auth/api-route-scopes';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { ConflictingRouteScopesError, CrossStackRouteScopesError, KeyRoll, type KeyRollApiAuthorizerOptions } from '../../lib';
import { newTestApp, removeTempDirs, renderCfn, TEST_ENV } from './infra-app';

interface Resource {
  Type: string;
  Properties: any;
}

/** A user stack: KeyRoll, a RestApi with `GET /orders/{id}`, an HttpApi with `GET /items/{id}`. */
function userStack(options: { rest?: KeyRollApiAuthorizerOptions; http?: KeyRollApiAuthorizerOptions; noArguments?: boolean } = {}) {
  const stack = new Stack(newTestApp(), 'PlatformApi', { env: TEST_ENV });
  const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
  const restApi = new apigw.RestApi(stack, 'OrdersApi');
  const restAuthorizer = options.noArguments ? keyRoll.auth.restApiAuthorizer() : keyRoll.auth.restApiAuthorizer(options.rest);
  restApi.root.addResource('orders').addResource('{id}').addMethod('GET', new apigw.MockIntegration(), { authorizer: restAuthorizer });
  const httpApi = new apigwv2.HttpApi(stack, 'ItemsApi');
  const httpAuthorizer = options.noArguments ? keyRoll.auth.httpApiAuthorizer() : keyRoll.auth.httpApiAuthorizer(options.http);
  httpApi.addRoutes({ path: '/items/{id}', methods: [apigwv2.HttpMethod.GET], integration: new HttpUrlIntegration('Items', 'https://items.example.com'), authorizer: httpAuthorizer });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
  const authorizerEnvironment = () => resources[id(keyRoll.auth.authorizerFunction)].Properties.Environment.Variables;
  return { stack, keyRoll, restApi, httpApi, template, resources, ofType, id, authorizerEnvironment };
}

const SCOPES = {
  rest: { routeScopes: { 'GET /orders/{id}': ['orders:read'] } },
  http: { routeScopes: { 'GET /items/{id}': ['items:read'] } },
};

let s: ReturnType<typeof userStack>;
beforeAll(() => {
  s = userStack(SCOPES);
});
afterAll(removeTempDirs);

describe('restApiAuthorizer() on an existing RestApi', () => {
  test('is a REQUEST authorizer on the KeyRoll function, with no API Gateway cache and the Authorization header as identity source', () => {
    const authorizers = s.ofType('AWS::ApiGateway::Authorizer');
    expect(authorizers).toHaveLength(1);
    const [, authorizer] = authorizers[0];
    expect(authorizer.Properties).toMatchObject({
      Type: 'REQUEST',
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: 'method.request.header.Authorization',
      RestApiId: { Ref: s.id(s.restApi) },
    });
    expect(renderCfn(authorizer.Properties.AuthorizerUri)).toContain(`{GetAtt:${s.id(s.keyRoll.auth.authorizerFunction)}.Arn}/invocations`);
  });

  test('guards the method: GET /orders/{id} is CUSTOM with this authorizer', () => {
    const [authorizerId] = s.ofType('AWS::ApiGateway::Authorizer')[0];
    const methods = s.ofType('AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'GET');
    expect(methods).toHaveLength(1);
    expect(methods[0][1].Properties).toMatchObject({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
  });

  test("API Gateway may invoke the function for this API's authorizer only", () => {
    const [authorizerId] = s.ofType('AWS::ApiGateway::Authorizer')[0];
    const permissions = s.ofType('AWS::Lambda::Permission').filter(([, p]) => renderCfn(p.Properties.SourceArn).includes(`{Ref:${s.id(s.restApi)}}`));
    expect(permissions).toHaveLength(1);
    expect(permissions[0][1].Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [s.id(s.keyRoll.auth.authorizerFunction), 'Arn'] },
    });
    expect(renderCfn(permissions[0][1].Properties.SourceArn)).toBe(`arn:aws:execute-api:us-east-1:123456789012:{Ref:${s.id(s.restApi)}}/authorizers/{Ref:${authorizerId}}`);
  });

  test('one per RestApi: two APIs each get their own authorizer and permission', () => {
    const stack = new Stack(newTestApp(), 'TwoApis', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const apis = ['First', 'Second'].map((name) => {
      const api = new apigw.RestApi(stack, name);
      api.root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer() });
      return api;
    });
    const template = Template.fromStack(stack);
    const resources = template.toJSON().Resources as Record<string, Resource>;
    const authorizers = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Authorizer');
    expect(authorizers.map(([, a]) => a.Properties.RestApiId)).toEqual(apis.map((api) => ({ Ref: stack.getLogicalId(api.node.defaultChild as never) })));
    for (const [authorizerId, authorizer] of authorizers) {
      expect(authorizer.Properties.AuthorizerResultTtlInSeconds).toBe(0);
      const permissions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Permission' && renderCfn(r.Properties.SourceArn).endsWith(`/authorizers/{Ref:${authorizerId}}`));
      expect(permissions).toHaveLength(1);
      expect(renderCfn(permissions[0].Properties.SourceArn)).toContain(`{Ref:${authorizer.Properties.RestApiId.Ref}}/`);
    }
  });

  test('the same authorizer on a second RestApi is refused by CDK (which is why each API calls restApiAuthorizer())', () => {
    const stack = new Stack(newTestApp(), 'Shared', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const authorizer = keyRoll.auth.restApiAuthorizer();
    new apigw.RestApi(stack, 'First').root.addMethod('GET', new apigw.MockIntegration(), { authorizer });
    expect(() => new apigw.RestApi(stack, 'Second').root.addMethod('GET', new apigw.MockIntegration(), { authorizer })).toThrow(/two different rest APIs/);
  });
});

describe('APIs in another stack than KeyRoll', () => {
  test("work with restApiAuthorizer({ scope }) and httpApiAuthorizer(): authorizers and permissions beside the APIs, their stack depending on KeyRoll's only", () => {
    const app = newTestApp();
    const keyRollStack = new Stack(app, 'KeyRollHome', { env: TEST_ENV });
    const apiStack = new Stack(app, 'Apis', { env: TEST_ENV });
    // No pickup endpoint: its own API's permission would be counted with the authorizer's.
    const keyRoll = new KeyRoll(keyRollStack, 'KeyRoll', { auth: { exampleApi: false }, pickup: false });
    new apigw.RestApi(apiStack, 'Rest').root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ scope: apiStack }) });
    new apigwv2.HttpApi(apiStack, 'Http').addRoutes({
      path: '/x',
      methods: [apigwv2.HttpMethod.GET],
      integration: new HttpUrlIntegration('X', 'https://x.example.com'),
      authorizer: keyRoll.auth.httpApiAuthorizer(),
    });
    const apis = Template.fromStack(apiStack);
    apis.resourceCountIs('AWS::ApiGateway::Authorizer', 1);
    apis.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    const permissions = Object.values(apis.toJSON().Resources as Record<string, Resource>).filter((r) => r.Type === 'AWS::Lambda::Permission');
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) expect(renderCfn(permission.Properties.SourceArn)).toMatch(/\/authorizers\/\{Ref:/);
    Template.fromStack(keyRollStack).resourceCountIs('AWS::Lambda::Permission', 0);
    expect(apiStack.dependencies).toEqual([keyRollStack]);
    expect(keyRollStack.dependencies).toEqual([]);
  });

  test('a RestApi in another stack without scope is a cyclic reference (which scope avoids)', () => {
    const app = newTestApp();
    const keyRoll = new KeyRoll(new Stack(app, 'KeyRollHome', { env: TEST_ENV }), 'KeyRoll', { auth: { exampleApi: false } });
    const rest = new apigw.RestApi(new Stack(app, 'Apis', { env: TEST_ENV }), 'Rest');
    rest.root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer() });
    expect(() => app.synth()).toThrow(/cyclic reference/);
  });
});

describe('httpApiAuthorizer() on an existing HttpApi', () => {
  test('is a simple-response (payload 2.0) authorizer on the KeyRoll function, with no API Gateway cache and the Authorization header as identity source', () => {
    const authorizers = s.ofType('AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    expect(authorizers[0][1].Properties).toMatchObject({
      ApiId: { Ref: s.id(s.httpApi) },
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: ['$request.header.Authorization'],
    });
    expect(renderCfn(authorizers[0][1].Properties.AuthorizerUri)).toContain(`{GetAtt:${s.id(s.keyRoll.auth.authorizerFunction)}.Arn}/invocations`);
    const [authorizerId] = authorizers[0];
    s.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'GET /items/{id}', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } });
  });

  test("API Gateway may invoke the function for this API's authorizer only", () => {
    const [authorizerId] = s.ofType('AWS::ApiGatewayV2::Authorizer')[0];
    const permissions = s.ofType('AWS::Lambda::Permission').filter(([, p]) => renderCfn(p.Properties.SourceArn).includes(`{Ref:${s.id(s.httpApi)}}`));
    expect(permissions).toHaveLength(1);
    expect(renderCfn(permissions[0][1].Properties.SourceArn)).toBe(`arn:aws:execute-api:us-east-1:123456789012:{Ref:${s.id(s.httpApi)}}/authorizers/{Ref:${authorizerId}}`);
  });

  test('the only permissions on the function are the two authorizers (no account-wide invoke)', () => {
    const permissions = s.ofType('AWS::Lambda::Permission').filter(([, p]) => JSON.stringify(p.Properties.FunctionName).includes(s.id(s.keyRoll.auth.authorizerFunction)));
    expect(permissions).toHaveLength(2);
    for (const [, permission] of permissions) expect(renderCfn(permission.Properties.SourceArn)).toMatch(/\/authorizers\/\{Ref:/);
  });
});

/** The Lambda environment of KeyRoll's authorizer function in `stack`. */
function environmentOf(stack: Stack, keyRoll: KeyRoll): Record<string, any> {
  return (Template.fromStack(stack).toJSON().Resources as Record<string, Resource>)[stack.getLogicalId(keyRoll.auth.authorizerFunction.node.defaultChild as never)].Properties.Environment.Variables;
}

/**
 * API_ROUTE_SCOPES as the function reads it, each API id being the API's logical id (the Ref
 * CloudFormation replaces with the id): every non-literal part must be such a Ref.
 */
function apiRouteScopesJson(environment: Record<string, any>): string {
  const value = environment.API_ROUTE_SCOPES as { 'Fn::Join': [string, unknown[]] };
  const [separator, parts] = value['Fn::Join'];
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      expect(Object.keys(part as object)).toEqual(['Ref']);
      return (part as { Ref: string }).Ref;
    })
    .join(separator);
}

/** The function's choice for a request to API `apiId`: that API's own map, else ROUTE_SCOPES (lambdas/aws/auth/authorizer.ts). */
function scopesFor(environment: Record<string, any>, apiId: string): RouteScopes {
  const own = environment.API_ROUTE_SCOPES === undefined ? new Map<string, RouteScopes>() : parseApiRouteScopes(apiRouteScopesJson(environment));
  return own.get(apiId) ?? RouteScopes.parse(environment.ROUTE_SCOPES, environment.UNLISTED_ROUTES);
}

/** What a call threw (fails when it did not). */
function thrown(call: () => unknown): Error {
  try {
    call();
  } catch (caught) {
    return caught as Error;
  }
  throw new Error('expected the call to throw');
}

describe('route scopes of the attached APIs apply to that API only', () => {
  test("each API's map is in API_ROUTE_SCOPES under its own API id; ROUTE_SCOPES stays the deployment-wide map", () => {
    const environment = s.authorizerEnvironment();
    expect(environment).toMatchObject({ ROUTE_SCOPES: '{}', UNLISTED_ROUTES: 'allow' });
    expect(JSON.parse(apiRouteScopesJson(environment))).toEqual({
      [s.id(s.restApi)]: { routes: { 'GET /orders/{id}': ['orders:read'] }, unlisted: 'deny' },
      [s.id(s.httpApi)]: { routes: { 'GET /items/{id}': ['items:read'] }, unlisted: 'deny' },
    });
    // A REST event is judged by its method ARN's path and its resource; an HTTP event by its routeKey.
    const orders = scopesFor(environment, s.id(s.restApi));
    const items = scopesFor(environment, s.id(s.httpApi));
    expect(orders.required({ route: 'GET /orders/42', routeKey: 'GET /orders/{id}' })).toEqual(['orders:read']);
    expect(items.required({ route: 'GET /items/7', routeKey: 'GET /items/{id}' })).toEqual(['items:read']);
    // Neither API's routes exist on the other.
    expect(orders.required({ route: 'GET /items/7' })).toBeUndefined();
    expect(items.required({ route: 'GET /orders/42' })).toBeUndefined();
    expect(orders.required({ route: 'DELETE /orders/42' })).toBeUndefined();
  });

  describe('the review\'s repro: an HttpApi\'s "*": [] does not open the admin RestApi', () => {
    const build = (withOpenApi: boolean) => {
      const stack = new Stack(newTestApp(), 'Repro', { env: TEST_ENV });
      const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
      const admin = new apigw.RestApi(stack, 'AdminApi');
      const authorizer = keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /users': ['admin'] } });
      admin.root.addResource('users').addMethod('GET', new apigw.MockIntegration(), { authorizer });
      admin.root.addResource('secret').addMethod('DELETE', new apigw.MockIntegration(), { authorizer });
      const open = new apigwv2.HttpApi(stack, 'OpenApi');
      if (withOpenApi) {
        open.addRoutes({
          path: '/{proxy+}',
          methods: [apigwv2.HttpMethod.ANY],
          integration: new HttpUrlIntegration('Open', 'https://open.example.com'),
          authorizer: keyRoll.auth.httpApiAuthorizer({ routeScopes: { '*': [] } }),
        });
      }
      const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
      return { environment: environmentOf(stack, keyRoll), adminId: id(admin), openId: id(open) };
    };

    test('alone, the admin API refuses its unlisted DELETE /secret', () => {
      const { environment, adminId } = build(false);
      expect(JSON.parse(apiRouteScopesJson(environment))).toEqual({ [adminId]: { routes: { 'GET /users': ['admin'] }, unlisted: 'deny' } });
      expect(scopesFor(environment, adminId).required({ route: 'DELETE /secret', routeKey: 'DELETE /secret' })).toBeUndefined();
    });

    test('with the open HttpApi attached, DELETE /secret on the admin API is still refused while the HttpApi is open', () => {
      const { environment, adminId, openId } = build(true);
      expect(JSON.parse(apiRouteScopesJson(environment))).toEqual({
        [adminId]: { routes: { 'GET /users': ['admin'] }, unlisted: 'deny' },
        [openId]: { routes: { '*': [] }, unlisted: 'allow' },
      });
      expect(scopesFor(environment, adminId).required({ route: 'DELETE /secret', routeKey: 'DELETE /secret' })).toBeUndefined();
      expect(scopesFor(environment, adminId).required({ route: 'GET /users', routeKey: 'GET /users' })).toEqual(['admin']);
      expect(scopesFor(environment, openId).required({ route: 'DELETE /secret', routeKey: 'ANY /{proxy+}' })).toEqual([]);
      // The deployment-wide map is untouched by either API.
      expect(environment).toMatchObject({ ROUTE_SCOPES: '{}', UNLISTED_ROUTES: 'allow' });
    });
  });

  test("the construct-level routeScopes stay in ROUTE_SCOPES (with their denyUnlistedRoutes) for APIs without a map; an API's own map replaces them there", () => {
    const stack = new Stack(newTestApp(), 'Deployment', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false, routeScopes: { 'GET /health': [] }, denyUnlistedRoutes: false } });
    const api = new apigw.RestApi(stack, 'Api');
    api.root.addMethod('POST', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'POST /': ['root:write'] } }) });
    const environment = environmentOf(stack, keyRoll);
    expect(environment).toMatchObject({ ROUTE_SCOPES: '{"GET /health":[]}', UNLISTED_ROUTES: 'allow' });
    const apiId = stack.getLogicalId(api.node.defaultChild as never);
    expect(JSON.parse(apiRouteScopesJson(environment))).toEqual({ [apiId]: { routes: { 'POST /': ['root:write'] }, unlisted: 'deny' } });
    expect(scopesFor(environment, apiId).required('GET /health')).toBeUndefined();
    expect(scopesFor(environment, 'anotherapi').required('GET /anything')).toEqual([]);
  });

  test("denyUnlistedRoutes per call sets that API's rule, and alone gives it a map of its own", () => {
    const stack = new Stack(newTestApp(), 'PerCallRule', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const listed = new apigw.RestApi(stack, 'Listed');
    listed.root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /': ['read'] }, denyUnlistedRoutes: false }) });
    const closed = new apigwv2.HttpApi(stack, 'Closed');
    closed.addRoutes({
      path: '/x',
      methods: [apigwv2.HttpMethod.GET],
      integration: new HttpUrlIntegration('X', 'https://x.example.com'),
      authorizer: keyRoll.auth.httpApiAuthorizer({ denyUnlistedRoutes: true }),
    });
    const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
    expect(JSON.parse(apiRouteScopesJson(environmentOf(stack, keyRoll)))).toEqual({
      [id(listed)]: { routes: { 'GET /': ['read'] }, unlisted: 'allow' },
      [id(closed)]: { routes: {}, unlisted: 'deny' },
    });
  });

  test('no API_ROUTE_SCOPES when no API has a map of its own, or the authorizer with one is never attached', () => {
    expect(userStack({ noArguments: true }).authorizerEnvironment()).not.toHaveProperty('API_ROUTE_SCOPES');
    const stack = new Stack(newTestApp(), 'NeverAttached', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /a': ['a'] } });
    keyRoll.auth.httpApiAuthorizer({ routeScopes: { 'GET /b': ['b'] } });
    // The REST authorizer is a construct, unattached: CDK itself refuses to synthesize it.
    expect(() => environmentOf(stack, keyRoll)).toThrow(/must be attached to a RestApi/);
    const httpOnly = new Stack(newTestApp(), 'HttpNeverAttached', { env: TEST_ENV });
    const other = new KeyRoll(httpOnly, 'KeyRoll', { auth: { exampleApi: false } });
    other.auth.httpApiAuthorizer({ routeScopes: { 'GET /b': ['b'] } });
    expect(environmentOf(httpOnly, other)).not.toHaveProperty('API_ROUTE_SCOPES');
  });

  test('the same route with different scopes on two different APIs is fine: each keeps its own', () => {
    const both = userStack({ rest: { routeScopes: { 'GET /a': ['x'] } }, http: { routeScopes: { 'GET /a': ['admin'] } } });
    const environment = both.authorizerEnvironment();
    expect(scopesFor(environment, both.id(both.restApi)).required('GET /a')).toEqual(['x']);
    expect(scopesFor(environment, both.id(both.httpApi)).required('GET /a')).toEqual(['admin']);
  });

  test('two authorizers of one API with the same map (in any order) are fine; a different map is ConflictingRouteScopes when attached, naming both', () => {
    const stack = new Stack(newTestApp(), 'OneApi', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const api = new apigw.RestApi(stack, 'Api');
    api.root.addResource('a').addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /a': ['x', 'y'] } }) });
    api.root.addResource('b').addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /a': ['y', 'x'] } }) });
    const different = keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /a': ['x'], '*': [] } });
    const error = thrown(() => api.root.addResource('c').addMethod('GET', new apigw.MockIntegration(), { authorizer: different }));
    expect(error).toBeInstanceOf(ConflictingRouteScopesError);
    expect(error.name).toBe('ConflictingRouteScopes');
    expect(error.message).toMatch(
      /API 'OneApi\/Api' has route scopes from restApiAuthorizer 'OneApi\/KeyRoll\/Auth\/RestApiAuthorizer' and different ones from restApiAuthorizer 'OneApi\/KeyRoll\/Auth\/RestApiAuthorizer3'/,
    );
  });

  test("per-API route scopes for an API outside KeyRoll's stack are CrossStackRouteScopes when attached", () => {
    const app = newTestApp();
    const keyRoll = new KeyRoll(new Stack(app, 'KeyRollHome', { env: TEST_ENV }), 'KeyRoll', { auth: { exampleApi: false } });
    const apiStack = new Stack(app, 'Apis', { env: TEST_ENV });
    const rest = new apigw.RestApi(apiStack, 'Rest');
    const restError = thrown(() => rest.root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ scope: apiStack, routeScopes: { 'GET /': ['read'] } }) }));
    const httpError = thrown(() =>
      new apigwv2.HttpApi(apiStack, 'Http').addRoutes({
        path: '/x',
        methods: [apigwv2.HttpMethod.GET],
        integration: new HttpUrlIntegration('X', 'https://x.example.com'),
        authorizer: keyRoll.auth.httpApiAuthorizer({ routeScopes: { 'GET /x': ['read'] } }),
      }),
    );
    for (const error of [restError, httpError]) {
      expect(error).toBeInstanceOf(CrossStackRouteScopesError);
      expect(error.message).toMatch(/not in the KeyRoll authorizer's stack/);
    }
  });

  test.each([
    ['a malformed route', { routeScopes: { 'FETCH /a': [] } }, /routes are "METHOD \/path" or "\*"/],
    ['two routes matching the same requests', { routeScopes: { 'GET /a/{x}': [], 'GET /a/{y}': [] } }, /match the same requests/],
    ['"*" with denyUnlistedRoutes', { routeScopes: { 'GET /a': [], '*': [] }, denyUnlistedRoutes: true }, /unlisted routes are denied/],
  ])('%s is InvalidRouteScopes at the call, and adds nothing', (_what, options, message) => {
    const stack = new Stack(newTestApp(), 'Invalid', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const api = new apigw.RestApi(stack, 'Api');
    api.root
      .addResource('orders')
      .addResource('{id}')
      .addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:read'] } }) });
    const error = thrown(() => keyRoll.auth.httpApiAuthorizer(options));
    expect(error.name).toBe('InvalidRouteScopes');
    expect(error.message).toMatch(message);
    expect(JSON.parse(apiRouteScopesJson(environmentOf(stack, keyRoll)))).toEqual({
      [stack.getLogicalId(api.node.defaultChild as never)]: { routes: { 'GET /orders/{id}': ['orders:read'] }, unlisted: 'deny' },
    });
  });
});

describe('with the example API deployed', () => {
  const synthWith = (routeScopes: Record<string, string[]>, auth: { routeScopes?: Record<string, string[]> } = {}) => {
    const stack = new Stack(newTestApp(), 'WithExample', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth });
    new apigw.RestApi(stack, 'Api').root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes }) });
    return () => Template.fromStack(stack);
  };

  test("an attached API's own routes leave the example API's GET /whoami open (it uses the deployment-wide map)", () => {
    expect(synthWith({ 'GET /': ['root:read'] })).not.toThrow();
  });

  test('deployment-wide routes that close GET /whoami (every rotation would fail its key proof) fail the synth; "GET /whoami": [] or "*" keeps it open', () => {
    expect(synthWith({}, { routeScopes: { 'GET /': ['root:read'] } })).toThrow(/refuse the example API's "GET \/whoami" to every key/);
    expect(synthWith({}, { routeScopes: { 'GET /': ['root:read'], 'GET /whoami': [] } })).not.toThrow();
    expect(synthWith({}, { routeScopes: { 'GET /': ['root:read'], '*': [] } })).not.toThrow();
  });
});

describe('with no arguments', () => {
  test('both work: no scopes added (every route open to any valid key), cache at 0, Authorization required', () => {
    const bare = userStack({ noArguments: true });
    expect(bare.authorizerEnvironment()).toMatchObject({ ROUTE_SCOPES: '{}', UNLISTED_ROUTES: 'allow' });
    expect(bare.authorizerEnvironment()).not.toHaveProperty('API_ROUTE_SCOPES');
    bare.template.hasResourceProperties('AWS::ApiGateway::Authorizer', { AuthorizerResultTtlInSeconds: 0, IdentitySource: 'method.request.header.Authorization' });
    bare.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerResultTtlInSeconds: 0, IdentitySource: ['$request.header.Authorization'] });
  });
});

describe('keyHeader', () => {
  test("'x-api-key' requires that header instead", () => {
    const apiKey = userStack({ rest: { keyHeader: 'x-api-key' }, http: { keyHeader: 'x-api-key' } });
    apiKey.template.hasResourceProperties('AWS::ApiGateway::Authorizer', { IdentitySource: 'method.request.header.x-api-key' });
    apiKey.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { IdentitySource: ['$request.header.x-api-key'] });
  });

  test("'either' sets no identity source (the function reads both headers), the cache still at 0", () => {
    const either = userStack({ rest: { keyHeader: 'either' }, http: { keyHeader: 'either' } });
    const [, rest] = either.ofType('AWS::ApiGateway::Authorizer')[0];
    expect(rest.Properties).not.toHaveProperty('IdentitySource');
    expect(rest.Properties.AuthorizerResultTtlInSeconds).toBe(0);
    const [, http] = either.ofType('AWS::ApiGatewayV2::Authorizer')[0];
    expect(http.Properties.IdentitySource ?? []).toEqual([]);
    expect(http.Properties.AuthorizerResultTtlInSeconds).toBe(0);
  });
});
