/**
 * The authorizer's lean key store against the SDK's KeyRepository: over moto, both read the
 * same records (every key state, strongly and eventually consistent) and record usage with the
 * same outcomes and the same items; each sees what the other wrote; a verifier over the lean
 * store judges keys as the SDK one does. Against a scripted DynamoDB, both turn the same
 * answers into the same results and error names (transient faults, failed conditions,
 * validation errors).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { isoNow, ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import type { ClientRecord, KeyRecord } from '../../lambdas/core/model';
import { createTableKeyVerifier } from '../../lambdas/aws/auth/table-verifier';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { DynamoDbHttpClient } from '../../lambdas/aws/lean/dynamodb-http';
import { LeanKeyStore } from '../../lambdas/aws/lean/lean-key-store';
import { makeTestDeps, registerTestClient, scanTable } from '../support/fixtures';
import { awsError, ok, scriptedDynamoDb, type Reply, type ScriptedDynamoDb } from '../support/scripted-dynamodb';

const START = Date.parse('2026-11-28T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let http: DynamoDbHttpClient;
let lean: LeanKeyStore;

beforeAll(async () => {
  deps = await makeTestDeps(new ManualClock(START));
  // From the environment, as the authorizer builds it: AWS_ENDPOINT_URL points at moto.
  http = new DynamoDbHttpClient();
  lean = new LeanKeyStore(http, deps.tableName);
});

afterAll(() => http.destroy());

async function client(scopes = ['orders:read']): Promise<{ client: ClientRecord; key: string }> {
  const record = await registerTestClient(deps, undefined, { scopes });
  const value = await deps.secrets.readVersion(record.secretId, record.currentVersionId);
  return { client: record, key: value!.apiKey };
}

/** Both readers, strongly and eventually consistent, must agree (and return `expected`, when given). */
async function expectSameRecord(keyHash: string, expected?: Partial<KeyRecord>): Promise<KeyRecord | undefined> {
  const [sdk, sdkEventual, mine, mineEventual] = await Promise.all([deps.keys.getKey(keyHash), deps.keys.getKey(keyHash, false), lean.getKey(keyHash), lean.getKey(keyHash, false)]);
  expect(mine).toEqual(sdk);
  expect(mineEventual).toEqual(sdkEventual);
  if (expected) expect(mine).toMatchObject(expected);
  return mine;
}

describe('LeanKeyStore over moto, beside KeyRepository', () => {
  it('reads the same key record in every state, and nothing for an unknown hash', async () => {
    const { client: c } = await client(['orders:read', 'orders:write']);
    const active = await expectSameRecord(c.currentKeyHash, { state: KeyState.ACTIVE, keyId: c.currentKeyId, clientId: c.clientId, scopes: ['orders:read', 'orders:write'] });
    // Exactly the record: no table keys (pk, sk, gsi1pk, gsi1sk) leak into it.
    expect(Object.keys(active!).sort()).toEqual(Object.keys((await deps.keys.getKey(c.currentKeyHash))!).sort());
    expect(active).not.toHaveProperty('pk');

    await deps.keys.recordUse(c.currentKeyHash, iso(START), iso(START - 60_000));
    await expectSameRecord(c.currentKeyHash, { lastUsedAt: iso(START) });
    await deps.keys.applyChange({
      transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: iso(START + 3_600_000) } }],
    });
    await expectSameRecord(c.currentKeyHash, { state: KeyState.RETIRING, notAfter: iso(START + 3_600_000) });
    await deps.keys.applyChange({
      transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.RETIRING, to: KeyState.REVOKED, set: { revokedAt: iso(START + 1) } }],
    });
    await expectSameRecord(c.currentKeyHash, { state: KeyState.REVOKED, revokedAt: iso(START + 1) });

    const pendingKey = generateApiKey(deps.settings.keyPrefix);
    const pending: KeyRecord = {
      keyHash: hashApiKey(pendingKey),
      keyId: keyIdOf(pendingKey),
      clientId: c.clientId,
      secretVersionId: 'rot-00000000-0000-4000-8000-000000000000',
      rotationId: 'rot-00000000-0000-4000-8000-000000000000',
      state: KeyState.PENDING,
      scopes: [],
      createdAt: isoNow(deps.clock),
    };
    await deps.keys.applyChange({ insertKeys: [pending] });
    expect(await expectSameRecord(pending.keyHash)).toEqual(pending);

    expect(await expectSameRecord(hashApiKey(generateApiKey(deps.settings.keyPrefix)))).toBeUndefined();
  });

  it('records usage with the same outcomes and the same items as KeyRepository, step for step', async () => {
    const { client: a } = await client();
    const { client: b } = await client();
    // [at, staleBefore] pairs covering every branch of the condition.
    const steps: [number, number][] = [
      [START, START - 60_000], // first use: written
      [START, START - 60_000], // same instant again: kept (recent)
      [START + 30_000, START - 30_000], // recorded use is not stale yet: kept
      [START + 60_000, START + 1], // stale: written
      [START + 30_000, START + 2], // would move lastUsedAt backwards: kept
      [START + 120_000, START + 60_001], // stale again: written
    ];
    const outcomes: [boolean, boolean][] = [];
    for (const [at, stale] of steps) {
      const sdkWrote = await deps.keys.recordUse(a.currentKeyHash, iso(at), iso(stale));
      const leanWrote = await lean.recordUse(b.currentKeyHash, iso(at), iso(stale));
      outcomes.push([sdkWrote, leanWrote]);
      expect((await deps.keys.getKey(b.currentKeyHash))?.lastUsedAt).toBe((await deps.keys.getKey(a.currentKeyHash))?.lastUsedAt);
    }
    expect(outcomes).toEqual(steps.map((_, i) => [[0, 3, 5].includes(i), [0, 3, 5].includes(i)]));
    expect((await lean.getKey(b.currentKeyHash))?.lastUsedAt).toBe(iso(START + 120_000));
  });

  it('never creates an item for an unknown hash, like KeyRepository', async () => {
    const ghost = hashApiKey(generateApiKey(deps.settings.keyPrefix));
    expect(await lean.recordUse(ghost, iso(START), iso(START - 60_000))).toBe(false);
    expect(await deps.keys.recordUse(ghost, iso(START), iso(START - 60_000))).toBe(false);
    expect((await scanTable(deps.tableName)).filter((item) => item.pk === `KEY#${ghost}`)).toEqual([]);
  });

  it('each sees what the other wrote', async () => {
    const { client: c } = await client();
    expect(await lean.recordUse(c.currentKeyHash, iso(START), iso(START - 60_000))).toBe(true);
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START));
    expect(await deps.keys.recordUse(c.currentKeyHash, iso(START + 60_000), iso(START + 1))).toBe(true);
    expect((await lean.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START + 60_000));
    expect(await lean.recordUse(c.currentKeyHash, iso(START + 60_000), iso(START + 1))).toBe(false);
  });

  it('a verifier over the lean store judges keys as the SDK one does', async () => {
    const { client: c, key } = await client(['orders:read']);
    const { key: other } = await client(['orders:read']);
    const clock = new ManualClock(START);
    const mine = createTableKeyVerifier({ reader: lean, clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0 });
    const sdk = createDynamoKeyVerifier({ tableName: deps.tableName, clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0 });
    const presented = [key, other, generateApiKey(deps.settings.keyPrefix), 'nonsense'];
    const judge = async () => {
      for (const k of presented) for (const scopes of [['orders:read'], ['orders:write']]) expect(await mine.verify(k, scopes)).toEqual(await sdk.verify(k, scopes));
    };
    await judge();
    await deps.keys.applyChange({ transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.ACTIVE, to: KeyState.REVOKED, set: { revokedAt: iso(START) } }] });
    await judge();
    expect(await mine.verify(key)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('names a missing table ResourceNotFoundException, as the SDK does, and does not retry it', async () => {
    const missing = new LeanKeyStore(http, 'keyroll-no-such-table');
    const sdkError = await new KeyRepository(DynamoDBDocumentClient.from(new DynamoDBClient({})), 'keyroll-no-such-table').getKey('x').catch((e: Error) => e);
    const leanError = await missing.getKey('x').catch((e: Error) => e);
    expect((leanError as Error).name).toBe('ResourceNotFoundException');
    expect((leanError as Error).name).toBe((sdkError as Error).name);
    expect((leanError as unknown as { $metadata: { attempts: number } }).$metadata.attempts).toBe(1);
  });
});

describe('LeanKeyStore and KeyRepository on the same answers (scripted DynamoDB)', () => {
  const servers: ScriptedDynamoDb[] = [];
  const leanClients: DynamoDbHttpClient[] = [];
  afterEach(async () => {
    for (const c of leanClients.splice(0)) c.destroy();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  /** The two stores, each against its own copy of the script (the SDK's retry pacing is its own). */
  async function both(replies: Reply[]) {
    const forSdk = await scriptedDynamoDb(replies);
    const forLean = await scriptedDynamoDb(replies);
    servers.push(forSdk, forLean);
    const sdkClient = new DynamoDBClient({ endpoint: forSdk.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'SECRET' } });
    const leanClient = new DynamoDbHttpClient({ endpoint: forLean.endpoint, region: 'us-east-1', credentials: () => ({ accessKeyId: 'AKID', secretAccessKey: 'SECRET' }), sleep: async () => {} });
    leanClients.push(leanClient);
    return { sdk: new KeyRepository(DynamoDBDocumentClient.from(sdkClient), 'keyroll'), lean: new LeanKeyStore(leanClient, 'keyroll'), forSdk, forLean };
  }

  const settle = <T>(promise: Promise<T>) =>
    promise.then(
      (value) => ({ value }),
      (error: Error) => ({ error: error.name }),
    );

  it('sends the same GetItem and UpdateItem requests', async () => {
    const { sdk, lean: mine, forSdk, forLean } = await both([ok({})]);
    await Promise.all([sdk.getKey('abc'), mine.getKey('abc')]);
    await Promise.all([sdk.getKey('abc', false), mine.getKey('abc', false)]);
    await Promise.all([sdk.recordUse('abc', iso(START), iso(START - 1)), mine.recordUse('abc', iso(START), iso(START - 1))]);
    const requests = (s: ScriptedDynamoDb) => s.captured.map((r) => ({ target: r.headers['x-amz-target'], body: JSON.parse(r.body) as unknown }));
    expect(requests(forLean)).toEqual(requests(forSdk));
    expect(requests(forLean).map((r) => r.target)).toEqual(['DynamoDB_20120810.GetItem', 'DynamoDB_20120810.GetItem', 'DynamoDB_20120810.UpdateItem']);
  });

  it.each<[string, Reply[]]>([
    ['a failed usage condition is false', [awsError(400, 'ConditionalCheckFailedException', 'The conditional request failed')]],
    ['persistent throttling is TransientError', [awsError(400, 'ProvisionedThroughputExceededException')]],
    ['a persistent 503 is TransientError', [awsError(503, 'ServiceUnavailable')]],
    ['one 500 then success is retried to success', [awsError(500, 'InternalServerError'), ok({})]],
    ['a validation error keeps its name', [awsError(400, 'ValidationException', 'One or more parameter values were invalid')]],
  ])('same outcome: %s', async (_, replies) => {
    const read = await both(replies);
    expect(await settle(read.lean.getKey('abc'))).toEqual(await settle(read.sdk.getKey('abc')));
    const write = await both(replies);
    expect(await settle(write.lean.recordUse('abc', iso(START), iso(START - 1)))).toEqual(await settle(write.sdk.recordUse('abc', iso(START), iso(START - 1))));
    expect(write.forLean.captured).toHaveLength(write.forSdk.captured.length);
  });
});
