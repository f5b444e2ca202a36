/**
 * The deployed authorizer's time budget (issue 16, item 6): its Lambda timeout is 10 s, and
 * its table calls used to retry as the SDK does (4 attempts of up to 2 s, throttling backoff
 * up to 1 + 2 + 4 s) with no regard for it: ≈ 15 s for the key read alone, as much again for
 * the usage write. Lambda ends an invocation at its timeout with an error (a 500 for the
 * caller, metrics never flushed), even when the key was verified and only the usage write was
 * slow. Now every call ends by the invocation's remaining time less the answer reserve.
 *
 * The handler module itself runs here, built from its environment, against a scripted
 * DynamoDB that throttles slowly (each answer takes 1.9 s), with the worst jitter
 * (Math.random → 0.999) and a Lambda context giving it BUDGET_MS. The budget is shorter than
 * 10 s so the suite stays quick; the same code bounds any budget (the 10 s figures are in
 * the README).
 */
import { generateApiKey, hashApiKey } from '../../lambdas/core/api-key';
import { ANSWER_RESERVE_MS } from '../../lambdas/aws/auth/authorizer';
import { awsError, ok, scriptedDynamoDb, type Reply, type ScriptedDynamoDb } from '../support/scripted-dynamodb';

const PREFIX = 'krt';
const KEY = generateApiKey(PREFIX);
/** The Lambda's remaining time when the invocation starts. */
const BUDGET_MS = 4_000;
/** How late after the budget a settled promise still counts (timer and event-loop slack). */
const SLACK_MS = 250;
/** A DynamoDB that answers every request with throttling, 1.9 s late. */
const SLOW_THROTTLE: Reply = { ...(awsError(400, 'ProvisionedThroughputExceededException') as object), delayMs: 1_900 } as Reply;

const KEY_ITEM = {
  Item: {
    pk: { S: `KEY#${hashApiKey(KEY)}` },
    sk: { S: 'KEY' },
    keyHash: { S: hashApiKey(KEY) },
    keyId: { S: 'krt_kid_0000000000000000' },
    clientId: { S: 'acme' },
    secretVersionId: { S: 'v1' },
    rotationId: { S: 'r1' },
    state: { S: 'ACTIVE' },
    scopes: { L: [{ S: 'orders:read' }] },
    createdAt: { S: '2026-01-01T00:00:00.000Z' },
  },
};

type HandlerModule = typeof import('../../lambdas/handlers/authorizer');
const saved = { ...process.env };
let server: ScriptedDynamoDb | undefined;
let spies: jest.SpyInstance[] = [];

beforeAll(() => {
  // Captured by the client at import: the worst jitter for every backoff.
  spies.push(jest.spyOn(Math, 'random').mockReturnValue(0.999));
  spies.push(jest.spyOn(process.stdout, 'write').mockImplementation(() => true));
});

afterAll(() => {
  for (const spy of spies) spy.mockRestore();
  spies = [];
});

afterEach(async () => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
  await server?.close();
  server = undefined;
});

async function handlerAgainst(replies: Reply[]): Promise<HandlerModule['handler']> {
  server = await scriptedDynamoDb(replies);
  Object.assign(process.env, {
    TABLE_NAME: 'keyroll',
    KEY_PREFIX: PREFIX,
    CACHE_TTL_MS: '0',
    ROUTE_SCOPES: '{}',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: server.endpoint,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_MAX_ATTEMPTS;
  let loaded: HandlerModule | undefined;
  jest.isolateModules(() => {
    loaded = require('../../lambdas/handlers/authorizer') as HandlerModule;
  });
  return loaded!.handler;
}

/** A Lambda context whose invocation ends `budgetMs` from now. */
function lambdaContext(budgetMs: number) {
  const endsAt = Date.now() + budgetMs;
  return { getRemainingTimeInMillis: () => endsAt - Date.now() };
}

const httpEvent = () => ({ version: '2.0', type: 'REQUEST', routeKey: 'GET /orders', headers: { authorization: `Bearer ${KEY}` } }) as never;

/** How the invocation ended and when; fails the test if it is still running after the budget. */
async function timed(run: Promise<unknown>): Promise<{ ms: number; outcome: 'answered' | 'threw'; value: unknown }> {
  const started = Date.now();
  const settled = run.then(
    (value) => ({ outcome: 'answered' as const, value }),
    (value: unknown) => ({ outcome: 'threw' as const, value }),
  );
  const late = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), BUDGET_MS + SLACK_MS).unref());
  const result = await Promise.race([settled, late]);
  const ms = Date.now() - started;
  if (result === 'late') throw new Error(`the authorizer was still running ${ms} ms into a ${BUDGET_MS} ms invocation: Lambda would have timed it out`);
  return { ms, ...result };
}

describe("the authorizer ends within its invocation's remaining time", () => {
  it('a slowly throttling key read: fails (a 500) before the deadline instead of retrying past it', async () => {
    const handler = await handlerAgainst([SLOW_THROTTLE]);
    const { ms, outcome, value } = await timed(handler(httpEvent(), lambdaContext(BUDGET_MS)));
    expect(outcome).toBe('threw');
    expect(value).toMatchObject({ name: 'TransientError' });
    expect(ms).toBeLessThanOrEqual(BUDGET_MS - ANSWER_RESERVE_MS + SLACK_MS);
    // Two attempts fitted: the first (1.9 s, throttled), then a second cut short at the deadline.
    expect(server!.captured).toHaveLength(2);
  }, 30_000);

  it('a slowly throttling usage write: the verified key still gets its answer in time', async () => {
    const handler = await handlerAgainst([ok(KEY_ITEM), SLOW_THROTTLE]);
    const { ms, outcome, value } = await timed(handler(httpEvent(), lambdaContext(BUDGET_MS)));
    expect(outcome).toBe('answered');
    expect(value).toMatchObject({ isAuthorized: true, context: { clientId: 'acme' } });
    expect(ms).toBeLessThanOrEqual(BUDGET_MS - ANSWER_RESERVE_MS + SLACK_MS);
    expect(JSON.parse(server!.captured[1].body)).toMatchObject({ UpdateExpression: 'SET lastUsedAt = :at', ReturnValues: 'NONE' });
  }, 30_000);

  it('with no time left for an attempt, makes no request at all', async () => {
    const handler = await handlerAgainst([ok(KEY_ITEM)]);
    const { outcome, value } = await timed(handler(httpEvent(), lambdaContext(ANSWER_RESERVE_MS + 50)));
    expect(outcome).toBe('threw');
    expect(value).toMatchObject({ name: 'TransientError' });
    expect(server!.captured).toHaveLength(0);
  });
});
