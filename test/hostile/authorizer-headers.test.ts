/**
 * Hostile headers to the authorizer, in all three event shapes (HTTP API 2.0, REST REQUEST,
 * REST TOKEN): oversize Authorization / x-api-key values (16 KB, 1 MB), many headers, duplicate
 * and multi-value headers, missing headers, non-string values, odd casing, Bearer variants and
 * the shared hostile table. Each is answered (HTTP: isAuthorized false; REST: the Unauthorized
 * 401), never crashes, costs no store read when malformed, and its value is not in any log
 * line (the real Powertools Logger and Metrics, output captured).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayRequestAuthorizerEvent, APIGatewayRequestAuthorizerEventV2 } from 'aws-lambda';
import { generateApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import type { KeyRecord } from '../../lambdas/core/model';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE } from '../../lambdas/aws/auth/auth-metrics';
import { createAuthorizer } from '../../lambdas/aws/auth/authorizer';
import type { AuthorizerEvent } from '../../lambdas/aws/auth/authorizer-events';
import { RouteScopes } from '../../lambdas/aws/auth/route-scopes';
import type { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { HOSTILE_STRINGS, HOSTILE_VALUES, PASTED_KEY } from './hostile-values';
import { captureStdout } from './stdout-capture';

const PREFIX = 'krt';
const KEY = generateApiKey(PREFIX);
const T0 = Date.parse('2026-11-28T10:00:00Z');
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/orders';
const KB = 1024;

/** The authorizer with a store that knows every key (anything reaching it would be accepted) and counts reads. */
function countingAuthorizer() {
  let reads = 0;
  const lookup = async (keyHash: string): Promise<KeyRecord> => {
    reads += 1;
    return { keyHash, keyId: 'krt_kid_0000000000000000', clientId: 'acme', secretVersionId: 'v', rotationId: 'r', state: KeyState.ACTIVE, scopes: ['*'], createdAt: new Date(T0).toISOString() };
  };
  const run = createAuthorizer({
    verifier: new KeyVerifier({ lookup, clock: new ManualClock(T0), keyPrefix: PREFIX, cacheTtlMs: 0, negativeCacheTtlMs: 0 }),
    routeScopes: RouteScopes.parse('{"GET /orders":["orders:read"]}'),
    usage: { record: async () => undefined } as unknown as UsageRecorder,
    metrics: new Metrics({ namespace: AUTH_METRICS_NAMESPACE, serviceName: AUTH_METRICS_SERVICE }),
    logger: new Logger({ serviceName: AUTH_METRICS_SERVICE }),
  });
  return { run, reads: () => reads };
}

type Headers = Record<string, unknown> | null | undefined;

const httpEvent = (headers: Headers): AuthorizerEvent =>
  ({
    version: '2.0',
    type: 'REQUEST',
    routeArn: METHOD_ARN,
    identitySource: [],
    routeKey: 'GET /orders',
    rawPath: '/orders',
    rawQueryString: '',
    headers,
    requestContext: {},
  }) as unknown as APIGatewayRequestAuthorizerEventV2;

const restEvent = (headers: Headers, multiValueHeaders: Record<string, unknown> | null = null): AuthorizerEvent =>
  ({
    type: 'REQUEST',
    methodArn: METHOD_ARN,
    resource: '/orders',
    path: '/orders',
    httpMethod: 'GET',
    headers,
    multiValueHeaders,
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    requestContext: {},
  }) as unknown as APIGatewayRequestAuthorizerEvent;

const tokenEvent = (authorizationToken: unknown): AuthorizerEvent => ({ type: 'TOKEN', authorizationToken, methodArn: METHOD_ARN }) as unknown as AuthorizerEvent;

/** How the authorizer answered: allowed, denied (HTTP false / REST 401), or crashed. */
async function answer(event: AuthorizerEvent): Promise<{ outcome: 'allowed' | 'denied' | 'crashed'; logs: string; detail?: string; reads: number }> {
  const { run, reads } = countingAuthorizer();
  const stdout = captureStdout();
  try {
    const response = (await run(event)) as { isAuthorized?: boolean; policyDocument?: { Statement: { Effect: string }[] } };
    const allowed = response.isAuthorized === true || response.policyDocument?.Statement[0]?.Effect === 'Allow';
    return { outcome: allowed ? 'allowed' : 'denied', logs: stdout.text(), reads: reads() };
  } catch (error) {
    const unauthorized = error instanceof Error && error.message === 'Unauthorized';
    return { outcome: unauthorized ? 'denied' : 'crashed', logs: stdout.text(), detail: `${(error as Error).name}: ${(error as Error).message}`, reads: reads() };
  } finally {
    stdout.restore();
  }
}

/** The header value is not in any log line (JSON-parsed, so escapes do not hide it). */
function expectNotLogged(logs: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim().length < 4) return;
  for (const line of logs.split('\n').filter((l) => l.trim())) {
    const parsed = JSON.stringify(JSON.parse(line));
    expect(parsed.includes(JSON.stringify(value).slice(1, -1))).toBe(false);
    expect(line.length).toBeLessThan(4000);
  }
}

interface Case {
  readonly title: string;
  readonly events: AuthorizerEvent[];
  /** The value that must not be logged. */
  readonly value: unknown;
}

/** One credential value in every place it can arrive. */
function everywhere(title: string, value: unknown): Case {
  return {
    title,
    value,
    events: [
      httpEvent({ authorization: value }),
      httpEvent({ 'x-api-key': value }),
      httpEvent({ Authorization: `Bearer ${String(value)}` }),
      restEvent({ Authorization: value }),
      restEvent({ 'X-Api-Key': value }),
      tokenEvent(value),
      tokenEvent(`Bearer ${String(value)}`),
    ],
  };
}

const manyHeaders = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`x-junk-${i}`, 'v'.repeat(64)]));

const malformed: Case[] = [
  everywhere('16 KB Authorization', 'a'.repeat(16 * KB)),
  everywhere('1 MB Authorization', 'a'.repeat(KB * KB)),
  everywhere('16 KB of the key repeated', KEY.repeat(Math.ceil((16 * KB) / KEY.length))),
  everywhere('1 MB of spaces around a key', `${' '.repeat((KB * KB) / 2)}${KEY}x${' '.repeat((KB * KB) / 2)}`),
  everywhere('1 MB of tabs after Bearer', `\t`.repeat(KB * KB)),
  ...HOSTILE_VALUES.filter((h) => h.value !== PASTED_KEY).map((h) => everywhere(`shared table: ${h.name}`, h.value)),
  { title: '2000 junk headers, no credential', value: undefined, events: [httpEvent(manyHeaders), restEvent(manyHeaders)] },
  { title: '2000 junk headers and a 16 KB Authorization', value: 'b'.repeat(16 * KB), events: [httpEvent({ ...manyHeaders, authorization: 'b'.repeat(16 * KB) })] },
  {
    title: 'duplicate Authorization joined by API Gateway',
    value: `Bearer ${KEY},Bearer ${KEY}`,
    events: [httpEvent({ authorization: `Bearer ${KEY},Bearer ${KEY}` }), restEvent({ Authorization: `Bearer ${KEY},Bearer ${KEY}` })],
  },
  { title: 'duplicate x-api-key joined by API Gateway', value: `${KEY},${KEY}`, events: [httpEvent({ 'x-api-key': `${KEY},${KEY}` })] },
  { title: 'multi-value headers only (REST)', value: undefined, events: [restEvent(null, { Authorization: [`Bearer ${KEY}`, 'Bearer other'] }), restEvent({}, { authorization: [] })] },
  { title: 'two spellings of Authorization, the first malformed', value: 'Bearer nope-nope', events: [httpEvent({ authorization: 'Bearer nope-nope', Authorization: `Bearer ${KEY}` })] },
  { title: 'missing headers', value: undefined, events: [httpEvent(undefined), httpEvent(null), httpEvent({}), restEvent(null), restEvent({}), tokenEvent(undefined), tokenEvent('')] },
  {
    title: 'non-string header values',
    value: undefined,
    events: [null, 42, true, [KEY], { value: KEY }, Buffer.from(KEY)].flatMap((v) => [httpEvent({ authorization: v }), httpEvent({ 'x-api-key': v }), restEvent({ Authorization: v }), tokenEvent(v)]),
  },
  {
    title: 'headers that are not an object',
    value: undefined,
    events: ['Authorization: x', 42, [['authorization', KEY]]].flatMap((h) => [httpEvent(h as unknown as Headers), restEvent(h as unknown as Headers)]),
  },
  ...[
    'Bearer',
    'Bearer ',
    'Bearer  \t ',
    `Bearer ${KEY} extra`,
    `Bearer: ${KEY}`,
    `Bearer${KEY}`,
    `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`,
    `Token ${KEY}`,
    `Bearer Bearer ${KEY}`,
    `Bearer "${KEY}"`,
    `Bearer ${KEY};`,
    `Bearer\n${KEY}`,
    `Bearer\u00a0${KEY}`,
    `Bearer ${KEY.toUpperCase()}`,
  ].map((variant) => ({
    title: `Bearer variant ${JSON.stringify(variant.replace(KEY, '<key>').replace(KEY.toUpperCase(), '<KEY>'))}`,
    value: variant,
    events: [httpEvent({ authorization: variant }), restEvent({ Authorization: variant }), tokenEvent(variant)],
  })),
];

const SHARED_TABLE_SIZE = HOSTILE_STRINGS.length;

describe('malformed credentials → denied, no store read, no crash, not logged', () => {
  it.each(malformed)('$title', async ({ events, value }) => {
    for (const event of events) {
      const result = await answer(event);
      expect([result.outcome, result.reads, result.outcome === 'crashed' ? result.detail : '']).toEqual(['denied', 0, '']);
      expectNotLogged(result.logs, value);
    }
  });

  it('tries many cases', () => {
    expect(malformed.reduce((n, c) => n + c.events.length, 0)).toBeGreaterThan(SHARED_TABLE_SIZE * 7);
  });
});

describe('well-formed credentials in odd but legitimate places are read (the counter can fail)', () => {
  it.each([
    ['upper-case header name', httpEvent({ AUTHORIZATION: `Bearer ${KEY}` })],
    ['mixed-case header name', restEvent({ AuThOrIzAtIoN: `Bearer ${KEY}` })],
    ['lower-case scheme', httpEvent({ authorization: `bearer ${KEY}` })],
    ['tab after Bearer', tokenEvent(`Bearer\t${KEY}`)],
    ['x-api-key with padding', httpEvent({ 'x-api-key': `  ${KEY}  ` })],
    ['2000 junk headers and a valid key', httpEvent({ ...manyHeaders, authorization: `Bearer ${KEY}` })],
  ])('%s → allowed with one read', async (_name, event) => {
    const result = await answer(event);
    expect({ outcome: result.outcome, reads: result.reads }).toEqual({ outcome: 'allowed', reads: 1 });
  });
});
