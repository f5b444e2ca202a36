/**
 * KeyRollAuth attached to APIs a user already has: `restApiAuthorizer()` on a RestApi,
 * `httpApiAuthorizer()` on an HttpApi, in a user stack that embeds the KeyRoll construct.
 * Each authorizer must reach the authorizer function on every request (API Gateway's cache at
 * 0: revocation takes effect at once), require the header the function reads, be invocable by
 * that API only, and carry its API's route scopes into the function's one ROUTE_SCOPES map.
 */
import { Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUrlIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Template } from 'aws-cdk-lib/assertions';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { ConflictingRouteScopesError, KeyRoll, type KeyRollApiAuthorizerOptions } from '../../lib';
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
    const keyRoll = new KeyRoll(keyRollStack, 'KeyRoll', { auth: { exampleApi: false } });
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

describe('route scopes of the attached APIs', () => {
  test("merge into the function's ROUTE_SCOPES, which the authorizer's own parser reads as both APIs' routes", () => {
    const environment = s.authorizerEnvironment();
    expect(JSON.parse(environment.ROUTE_SCOPES)).toEqual({ 'GET /orders/{id}': ['orders:read'], 'GET /items/{id}': ['items:read'] });
    // Routes listed, no "*": the merged map is an allow-list (README, "Route scopes").
    expect(environment.UNLISTED_ROUTES).toBe('deny');
    const routeScopes = RouteScopes.parse(environment.ROUTE_SCOPES, environment.UNLISTED_ROUTES);
    // A REST event is judged by its method ARN's path and its resource; an HTTP event by its routeKey.
    expect(routeScopes.required({ route: 'GET /orders/42', routeKey: 'GET /orders/{id}' })).toEqual(['orders:read']);
    expect(routeScopes.required({ route: 'GET /items/7', routeKey: 'GET /items/{id}' })).toEqual(['items:read']);
    expect(routeScopes.required({ route: 'DELETE /orders/42' })).toBeUndefined();
  });

  test('merge with the construct-level routeScopes, keeping its denyUnlistedRoutes', () => {
    const stack = new Stack(newTestApp(), 'Merged', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false, routeScopes: { 'GET /health': [] }, denyUnlistedRoutes: false } });
    const api = new apigw.RestApi(stack, 'Api');
    api.root.addMethod('POST', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'POST /': ['root:write'] } }) });
    const environment = (Template.fromStack(stack).toJSON().Resources as Record<string, Resource>)[stack.getLogicalId(keyRoll.auth.authorizerFunction.node.defaultChild as never)].Properties.Environment
      .Variables;
    expect(JSON.parse(environment.ROUTE_SCOPES)).toEqual({ 'GET /health': [], 'POST /': ['root:write'] });
    expect(environment.UNLISTED_ROUTES).toBe('allow');
  });

  test('the same route with the same scopes (in any order) from two APIs is fine', () => {
    const both = userStack({ rest: { routeScopes: { 'GET /a': ['x', 'y'] } }, http: { routeScopes: { 'GET /a': ['y', 'x'] } } });
    expect(JSON.parse(both.authorizerEnvironment().ROUTE_SCOPES)).toEqual({ 'GET /a': ['x', 'y'] });
  });

  test('the same route with different scopes is ConflictingRouteScopes at the call that adds it, naming both sources', () => {
    const stack = new Stack(newTestApp(), 'Conflict', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false, routeScopes: { 'GET /orders/{id}': ['orders:read'] } } });
    keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:read'] } });
    let error: unknown;
    try {
      keyRoll.auth.httpApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:admin'] } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConflictingRouteScopesError);
    expect((error as Error).name).toBe('ConflictingRouteScopes');
    expect((error as Error).message).toMatch(/"GET \/orders\/\{id\}" needs \["orders:read"\] in KeyRollAuth routeScopes but \["orders:admin"\] in httpApiAuthorizer/);
  });

  test.each([
    ['a malformed route', { 'FETCH /a': [] }, /routes are "METHOD \/path" or "\*"/],
    ["a route matching the same requests as another API's", { 'GET /orders/{orderId}': [] }, /match the same requests/],
  ])('%s is InvalidRouteScopes, and leaves the map as it was', (_what, routeScopes, message) => {
    const stack = new Stack(newTestApp(), 'Invalid', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll', { auth: { exampleApi: false } });
    const api = new apigw.RestApi(stack, 'Api');
    api.root
      .addResource('orders')
      .addResource('{id}')
      .addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:read'] } }) });
    let error: unknown;
    try {
      keyRoll.auth.httpApiAuthorizer({ routeScopes });
    } catch (caught) {
      error = caught;
    }
    expect((error as Error | undefined)?.name).toBe('InvalidRouteScopes');
    expect((error as Error).message).toMatch(message);
    const environment = (Template.fromStack(stack).toJSON().Resources as Record<string, Resource>)[stack.getLogicalId(keyRoll.auth.authorizerFunction.node.defaultChild as never)].Properties.Environment
      .Variables;
    expect(JSON.parse(environment.ROUTE_SCOPES)).toEqual({ 'GET /orders/{id}': ['orders:read'] });
  });
});

describe('with the example API deployed', () => {
  const synthWith = (routeScopes: Record<string, string[]>) => {
    const stack = new Stack(newTestApp(), 'WithExample', { env: TEST_ENV });
    const keyRoll = new KeyRoll(stack, 'KeyRoll');
    new apigw.RestApi(stack, 'Api').root.addMethod('GET', new apigw.MockIntegration(), { authorizer: keyRoll.auth.restApiAuthorizer({ routeScopes }) });
    return () => Template.fromStack(stack);
  };

  test('routes that close the merged map to its GET /whoami (every rotation would fail its key proof) fail the synth', () => {
    expect(synthWith({ 'GET /': ['root:read'] })).toThrow(/refuse the example API's "GET \/whoami" to every key/);
  });

  test('"GET /whoami": [] or "*" keeps it open', () => {
    expect(synthWith({ 'GET /': ['root:read'], 'GET /whoami': [] })).not.toThrow();
    expect(synthWith({ 'GET /': ['root:read'], '*': [] })).not.toThrow();
  });
});

describe('with no arguments', () => {
  test('both work: no scopes added (every route open to any valid key), cache at 0, Authorization required', () => {
    const bare = userStack({ noArguments: true });
    expect(bare.authorizerEnvironment()).toMatchObject({ ROUTE_SCOPES: '{}', UNLISTED_ROUTES: 'allow' });
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
