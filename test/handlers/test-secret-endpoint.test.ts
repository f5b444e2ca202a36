/**
 * testSecret's end-to-end proof: the new key is sent to a real HTTP endpoint guarded by the
 * real authorizer (HTTP API event shape, verifier over moto), as API Gateway would run it.
 * The loopback server speaks plain HTTP, which only the test-only `allowLoopbackHttpProbe`
 * admits; production endpoints must be https (checked at synth and before every probe).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { KeyState } from '../../lambdas/core/key-state';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import type { AuthorizerEvent } from '../../lambdas/aws/auth/authorizer-events';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { proveAgainstEndpoint } from '../../lambdas/aws/rotation/endpoint-probe';
import { beginRotation, createSecret, setSecret, testSecret } from '../support/judged-steps';
import { Stage } from '../../lambdas/aws/secret-store';
import { makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { rotationRequest } from '../support/step-helpers';

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let server: http.Server;
let url: string;
let served: { status: number; authorization?: string }[] = [];
/** Requests that reached the static page a redirect points at. */
let staticHits: { authorization?: string }[] = [];
let forcedStatus: number | undefined;

beforeAll(async () => {
  // EMF output is tested in authorizer.test.ts; here it would only fill the console.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  deps = await makeTestDeps();
  const authorize = createAuthorizer({
    verifier: createDynamoKeyVerifier({ tableName: deps.tableName, client: dynamoDbClient(), clock: deps.clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0 }),
    routeScopes: RouteScopes.parse('{"GET /whoami":["orders:read"]}'),
    usage: new UsageRecorder(deps.keys, deps.clock, 60_000),
    metrics: new Metrics({ namespace: 'KeyRollTest', serviceName: 'test' }),
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  server = http.createServer((req, res) => {
    // A same-origin redirect to a static page that answers 200 to anyone.
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/static' });
      res.end();
      return;
    }
    if (req.url === '/static') {
      staticHits.push({ authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>static</html>');
      return;
    }
    void (async () => {
      const event = {
        version: '2.0',
        type: 'REQUEST',
        routeKey: `${req.method} ${req.url}`,
        routeArn: 'arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/whoami',
        headers: req.headers,
        identitySource: [],
      } as unknown as AuthorizerEvent;
      const answer = (await authorize(event)) as { isAuthorized: boolean; context: Record<string, string> };
      const status = forcedStatus ?? (answer.isAuthorized ? 200 : 403);
      served.push({ status, authorization: req.headers.authorization });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.isAuthorized ? { clientId: answer.context.clientId } : { message: 'Forbidden' }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/whoami`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  served = [];
  staticHits = [];
  forcedStatus = undefined;
});

async function rotationThroughSet(scopes = ['orders:read']) {
  const client = await registerTestClient(deps, undefined, { scopes });
  const rotationId = newRotationId();
  const context = await beginRotation(deps, { request: rotationRequest(client.clientId, RotationMode.MANUAL), rotationId });
  await createSecret(deps, context);
  await setSecret(deps, context);
  const pendingKey = (await deps.secrets.readStage(client.secretId, Stage.PENDING))!.value.apiKey;
  return { client, context, pendingKey };
}

/** The loopback test server is plain HTTP: admitted through the test-only switch alone. */
const withEndpoint = (endpoint: string) => ({ ...deps, allowLoopbackHttpProbe: true, settings: { ...deps.settings, verifyEndpointUrl: endpoint } });
const origin = () => new URL(url).origin;

describe('testSecret with a verification endpoint', () => {
  it('sends the pending key as a Bearer token through the real authorizer and passes on 200', async () => {
    const { context, pendingKey } = await rotationThroughSet();
    await expect(testSecret(withEndpoint(url), context)).resolves.toMatchObject({ pendingKeyId: expect.any(String) });
    expect(served).toEqual([{ status: 200, authorization: `Bearer ${pendingKey}` }]);
  });

  it('fails with KeyVerificationFailed when the authorizer refuses the key (here: missing scope)', async () => {
    const { context } = await rotationThroughSet(['billing:read']);
    const error = await testSecret(withEndpoint(url), context).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'KeyVerificationFailed', message: 'The pending key does not authenticate: the verification endpoint answered 403.' });
    expect(served.map((s) => s.status)).toEqual([403]);
  });

  it('treats a 5xx and an unreachable endpoint as transient (retried by the state machine)', async () => {
    const { context, pendingKey } = await rotationThroughSet();
    forcedStatus = 503;
    const unavailable = await testSecret(withEndpoint(url), context).catch((e: Error) => e);
    expect(unavailable).toMatchObject({ name: 'TransientError', message: 'The verification endpoint answered 503.' });
    const unreachable = await testSecret(withEndpoint('http://127.0.0.1:9/whoami'), context).catch((e: Error) => e);
    expect(unreachable).toMatchObject({ name: 'TransientError' });
    for (const error of [unavailable, unreachable]) expect(JSON.stringify({ m: (error as Error).message })).not.toContain(pendingKey);
  });

  it('refuses a redirect without following it: the static page it points at never sees the key (issue 16 item 9)', async () => {
    const { context, pendingKey } = await rotationThroughSet();
    const error = await testSecret(withEndpoint(`${origin()}/moved`), context).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'KeyVerificationFailed', message: 'The pending key does not authenticate: the verification endpoint answered 302, a redirect, which is not followed.' });
    expect(staticHits).toEqual([]);
    expect(JSON.stringify({ m: (error as Error).message })).not.toContain(pendingKey);
  });

  it('refuses a plain-HTTP endpoint before sending the key, unless the test-only switch is set', async () => {
    const { context } = await rotationThroughSet();
    const production = { ...deps, settings: { ...deps.settings, verifyEndpointUrl: url } };
    const error = await testSecret(production, context).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidVerifyEndpoint', message: 'The verification endpoint must be an https:// URL; got a http: URL.' });
    expect(served).toEqual([]);
  });

  it('without an endpoint keeps the in-process proof only', async () => {
    const { context } = await rotationThroughSet();
    await expect(testSecret(deps, context)).resolves.toBeDefined();
    expect(served).toEqual([]);
  });

  it('never changes state: the pending key stays ACTIVE-not-current after a refused proof', async () => {
    const { client, context } = await rotationThroughSet(['billing:read']);
    await testSecret(withEndpoint(url), context).catch(() => undefined);
    const record = await deps.keys.getClient(client.clientId);
    expect(record?.currentVersionId).toBe(client.currentVersionId);
    const pending = await deps.keys.getKey((record as unknown as { pendingKeyHash: string }).pendingKeyHash);
    expect(pending?.state).toBe(KeyState.ACTIVE);
  });
});

describe('proveAgainstEndpoint', () => {
  const answer = (status: number, body: string) => async () => ({ status, text: async () => body });

  it('rejects a 2xx that reports another client', async () => {
    await expect(proveAgainstEndpoint('https://x/whoami', 'k', 'alice', { fetch: answer(200, '{"clientId":"bob"}') })).rejects.toMatchObject({ name: 'KeyVerificationFailed' });
  });

  it('accepts a 2xx without a JSON body', async () => {
    await expect(proveAgainstEndpoint('https://x/whoami', 'k', 'alice', { fetch: answer(204, '') })).resolves.toBeUndefined();
  });

  it('treats a redirect or other 4xx as a refusal', async () => {
    for (const status of [301, 302, 303, 307, 308, 401, 404]) {
      await expect(proveAgainstEndpoint('https://x/whoami', 'k', 'alice', { fetch: answer(status, '') })).rejects.toMatchObject({ name: 'KeyVerificationFailed' });
    }
  });

  it('asks fetch not to follow redirects', async () => {
    const seen: unknown[] = [];
    await proveAgainstEndpoint('https://x/whoami', 'k', 'alice', { fetch: async (_url, init) => (seen.push(init.redirect), { status: 200, text: async () => '' }) });
    expect(seen).toEqual(['manual']);
  });

  it.each([
    ['http://api.example.com/whoami', 'must be an https:// URL; got a http: URL'],
    ['ftp://api.example.com/whoami', 'must be an https:// URL; got a ftp: URL'],
    ['https://user:secret@api.example.com/whoami', 'must not carry credentials (user:password@)'],
    ['https://:secret@api.example.com/whoami', 'must not carry credentials (user:password@)'],
    ['/whoami', 'is not an absolute URL'],
    ['not a url', 'is not an absolute URL'],
  ])('refuses %s by name before anything is sent', async (endpoint, reason) => {
    let calls = 0;
    const counting = async () => (calls++, { status: 200, text: async () => '' });
    const error = await proveAgainstEndpoint(endpoint, 'k', 'alice', { fetch: counting }).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'InvalidVerifyEndpoint', message: `The verification endpoint ${reason}.` });
    expect(JSON.stringify({ m: (error as Error).message })).not.toContain('secret');
    expect(calls).toBe(0);
  });

  it('admits plain HTTP through the test-only switch on loopback hosts only', async () => {
    const ok = async () => ({ status: 200, text: async () => '' });
    for (const endpoint of ['http://127.0.0.1:8080/whoami', 'http://localhost/whoami', 'http://[::1]:1/whoami']) {
      await expect(proveAgainstEndpoint(endpoint, 'k', 'alice', { fetch: ok, allowLoopbackHttp: true })).resolves.toBeUndefined();
    }
    await expect(proveAgainstEndpoint('http://api.example.com/whoami', 'k', 'alice', { fetch: ok, allowLoopbackHttp: true })).rejects.toMatchObject({ name: 'InvalidVerifyEndpoint' });
  });
});
