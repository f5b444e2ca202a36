/**
 * The Lambda authorizer over moto, with the real Powertools Metrics and Logger: the three
 * event shapes (REST TOKEN, REST REQUEST, HTTP API 2.0) and their answers, lastUsedAt, the
 * EMF it prints (names, dimensions, clientId as a property only) and, invariant 5, no
 * plaintext key in anything it prints or returns. Then the pure pieces (route scopes, the
 * event readers) and the Lambda entry point built from its environment.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayRequestAuthorizerEvent, APIGatewayRequestAuthorizerEventV2, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { generateApiKey } from '../../lambdas/core/api-key';
import { isoNow, ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import type { ClientRecord } from '../../lambdas/core/model';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE } from '../../lambdas/aws/auth/auth-metrics';
import { createAuthorizer, type AuthorizerResponse } from '../../lambdas/aws/auth/authorizer';
import { apiIdFromMethodArn, credentialFrom, httpApiResponse, readAuthorizerEvent, restApiResponse, routeFromMethodArn, UnauthorizedError, type AuthorizerEvent } from '../../lambdas/aws/auth/authorizer-events';
import { parseApiRouteScopes } from '../../lambdas/aws/auth/api-route-scopes';
import { InvalidRouteScopesError, RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { makeTestDeps, registerTestClient } from '../support/fixtures';
import { SecretTap, SourceKind } from '../support/secret-tap';
import { actAs } from '../../local/local-identity';

const START = Date.parse('2026-11-28T10:00:00Z');
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders';
const ROUTE_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/orders';
const ROUTE_SCOPES = '{"GET /orders":["orders:read"],"POST /orders":["orders:write"],"GET /orders/{id}":["orders:read"]}';

// ---------------------------------------------------------------------------------------
// events

const tokenEvent = (authorizationToken: string, methodArn = METHOD_ARN): APIGatewayTokenAuthorizerEvent => ({ type: 'TOKEN', authorizationToken, methodArn });

function restRequestEvent(headers: Record<string, string> | null, methodArn = METHOD_ARN): APIGatewayRequestAuthorizerEvent {
  const [, , method, ...path] = methodArn.split(':')[5].split('/');
  return {
    type: 'REQUEST',
    methodArn,
    resource: `/${path.join('/')}`,
    path: `/${path.join('/')}`,
    httpMethod: method,
    headers,
    multiValueHeaders: headers && Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {} as APIGatewayRequestAuthorizerEvent['requestContext'],
  };
}

function httpEvent(headers: Record<string, string>, routeKey = 'GET /orders', apiId = 'abc123'): APIGatewayRequestAuthorizerEventV2 {
  return {
    version: '2.0',
    type: 'REQUEST',
    // The called route, as API Gateway names it in the routeArn (stage/METHOD/path).
    routeArn: routeKey === 'GET /orders' && apiId === 'abc123' ? ROUTE_ARN : `arn:aws:execute-api:us-east-1:123456789012:${apiId}/$default/${routeKey.replace(' ', '')}`,
    identitySource: Object.values(headers),
    routeKey,
    rawPath: routeKey.split(' ')[1],
    rawQueryString: '',
    cookies: [],
    headers,
    requestContext: {} as APIGatewayRequestAuthorizerEventV2['requestContext'],
  };
}

// ---------------------------------------------------------------------------------------
// captured output (Powertools writes EMF and logs to process.stdout through its own Console)

let output: string[] = [];
let spies: jest.SpyInstance[] = [];
/** Every plaintext key this file has seen: none may ever be printed or returned. */
const plaintextKeys = new Set<string>();
const responses: unknown[] = [];

function captureOutput() {
  output = [];
  const capture = (chunk: unknown) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];
}

function releaseOutput() {
  for (const spy of spies) spy.mockRestore();
  spies = [];
}

const jsonLines = () =>
  output
    .join('')
    .split('\n')
    .filter((line) => line.trim().startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

interface Emf {
  readonly metrics: string[];
  readonly dimensions: string[][];
  readonly record: Record<string, unknown>;
}

/** The EMF records printed so far. */
function emf(): Emf[] {
  return jsonLines()
    .filter((line) => '_aws' in line)
    .map((record) => {
      const directive = (record._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0];
      expect(directive.Namespace).toBe(AUTH_METRICS_NAMESPACE);
      return { metrics: directive.Metrics.map((m) => m.Name), dimensions: directive.Dimensions, record };
    });
}

const emfWith = (metric: string) => emf().filter((e) => e.metrics.includes(metric));

beforeEach(captureOutput);

/** Everything printed (log and EMF lines) and returned in this file, for the secret tap at the end. */
const tap = new SecretTap();

afterEach(() => {
  const printed = output.join('');
  releaseOutput();
  tap.add('stdout', printed, SourceKind.LOG);
  tap.add('authorizer responses', responses, SourceKind.OTHER);
  // Invariant 5, over everything printed and returned in the test that just ran.
  const returned = JSON.stringify(responses);
  responses.length = 0;
  for (const key of plaintextKeys) {
    expect(printed).not.toContain(key);
    expect(returned).not.toContain(key);
  }
  // No EMF record ever has a client or key id as a dimension.
  for (const line of printed.split('\n').filter((l) => l.includes('"_aws"'))) {
    const dimensions = (JSON.parse(line) as { _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] } })._aws.CloudWatchMetrics.flatMap((m) => m.Dimensions.flat());
    expect(dimensions).not.toContain('clientId');
    expect(dimensions).not.toContain('keyId');
  }
});

afterAll(() => {
  // Invariant 5 with the shared tap: also catches a key in encoded or truncated form.
  tap.addKeys(plaintextKeys);
  tap.expectNoPlaintext({ minRecords: 50, kinds: [SourceKind.METRIC, SourceKind.LOG] });
});

// ---------------------------------------------------------------------------------------
// the authorizer over moto

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clock: ManualClock;

beforeAll(async () => {
  deps = await makeTestDeps(new ManualClock(START));
});

async function client(scopes: string[] = ['orders:read']): Promise<{ client: ClientRecord; key: string }> {
  const record = await registerTestClient({ ...deps, clock }, undefined, { scopes });
  const key = (await deps.secrets.readVersion(record.secretId, record.currentVersionId))!.apiKey;
  plaintextKeys.add(key);
  return { client: record, key };
}

function authorizer(routeScopes = RouteScopes.parse(ROUTE_SCOPES), apiRouteScopes?: ReadonlyMap<string, RouteScopes>) {
  const run = createAuthorizer({
    verifier: createDynamoKeyVerifier({ tableName: deps.tableName, clock, keyPrefix: deps.settings.keyPrefix }),
    routeScopes,
    ...(apiRouteScopes ? { apiRouteScopes } : {}),
    usage: new UsageRecorder(deps.keys, clock, 300_000),
    metrics: new Metrics({ namespace: AUTH_METRICS_NAMESPACE, serviceName: AUTH_METRICS_SERVICE }),
    logger: new Logger({ serviceName: AUTH_METRICS_SERVICE }),
  });
  return async (event: AuthorizerEvent): Promise<AuthorizerResponse> => {
    // Its reads and usage writes are judged against the authorizer function's role (test/support/iam-guard.ts).
    const response = await actAs({ function: 'authorizer' }, () => run(event));
    responses.push(response);
    return response;
  };
}

/** What an authorizer call threw (fails when it answered). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    responses.push(await promise);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the authorizer to throw Unauthorized');
}

const allowFor = (c: ClientRecord, scopes: string, methodArn = METHOD_ARN) => ({
  principalId: c.clientId,
  policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }] },
  context: { clientId: c.clientId, keyId: c.currentKeyId, keyRole: 'current', scopes },
});

beforeEach(() => {
  clock = new ManualClock(START);
});

describe('REST API, TOKEN authorizer', () => {
  it('a valid key with the route scope gets an Allow policy for the method, its context, and lastUsedAt', async () => {
    const { client: c, key } = await client(['orders:read', 'billing:read']);
    const response = await authorizer()(tokenEvent(`Bearer ${key}`));
    expect(response).toEqual(allowFor(c, 'orders:read billing:read'));
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(isoNow(clock));
  });

  it('prints AuthSucceeded (service dimension only) and AuthSucceededByKeyRole, with clientId as a property', async () => {
    const { client: c, key } = await client();
    await authorizer()(tokenEvent(`Bearer ${key}`));
    const [total] = emfWith('AuthSucceeded');
    expect(total?.dimensions).toEqual([['service']]);
    expect(total?.record).toMatchObject({ service: AUTH_METRICS_SERVICE, AuthSucceeded: 1, clientId: c.clientId });
    const [byRole] = emfWith('AuthSucceededByKeyRole');
    expect(byRole?.dimensions).toEqual([['service', 'KeyRole']]);
    expect(byRole?.record).toMatchObject({ KeyRole: 'current', clientId: c.clientId, AuthSucceededByKeyRole: 1 });
    expect(emfWith('AuthFailed')).toEqual([]);
  });

  it.each([
    ['malformed', async () => 'Bearer not-a-key'],
    ['malformed', async () => ''],
    ['malformed', async () => `Bearer ${generateApiKey('other')}`],
    ['unknown', async () => `Bearer ${generateApiKey(deps.settings.keyPrefix)}`],
    [
      'revoked',
      async () => {
        const { client: c, key } = await client();
        await deps.keys.applyChange({ transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.ACTIVE, to: KeyState.REVOKED, set: { revokedAt: isoNow(clock) } }] });
        return `Bearer ${key}`;
      },
    ],
    [
      'expired',
      async () => {
        const { client: c, key } = await client();
        const notAfter = new Date(START - 1).toISOString();
        await deps.keys.applyChange({ transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter } }] });
        return `Bearer ${key}`;
      },
    ],
  ])('a key judged %s is answered with Error("Unauthorized") and counted by reason', async (reason, token) => {
    const presented = await token();
    const error = await rejection(authorizer()(tokenEvent(presented)));
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('Unauthorized');
    const [total] = emfWith('AuthFailed');
    expect(total?.dimensions).toEqual([['service']]);
    const [byReason] = emfWith('AuthFailedByReason');
    expect(byReason?.dimensions).toEqual([['service', 'Reason']]);
    expect(byReason?.record).toMatchObject({ Reason: reason, AuthFailedByReason: 1 });
    if (reason === 'revoked' || reason === 'expired') {
      // A known key: the client and key are properties (for the alarm's investigation), not dimensions.
      expect(byReason?.record.clientId).toEqual(expect.any(String));
      expect(byReason?.record.keyId).toEqual(expect.stringMatching(/^krt_kid_/));
    } else {
      expect(byReason?.record).not.toHaveProperty('clientId');
    }
    // The rejection is logged with the reason, never with what was presented.
    const logged = jsonLines().find((line) => line.message === 'key rejected');
    expect(logged).toMatchObject({ reason, route: 'GET /orders' });
    if (presented.length > 8) expect(output.join('')).not.toContain(presented.replace(/^Bearer /, ''));
  });

  it('a near-valid key (one character changed) is rejected and never printed', async () => {
    const { key } = await client();
    const i = key.length - 10;
    const near = key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1);
    const error = await rejection(authorizer()(tokenEvent(`Bearer ${near}`)));
    expect(error.message).toBe('Unauthorized');
    expect(output.join('')).not.toContain(near);
  });

  it('a valid key without the route scope gets a Deny policy (403), not a 401, and no lastUsedAt', async () => {
    const { client: c, key } = await client(['billing:read']);
    const response = await authorizer()(tokenEvent(`Bearer ${key}`));
    expect(response).toEqual({
      principalId: c.clientId,
      policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: METHOD_ARN }] },
      context: { reason: 'insufficient_scope' },
    });
    expect(emfWith('AuthFailedByReason')[0]?.record).toMatchObject({ Reason: 'insufficient_scope', clientId: c.clientId });
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBeUndefined();
  });

  it('a route that no pattern names is refused by default (403, even for a "*" key), and needs no scope when unlisted routes are allowed', async () => {
    const { client: c, key } = await client(['billing:read']);
    const { key: superKey } = await client(['*']);
    const arn = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/invoices/42';
    const deny = { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Deny', Resource: arn }] };
    expect(await authorizer()(tokenEvent(`Bearer ${key}`, arn))).toEqual({ principalId: c.clientId, policyDocument: deny, context: { reason: 'insufficient_scope' } });
    expect(await authorizer()(tokenEvent(`Bearer ${superKey}`, arn))).toMatchObject({ policyDocument: deny });
    expect(await authorizer(RouteScopes.parse(ROUTE_SCOPES, 'allow'))(tokenEvent(`Bearer ${key}`, arn))).toEqual(allowFor(c, 'billing:read', arn));
  });

  it('the raw key without "Bearer" is accepted too', async () => {
    const { client: c, key } = await client();
    expect(await authorizer()(tokenEvent(key))).toEqual(allowFor(c, 'orders:read'));
  });
});

describe('REST API, REQUEST authorizer', () => {
  it.each([
    ['Authorization', (k: string) => `Bearer ${k}`],
    ['authorization', (k: string) => `bearer ${k}`],
    ['AUTHORIZATION', (k: string) => `Bearer ${k}`],
    ['x-api-key', (k: string) => k],
    ['X-Api-Key', (k: string) => k],
  ])('reads the key from the %s header', async (header, value) => {
    const { client: c, key } = await client();
    expect(await authorizer()(restRequestEvent({ [header]: value(key), 'User-Agent': 'test' }))).toEqual(allowFor(c, 'orders:read'));
  });

  it('no credential header (or no headers at all) is Unauthorized as malformed', async () => {
    const run = authorizer();
    expect((await rejection(run(restRequestEvent({ Accept: 'application/json' })))).message).toBe('Unauthorized');
    expect((await rejection(run(restRequestEvent(null)))).message).toBe('Unauthorized');
    expect(emfWith('AuthFailedByReason').map((e) => e.record.Reason)).toEqual(['malformed', 'malformed']);
  });

  it('the scope of the method in the ARN applies: POST /orders needs orders:write', async () => {
    const { client: c, key } = await client(['orders:read']);
    const post = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/orders';
    const response = await authorizer()(restRequestEvent({ Authorization: `Bearer ${key}` }, post));
    expect(response).toMatchObject({ principalId: c.clientId, policyDocument: { Statement: [{ Effect: 'Deny', Resource: post }] } });
  });
});

describe('HTTP API, payload 2.0 with simple responses', () => {
  it('a valid key: isAuthorized with the context; lastUsedAt written', async () => {
    const { client: c, key } = await client(['orders:read']);
    expect(await authorizer()(httpEvent({ authorization: `Bearer ${key}` }))).toEqual({
      isAuthorized: true,
      context: { clientId: c.clientId, keyId: c.currentKeyId, keyRole: 'current', scopes: 'orders:read' },
    });
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(isoNow(clock));
  });

  it('reads x-api-key too, and matches a route key with a parameter', async () => {
    const { client: c, key } = await client(['orders:read']);
    expect(await authorizer()(httpEvent({ 'x-api-key': key }, 'GET /orders/{id}'))).toMatchObject({ isAuthorized: true, context: { clientId: c.clientId } });
  });

  it('a bad key: isAuthorized false with the reason, and nothing thrown', async () => {
    expect(await authorizer()(httpEvent({ authorization: 'Bearer nope' }))).toEqual({ isAuthorized: false, context: { reason: 'malformed' } });
    expect(await authorizer()(httpEvent({}))).toEqual({ isAuthorized: false, context: { reason: 'malformed' } });
    expect(await authorizer()(httpEvent({ authorization: `Bearer ${generateApiKey(deps.settings.keyPrefix)}` }))).toEqual({
      isAuthorized: false,
      context: { reason: 'unknown' },
    });
  });

  it('a valid key without the route scope: isAuthorized false, insufficient_scope', async () => {
    const { client: c, key } = await client(['billing:read']);
    expect(await authorizer()(httpEvent({ authorization: `Bearer ${key}` }, 'POST /orders'))).toEqual({
      isAuthorized: false,
      context: { reason: 'insufficient_scope' },
    });
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBeUndefined();
  });

  it('a second request within the usage interval leaves lastUsedAt alone', async () => {
    const { client: c, key } = await client();
    const run = authorizer();
    await run(httpEvent({ authorization: `Bearer ${key}` }));
    clock.advance(60_000);
    expect(await run(httpEvent({ authorization: `Bearer ${key}` }))).toMatchObject({ isAuthorized: true });
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(new Date(START).toISOString());
  });
});

describe("an API's own route scopes (API_ROUTE_SCOPES) decide for that API only", () => {
  // The review's repro: an admin RestApi attached with { 'GET /users': ['admin'] } (unlisted
  // routes denied), then an HttpApi attached with { '*': [] }. Merged into one map, the second
  // API's "*" opened DELETE /secret on the admin API to every key.
  const ADMIN_API = 'adminapi01';
  const OPEN_API = 'openapi002';
  const arn = (apiId: string, method: string, path: string) => `arn:aws:execute-api:us-east-1:123456789012:${apiId}/prod/${method}${path}`;
  const perApi = () =>
    parseApiRouteScopes(
      JSON.stringify({
        [ADMIN_API]: { routes: { 'GET /users': ['admin'] }, unlisted: 'deny' },
        [OPEN_API]: { routes: { '*': [] }, unlisted: 'allow' },
      }),
    );
  // The deployment-wide map, for every other API (abc123 here): open.
  const run = () => authorizer(RouteScopes.parse('{}'), perApi());

  it("refuses DELETE /secret on the admin API (TOKEN, REQUEST) while the other API's routes are open", async () => {
    const { client: c, key } = await client(['admin']);
    const secret = arn(ADMIN_API, 'DELETE', '/secret');
    for (const event of [tokenEvent(`Bearer ${key}`, secret), restRequestEvent({ Authorization: `Bearer ${key}` }, secret)]) {
      expect(await run()(event)).toMatchObject({ principalId: c.clientId, policyDocument: { Statement: [{ Effect: 'Deny', Resource: secret }] } });
    }
    expect(await run()(httpEvent({ authorization: `Bearer ${key}` }, 'DELETE /secret', OPEN_API))).toMatchObject({ isAuthorized: true });
    expect(emfWith('AuthFailedByReason').map((e) => e.record.Reason)).toEqual(['insufficient_scope', 'insufficient_scope']);
  });

  it("applies the admin API's own scopes to its listed route, and an HTTP event on the admin API is judged by them too", async () => {
    const admin = await client(['admin']);
    const other = await client(['orders:read']);
    const users = arn(ADMIN_API, 'GET', '/users');
    expect(await run()(tokenEvent(`Bearer ${admin.key}`, users))).toEqual(allowFor(admin.client, 'admin', users));
    expect(await run()(tokenEvent(`Bearer ${other.key}`, users))).toMatchObject({ policyDocument: { Statement: [{ Effect: 'Deny' }] } });
    expect(await run()(httpEvent({ authorization: `Bearer ${admin.key}` }, 'DELETE /secret', ADMIN_API))).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
  });

  it('an API without a map of its own uses the deployment-wide route scopes', async () => {
    const { key } = await client(['orders:read']);
    const closed = authorizer(RouteScopes.parse(ROUTE_SCOPES), perApi());
    expect(await closed(httpEvent({ authorization: `Bearer ${key}` }, 'GET /orders'))).toMatchObject({ isAuthorized: true });
    expect(await closed(httpEvent({ authorization: `Bearer ${key}` }, 'POST /orders'))).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
    // The open API's "*" does not reach the deployment-wide map's APIs either (unlisted is denied there).
    expect(await closed(httpEvent({ authorization: `Bearer ${key}` }, 'DELETE /secret'))).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
  });
});

describe('parseApiRouteScopes', () => {
  it('gives each API id its own RouteScopes, with its unlisted rule', () => {
    const byApi = parseApiRouteScopes('{"a1":{"routes":{"GET /x":["x"]},"unlisted":"deny"},"b2":{"routes":{"GET /x":["x"]},"unlisted":"allow"}}');
    expect([...byApi.keys()]).toEqual(['a1', 'b2']);
    expect(byApi.get('a1')!.required('GET /y')).toBeUndefined();
    expect(byApi.get('b2')!.required('GET /y')).toEqual([]);
    for (const empty of [undefined, '', '  ', '{}']) expect(parseApiRouteScopes(empty).size).toBe(0);
  });

  it.each([
    ['not JSON', '{', /API_ROUTE_SCOPES must be a JSON object/],
    ['a bad API id', '{"a/b":{"routes":{},"unlisted":"allow"}}', /API ids are/],
    ['no unlisted rule', '{"a1":{"routes":{}}}', /API_ROUTE_SCOPES is invalid/],
    ['an unknown field', '{"a1":{"routes":{},"unlisted":"allow","extra":1}}', /API_ROUTE_SCOPES is invalid/],
    ["an API's malformed route", '{"a1":{"routes":{"FETCH /a":[]},"unlisted":"allow"}}', /API_ROUTE_SCOPES of API a1: ROUTE_SCOPES is invalid/],
    ['"*" with deny', '{"a1":{"routes":{"*":[]},"unlisted":"deny"}}', /API_ROUTE_SCOPES of API a1: .*unlisted routes are denied/],
  ])('%s is InvalidRouteScopes', (_what, json, message) => {
    expect(() => parseApiRouteScopes(json)).toThrow(InvalidRouteScopesError);
    expect(() => parseApiRouteScopes(json)).toThrow(message);
  });
});

// ---------------------------------------------------------------------------------------
// pure pieces

describe('RouteScopes', () => {
  const scopes = RouteScopes.parse(
    JSON.stringify({
      'GET /orders': ['orders:read'],
      'POST /orders/{id}': ['orders:write'],
      'GET /files/{proxy+}': ['files:read'],
      'ANY /admin': ['admin'],
      'GET /v1.0/status': ['status'],
      '*': ['basic'],
    }),
  );

  it.each([
    ['GET /orders', ['orders:read']],
    ['POST /orders', ['basic']],
    ['GET /orders/', ['basic']],
    ['POST /orders/123', ['orders:write']],
    ['POST /orders/{id}', ['orders:write']],
    ['POST /orders/123/items', ['basic']],
    ['GET /files/a', ['files:read']],
    ['GET /files/a/b/c.txt', ['files:read']],
    ['GET /files/{proxy+}', ['files:read']],
    ['GET /files/', ['basic']],
    ['DELETE /admin', ['admin']],
    ['PATCH /admin', ['admin']],
    ['GET /admin/users', ['basic']],
    ['GET /v1.0/status', ['status']],
    ['GET /v1x0/status', ['basic']],
    ['$default', ['basic']],
    [undefined, ['basic']],
  ])('%s requires %j', (route, expected) => {
    expect(scopes.required(route)).toEqual(expected);
  });

  it('without "*", unmatched routes are denied (undefined) unless allowed; empty or absent configuration needs nothing anywhere', () => {
    expect(RouteScopes.parse('{"GET /orders":["orders:read"]}').required('GET /other')).toBeUndefined();
    expect(RouteScopes.parse('{"GET /orders":["orders:read"]}', 'allow').required('GET /other')).toEqual([]);
    for (const config of [undefined, '', '   ', '{}']) expect(RouteScopes.parse(config).required('GET /orders')).toEqual([]);
  });

  it.each([
    ['not JSON', 'not json'],
    ['truncated JSON', '{"GET /orders":'],
    ['null', 'null'],
    ['a string', '"GET /orders"'],
    ['a route without a path', '{"GET orders":["orders:read"]}'],
    ['an unknown method', '{"FETCH /orders":["orders:read"]}'],
    ['scopes not a list', '{"GET /orders":"orders:read"}'],
    ['a scope with a space', '{"GET /orders":["orders read"]}'],
    ['an empty scope', '{"GET /orders":[""]}'],
    ['a non-string scope', '{"GET /orders":[1]}'],
  ])('%s is InvalidRouteScopes', (_name, json) => {
    let error: unknown;
    try {
      RouteScopes.parse(json);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidRouteScopesError);
    expect((error as Error).name).toBe('InvalidRouteScopes');
    expect((error as Error).message).toMatch(/ROUTE_SCOPES/);
  });
});

describe('routeFromMethodArn', () => {
  it.each([
    [METHOD_ARN, 'GET /orders'],
    ['arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/orders/42/items', 'POST /orders/42/items'],
    ['arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/', 'GET /'],
    ['arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:abc123/v1/DELETE/a', 'DELETE /a'],
    ['arn:aws:execute-api:us-east-1:123456789012:abc123/prod', undefined],
    ['arn:aws:execute-api:us-east-1:123456789012', undefined],
    ['not an arn', undefined],
    ['', undefined],
  ])('%s → %s', (arn, route) => {
    expect(routeFromMethodArn(arn)).toBe(route);
  });
});

describe('apiIdFromMethodArn', () => {
  it.each([
    [METHOD_ARN, 'abc123'],
    [ROUTE_ARN, 'abc123'],
    ['arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/files/a:b/admin', 'a1b2c3d4e5'],
    ['arn:aws:execute-api:us-east-1:123456789012:/prod/GET/x', undefined],
    ['arn:aws:execute-api:us-east-1:123456789012:abc123/prod', undefined],
    ['arn:aws:lambda:us-east-1:123456789012:abc123/prod/GET/x', undefined],
    ['not an arn', undefined],
  ])('%s → %s', (arn, apiId) => {
    expect(apiIdFromMethodArn(arn)).toBe(apiId);
  });
});

describe('credentialFrom', () => {
  const VALID_SHAPED = generateApiKey('kr');
  // The last character changed: still key-shaped, the checksum no longer matches.
  const BAD_CHECKSUM = VALID_SHAPED.slice(0, -1) + (VALID_SHAPED.endsWith('A') ? 'B' : 'A');
  it.each([
    ['Bearer abc', undefined, 'abc'],
    ['bearer abc', undefined, 'abc'],
    ['BEARER \t abc  ', undefined, 'abc'],
    ['  abc  ', undefined, 'abc'],
    ['Basic dXNlcjpwYXNz', undefined, 'Basic dXNlcjpwYXNz'],
    ['Bearer a b', undefined, 'Bearer a b'],
    ['Bearer', undefined, 'Bearer'],
    // Authorization not shaped like a key (a user's JWT, Basic): the key is in x-api-key.
    ['Bearer abc', 'xyz', 'xyz'],
    ['Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln', ' kr_key ', 'kr_key'],
    ['Basic dXNlcjpwYXNz', 'xyz', 'xyz'],
    // A key-shaped Authorization wins, valid or not (a bad checksum is refused as malformed, not bypassed).
    [`Bearer ${VALID_SHAPED}`, 'xyz', VALID_SHAPED],
    [`Bearer ${BAD_CHECKSUM}`, 'xyz', BAD_CHECKSUM],
    [undefined, ' xyz ', 'xyz'],
    [undefined, undefined, undefined],
  ])('(%p, %p) → %p', (authorization, apiKey, expected) => {
    expect(credentialFrom(authorization, apiKey)).toBe(expected);
  });
});

describe('readAuthorizerEvent and the responses', () => {
  it('reads kind, credential, route and method ARN from each shape', () => {
    expect(readAuthorizerEvent(tokenEvent('Bearer k1'))).toEqual({ kind: 'rest', presented: 'k1', route: 'GET /orders', apiId: 'abc123', methodArn: METHOD_ARN });
    expect(readAuthorizerEvent(restRequestEvent({ 'x-api-key': 'k2' }))).toEqual({ kind: 'rest', presented: 'k2', route: 'GET /orders', routeKey: 'GET /orders', apiId: 'abc123', methodArn: METHOD_ARN });
    expect(readAuthorizerEvent(httpEvent({ authorization: 'Bearer k3' }, 'PUT /orders/{id}', 'other9'))).toEqual({
      kind: 'http',
      presented: 'k3',
      route: 'PUT /orders/{id}',
      routeKey: 'PUT /orders/{id}',
      apiId: 'other9',
    });
  });

  it('restApiResponse: insufficient_scope without a client is still a 401; every other reason throws UnauthorizedError', () => {
    for (const reason of ['malformed', 'unknown', 'pending', 'revoked', 'expired', 'insufficient_scope'] as const) {
      expect(() => restApiResponse({ accepted: false, reason }, METHOD_ARN)).toThrow(UnauthorizedError);
      expect(() => restApiResponse({ accepted: false, reason, clientId: reason === 'insufficient_scope' ? undefined : 'acme' }, METHOD_ARN)).toThrow('Unauthorized');
    }
    expect(new UnauthorizedError()).toMatchObject({ name: 'Unauthorized', message: 'Unauthorized' });
  });

  it('httpApiResponse: only the reason on a rejection, no ids', () => {
    expect(httpApiResponse({ accepted: false, reason: 'revoked', keyId: 'krt_kid_1', clientId: 'acme' })).toEqual({ isAuthorized: false, context: { reason: 'revoked' } });
  });
});

// ---------------------------------------------------------------------------------------
// the Lambda entry point

describe('lambdas/handlers/authorizer (built from the environment at import)', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['TABLE_NAME', 'KEY_PREFIX', 'ROUTE_SCOPES', 'UNLISTED_ROUTES', 'API_ROUTE_SCOPES', 'CACHE_TTL_MS', 'NEGATIVE_CACHE_TTL_MS', 'USAGE_INTERVAL_SECONDS']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  type HandlerModule = typeof import('../../lambdas/handlers/authorizer');
  function importHandler(env: Record<string, string>): HandlerModule {
    Object.assign(process.env, env);
    let loaded: HandlerModule | undefined;
    jest.isolateModules(() => {
      loaded = require('../../lambdas/handlers/authorizer') as HandlerModule;
    });
    return loaded!;
  }

  it('answers an HTTP API event against the configured table, with the configured route scopes', async () => {
    const { client: c, key } = await client(['orders:read']);
    const { handler } = importHandler({ TABLE_NAME: deps.tableName, KEY_PREFIX: deps.settings.keyPrefix, ROUTE_SCOPES });
    const ok = await handler(httpEvent({ authorization: `Bearer ${key}` }));
    responses.push(ok);
    expect(ok).toEqual({ isAuthorized: true, context: { clientId: c.clientId, keyId: c.currentKeyId, keyRole: 'current', scopes: 'orders:read' } });
    const denied = await handler(httpEvent({ authorization: `Bearer ${key}` }, 'POST /orders'));
    responses.push(denied);
    expect(denied).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
    // The entry point runs on the system clock.
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(emfWith('AuthSucceeded')).toHaveLength(1);
  });

  it('accepts CACHE_TTL_MS=0 on its own (no caching)', async () => {
    const { key } = await client();
    const { handler } = importHandler({ TABLE_NAME: deps.tableName, KEY_PREFIX: deps.settings.keyPrefix, CACHE_TTL_MS: '0' });
    const response = await handler(httpEvent({ 'x-api-key': key }));
    responses.push(response);
    expect(response).toMatchObject({ isAuthorized: true });
  });

  it('fails at import with InvalidRouteScopes when ROUTE_SCOPES is invalid', () => {
    let error: unknown;
    try {
      importHandler({ TABLE_NAME: deps.tableName, KEY_PREFIX: deps.settings.keyPrefix, ROUTE_SCOPES: '{"GET /orders": "orders:read"}' });
    } catch (caught) {
      error = caught;
    }
    // Loaded in an isolated module registry, so the class differs: match on the name.
    expect((error as Error | undefined)?.name).toBe('InvalidRouteScopes');
  });

  it("reads API_ROUTE_SCOPES: an API's own map decides for that API, ROUTE_SCOPES for the others", async () => {
    const { key } = await client(['orders:read']);
    const { handler } = importHandler({
      TABLE_NAME: deps.tableName,
      KEY_PREFIX: deps.settings.keyPrefix,
      ROUTE_SCOPES: '{"*":[]}',
      API_ROUTE_SCOPES: '{"adminapi01":{"routes":{"GET /users":["admin"]},"unlisted":"deny"}}',
    });
    const answers = [await handler(httpEvent({ authorization: `Bearer ${key}` }, 'DELETE /secret', 'adminapi01')), await handler(httpEvent({ authorization: `Bearer ${key}` }, 'DELETE /secret'))];
    responses.push(...answers);
    expect(answers).toEqual([{ isAuthorized: false, context: { reason: 'insufficient_scope' } }, expect.objectContaining({ isAuthorized: true })]);
  });

  it('fails at import with InvalidRouteScopes when API_ROUTE_SCOPES is invalid', () => {
    let error: unknown;
    try {
      importHandler({ TABLE_NAME: deps.tableName, KEY_PREFIX: deps.settings.keyPrefix, API_ROUTE_SCOPES: '{"adminapi01":{"routes":{"*":[]},"unlisted":"deny"}}' });
    } catch (caught) {
      error = caught;
    }
    expect((error as Error | undefined)?.name).toBe('InvalidRouteScopes');
    expect((error as Error).message).toMatch(/API_ROUTE_SCOPES of API adminapi01/);
  });

  it('fails at import naming TABLE_NAME when it is not set', () => {
    delete process.env.TABLE_NAME;
    expect(() => importHandler({ KEY_PREFIX: deps.settings.keyPrefix })).toThrow(/TABLE_NAME/);
  });
});
