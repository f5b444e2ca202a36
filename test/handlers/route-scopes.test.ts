/**
 * Route scopes as API Gateway routes (issue 16, item 8): the most specific route decides,
 * never the first in configuration order; an HTTP API's routeKey is looked up exactly; a REST
 * method ARN keeps the colons of its path; unlisted routes can be denied; bad configuration
 * is a named error. Property tests over generated route sets check the choice against an
 * independent statement of "most specific", and that configuration order never matters.
 *
 * API Gateway's rule: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
 * ("Routing API requests": full match first, then greedy path variables, then $default; ANY
 * only for methods a route does not define).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import fc from 'fast-check';
import { generateApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import { readAuthorizerEvent, routeFromMethodArn } from '../../lambdas/aws/auth/authorizer-events';
import { InvalidRouteScopesError, RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import type { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';

const ARN = (path: string, method = 'GET') => `arn:aws:execute-api:us-east-1:123456789012:abc123/prod/${method}${path}`;

describe("the issue's bypasses", () => {
  const config = JSON.stringify({ 'GET /orders/{id}': ['orders:read'], 'GET /orders/admin': ['orders:admin'] });

  it('GET /orders/admin needs orders:admin, whichever route is configured first (REST concrete path and HTTP routeKey)', () => {
    const reversed = JSON.stringify({ 'GET /orders/admin': ['orders:admin'], 'GET /orders/{id}': ['orders:read'] });
    for (const json of [config, reversed]) {
      const scopes = RouteScopes.parse(json);
      expect(scopes.required('GET /orders/admin')).toEqual(['orders:admin']);
      expect(scopes.required('GET /orders/42')).toEqual(['orders:read']);
      expect(scopes.required({ route: 'GET /orders/admin', routeKey: 'GET /orders/admin' })).toEqual(['orders:admin']);
      expect(scopes.required({ route: 'GET /orders/{id}', routeKey: 'GET /orders/{id}' })).toEqual(['orders:read']);
    }
  });

  it('the method ARN of GET /files/a:b/admin is GET /files/a:b/admin, not GET /files/a', () => {
    expect(routeFromMethodArn(ARN('/files/a:b/admin'))).toBe('GET /files/a:b/admin');
    expect(routeFromMethodArn('arn:aws-cn:execute-api:cn-north-1:123456789012:abc/v1/POST/x:y:z')).toBe('POST /x:y:z');
    const scopes = RouteScopes.parse(JSON.stringify({ 'GET /files/{name}': ['files:read'], 'GET /files/{name}/admin': ['files:admin'] }));
    expect(scopes.required(readAuthorizerEvent({ type: 'TOKEN', authorizationToken: 'x', methodArn: ARN('/files/a:b/admin') }))).toEqual(['files:admin']);
  });

  it('refuses what is not an execute-api method ARN', () => {
    for (const arn of ['arn:aws:s3:::bucket/prod/GET/x', 'arn:aws:execute-api:us-east-1:123456789012', 'arn:aws:execute-api:us-east-1:123456789012:abc/prod', 'x:y:z:a:b:c/d/GET/e']) {
      expect(routeFromMethodArn(arn)).toBeUndefined();
    }
  });

  describe('through the authorizer: an orders:read key', () => {
    const PREFIX = 'krt';
    const KEY = generateApiKey(PREFIX);
    const T0 = Date.parse('2026-11-28T10:00:00Z');
    const lookup = async (keyHash: string): Promise<KeyRecord> => ({
      keyHash,
      keyId: 'krt_kid_0000000000000000',
      clientId: 'acme',
      secretVersionId: 'v',
      rotationId: 'r',
      state: KeyState.ACTIVE,
      scopes: ['orders:read'],
      createdAt: new Date(T0).toISOString(),
    });
    let spies: jest.SpyInstance[] = [];
    beforeAll(() => {
      process.env.POWERTOOLS_METRICS_DISABLED = 'true';
      spies = [jest.spyOn(process.stdout, 'write').mockImplementation(() => true)];
    });
    afterAll(() => {
      for (const spy of spies) spy.mockRestore();
      delete process.env.POWERTOOLS_METRICS_DISABLED;
    });
    const run = (json: string, event: APIGatewayTokenAuthorizerEvent | object) =>
      createAuthorizer({
        verifier: new KeyVerifier({ lookup, clock: new ManualClock(T0), keyPrefix: PREFIX, cacheTtlMs: 0, negativeCacheTtlMs: 0 }),
        routeScopes: RouteScopes.parse(json),
        usage: { record: async () => 'written' } as unknown as UsageRecorder,
        metrics: new Metrics({ namespace: 'KeyRollTest', serviceName: 'test' }),
        logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      })(event as never);

    it('is denied GET /orders/admin on REST (Deny policy) and on an HTTP API (isAuthorized false), allowed GET /orders/42', async () => {
      const rest = await run(config, { type: 'TOKEN', authorizationToken: `Bearer ${KEY}`, methodArn: ARN('/orders/admin') });
      expect(rest).toMatchObject({ policyDocument: { Statement: [{ Effect: 'Deny' }] }, context: { reason: 'insufficient_scope' } });
      const http = await run(config, { version: '2.0', type: 'REQUEST', routeKey: 'GET /orders/admin', headers: { authorization: `Bearer ${KEY}` } });
      expect(http).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
      const allowed = await run(config, { type: 'TOKEN', authorizationToken: `Bearer ${KEY}`, methodArn: ARN('/orders/42') });
      expect(allowed).toMatchObject({ policyDocument: { Statement: [{ Effect: 'Allow' }] } });
    });

    it('behind a greedy or default route (REST {proxy+}, HTTP $default / ANY /{proxy+}) the called path decides, as for a TOKEN authorizer', async () => {
      // The matched template hides the configured route: the method ARN / routeArn names the called path.
      const json = JSON.stringify({ 'GET /orders/admin': ['orders:admin'], 'GET /orders/{id}': ['orders:read'], '*': ['orders:read'] });
      const denied = { policyDocument: { Statement: [{ Effect: 'Deny' }] }, context: { reason: 'insufficient_scope' } };
      for (const resource of ['/{proxy+}', '/orders/{proxy+}']) {
        const rest = await run(json, { type: 'REQUEST', httpMethod: 'GET', resource, path: '/orders/admin', methodArn: ARN('/orders/admin'), headers: { authorization: `Bearer ${KEY}` } });
        expect(rest).toMatchObject(denied);
      }
      expect(await run(json, { type: 'TOKEN', authorizationToken: `Bearer ${KEY}`, methodArn: ARN('/orders/admin') })).toMatchObject(denied);
      for (const routeKey of ['$default', 'ANY /{proxy+}']) {
        const routeArn = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders/admin';
        const http = await run(json, { version: '2.0', type: 'REQUEST', routeKey, routeArn, rawPath: '/prod/orders/admin', headers: { authorization: `Bearer ${KEY}` } });
        expect(http).toEqual({ isAuthorized: false, context: { reason: 'insufficient_scope' } });
      }
    });

    it('is denied GET /files/a:b/admin when only GET /files/{name} is its scope', async () => {
      const json = JSON.stringify({ 'GET /files/{name}': ['orders:read'], 'GET /files/{name}/admin': ['files:admin'] });
      const rest = await run(json, { type: 'TOKEN', authorizationToken: `Bearer ${KEY}`, methodArn: ARN('/files/a:b/admin') });
      expect(rest).toMatchObject({ policyDocument: { Statement: [{ Effect: 'Deny' }] } });
    });

    it('a REST REQUEST event is judged by the resource API Gateway matched', async () => {
      const json = JSON.stringify({ 'GET /orders/{id}': ['orders:read'], 'GET /orders/{id}/secret': ['orders:admin'] });
      const event = { type: 'REQUEST', methodArn: ARN('/orders/7/secret'), httpMethod: 'GET', resource: '/orders/{id}/secret', headers: { authorization: `Bearer ${KEY}` } };
      expect(await run(json, event)).toMatchObject({ policyDocument: { Statement: [{ Effect: 'Deny' }] } });
    });
  });
});

describe('specificity rules', () => {
  const scopes = RouteScopes.parse(
    JSON.stringify({
      'ANY /a/{proxy+}': ['any-greedy'],
      'GET /a/{proxy+}': ['get-greedy'],
      'GET /a/{x}': ['get-param'],
      'ANY /a/b': ['any-literal'],
      'GET /a/{x}/c': ['get-param-c'],
      'GET /a/b/{y}': ['get-literal-param'],
      '*': ['fallback'],
    }),
  );

  it.each([
    ['GET /a/b', ['any-literal']], // a literal path beats a parameter, even with ANY against GET
    ['POST /a/b', ['any-literal']],
    ['GET /a/z', ['get-param']], // a parameter beats a greedy variable
    ['POST /a/z', ['any-greedy']],
    ['GET /a/b/c', ['get-literal-param']], // the first differing segment decides: b (literal) over {x}
    ['GET /a/z/c', ['get-param-c']],
    ['GET /a/z/c/d', ['get-greedy']], // GET beats ANY on the same path
    ['GET /a', ['fallback']],
    ['GET /a/', ['fallback']], // a variable matches a non-empty segment only
  ])('%s → %j', (route, expected) => {
    expect(scopes.required(route)).toEqual(expected);
  });

  it('an HTTP routeKey that is configured exactly decides even where a pattern would match more specifically', () => {
    expect(scopes.required({ route: 'GET /a/{x}', routeKey: 'GET /a/{x}' })).toEqual(['get-param']);
    // A routeKey written with another variable name is matched by shape.
    expect(scopes.required({ route: 'GET /a/{id}', routeKey: 'GET /a/{id}' })).toEqual(['get-param']);
    expect(scopes.required({ route: '$default', routeKey: '$default' })).toEqual(['fallback']);
  });
});

describe('unlisted routes', () => {
  it('are denied by default when routes are listed without "*", allowed with "*" or when nothing is listed', () => {
    expect(RouteScopes.parse('{"GET /a":["s"]}').unlisted).toBe('deny');
    expect(RouteScopes.parse('{"GET /a":["s"]}').required('GET /b')).toBeUndefined();
    expect(RouteScopes.parse('{"GET /a":["s"],"*":[]}').required('GET /b')).toEqual([]);
    expect(RouteScopes.parse('{}').required('GET /b')).toEqual([]);
    expect(RouteScopes.parse('{"GET /a":["s"]}', 'allow').required('GET /b')).toEqual([]);
    expect(RouteScopes.parse('{}', 'deny').required('GET /b')).toBeUndefined();
  });
});

describe('bad configuration is InvalidRouteScopes', () => {
  it.each([
    ['two routes matching the same requests', { 'GET /a/{x}': [], 'GET /a/{y}': [] }, /"GET \/a\/\{x\}" and "GET \/a\/\{y\}" match the same requests/],
    ['two greedy routes of one shape', { 'ANY /f/{p+}': [], 'ANY /f/{q+}': [] }, /match the same requests/],
    ['a greedy variable before the end', { 'GET /a/{p+}/b': [] }, /greedy variable must be the last segment/],
    ['an unclosed variable', { 'GET /a/{x': [] }, /neither a literal nor a \{variable\}/],
    ['a brace inside a literal', { 'GET /a/x{y}': [] }, /neither a literal nor a \{variable\}/],
    ['an empty variable', { 'GET /a/{}': [] }, /neither a literal nor a \{variable\}/],
  ])('%s', (_name, config, message) => {
    expect(() => RouteScopes.parse(JSON.stringify(config))).toThrow(InvalidRouteScopesError);
    expect(() => RouteScopes.parse(JSON.stringify(config))).toThrow(message);
  });

  it('"*" together with denied unlisted routes', () => {
    expect(() => RouteScopes.parse('{"GET /a":[],"*":[]}', 'deny')).toThrow(/"\*".*unlisted routes are denied/);
  });
});

// ---------------------------------------------------------------------------------------
// properties over generated route sets

type Kind = 'literal' | 'param' | 'greedy';
interface GenRoute {
  readonly method: string;
  readonly segments: readonly { kind: Kind; text: string }[];
}

const LITERALS = ['a', 'b', 'c'];
const seg = (kind: Kind, text: string) => ({ kind, text });
const segment = fc.oneof(
  fc.constantFrom(...LITERALS).map((text) => seg('literal', text)),
  fc.constantFrom('id', 'x').map((name) => seg('param', `{${name}}`)),
);
const greedyTail = fc.constantFrom('{proxy+}', '{rest+}').map((text) => seg('greedy', text));
const genRoute: fc.Arbitrary<GenRoute> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'ANY'),
  segments: fc.tuple(fc.array(segment, { minLength: 0, maxLength: 3 }), fc.option(greedyTail, { nil: undefined })).map(([head, tail]) => (tail ? [...head, tail] : head.length ? head : [seg('literal', 'a')])),
});
const shapeOf = (r: GenRoute) => `${r.method} ${r.segments.map((s) => (s.kind === 'literal' ? s.text : s.kind)).join('/')}`;
const keyOf = (r: GenRoute) => `${r.method} /${r.segments.map((s) => s.text).join('/')}`;
/** Route sets without two routes of one shape (that is a configuration error, tested above). */
const routeSets = fc.uniqueArray(genRoute, { minLength: 1, maxLength: 12, selector: shapeOf });
const requests = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
  path: fc.array(fc.constantFrom(...LITERALS, 'd'), { minLength: 1, maxLength: 5 }),
});

/** Independent matcher: a regular expression per route, as API Gateway's syntax reads. */
function matchesIndependently(route: GenRoute, method: string, path: readonly string[]): boolean {
  if (route.method !== 'ANY' && route.method !== method) return false;
  const source = route.segments.map((s) => (s.kind === 'literal' ? s.text : s.kind === 'param' ? '[^/]+' : '[^/].*')).join('/');
  return new RegExp(`^/${source}$`).test(`/${path.join('/')}`);
}

/**
 * "r is at least as specific as q", stated pairwise as API Gateway's priorities read: at the
 * first segment where they differ in kind, a literal beats a variable and a variable beats a
 * greedy one; the same shape: a named method beats ANY.
 */
function atLeastAsSpecific(r: GenRoute, q: GenRoute): boolean {
  const rank: Record<Kind, number> = { literal: 0, param: 1, greedy: 2 };
  for (let i = 0; i < Math.max(r.segments.length, q.segments.length); i++) {
    const a = r.segments[i];
    const b = q.segments[i];
    if (!a || !b) return !b; // only reachable with greedy tails: the longer one is more specific
    if (rank[a.kind] !== rank[b.kind]) return rank[a.kind] < rank[b.kind];
  }
  return r.method !== 'ANY' || q.method === 'ANY';
}

function configOf(routes: readonly GenRoute[]): Record<string, string[]> {
  // Each route's scope names it, so the decision can be read back from the scopes.
  return Object.fromEntries(routes.map((r) => [keyOf(r), [`s:${shapeOf(r).replace(/ /g, '_')}`]]));
}

describe('properties over generated route sets (fast-check)', () => {
  it('the chosen route matches and is at least as specific as every other matching route; none chosen when none matches', () => {
    fc.assert(
      fc.property(routeSets, requests, (routes, request) => {
        const scopes = RouteScopes.parse(JSON.stringify(configOf(routes)), 'deny');
        const route = `${request.method} /${request.path.join('/')}`;
        const chosen = scopes.mostSpecific(route);
        const matching = routes.filter((r) => matchesIndependently(r, request.method, request.path));
        if (matching.length === 0) {
          expect(chosen).toBeUndefined();
          expect(scopes.required(route)).toBeUndefined();
          return;
        }
        const winner = routes.find((r) => keyOf(r) === chosen?.key);
        expect(winner).toBeDefined();
        expect(matching).toContain(winner);
        for (const other of matching) expect(atLeastAsSpecific(winner!, other)).toBe(true);
      }),
      { numRuns: 2000, seed: 16_08 },
    );
  });

  it('configuration order never matters', () => {
    fc.assert(
      fc.property(
        routeSets.chain((routes) => fc.tuple(fc.constant(routes), fc.shuffledSubarray(routes, { minLength: routes.length, maxLength: routes.length }))),
        fc.array(requests, { minLength: 1, maxLength: 10 }),
        ([routes, shuffled], calls) => {
          const a = RouteScopes.parse(JSON.stringify(configOf(routes)));
          const b = RouteScopes.parse(JSON.stringify(configOf(shuffled)));
          for (const call of calls) {
            const route = `${call.method} /${call.path.join('/')}`;
            expect(b.required(route)).toEqual(a.required(route));
          }
        },
      ),
      { numRuns: 1000, seed: 16_08 },
    );
  });

  it("an HTTP API routeKey that names a configured route gets exactly that route's scopes", () => {
    fc.assert(
      fc.property(routeSets, fc.nat(), (routes, pick) => {
        const config = configOf(routes);
        const scopes = RouteScopes.parse(JSON.stringify(config));
        const route = routes[pick % routes.length];
        const key = keyOf(route);
        expect(scopes.required({ route: key, routeKey: key })).toEqual(config[key]);
      }),
      { numRuns: 1000, seed: 16_08 },
    );
  });
});
