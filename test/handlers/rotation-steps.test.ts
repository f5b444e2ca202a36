/**
 * The rotation steps driven directly, in the order the state machine runs them, against
 * moto with a manual clock. After every step the staging labels (DescribeSecret) and the
 * DynamoDB items are checked against the design; every step is run twice to prove it is
 * idempotent; crashes are simulated with SDK middleware.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import type { ClientRecord, KeyRecord } from '../../lambdas/core/model';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { judgeRecord, verifyApiKey } from '../../lambdas/core/verification';
import { Stage } from '../../lambdas/aws/secret-store';
import { beginRotation, createSecret, finishSecret, retireOldKey, rollbackRotation, setSecret, testSecret } from '../support/judged-steps';
import type { ClientWithPending, RotationContext } from '../../lambdas/aws/rotation/context';
import { makeTestDeps, newRotationId, registerTestClient, scanTable } from '../support/fixtures';
import { allVersionIds, crashAfterCommand, labels, leakedKeys, rotationRequest, runTwice, SimulatedCrash, snapshot, type TestDeps } from '../support/step-helpers';

const START = Date.parse('2026-11-28T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

let clock: ManualClock;
let deps: TestDeps;

beforeEach(async () => {
  clock = new ManualClock(START);
  deps = await makeTestDeps(clock);
});

/** A registered client and a rotation of it, not yet begun. */
async function prepare(mode: RotationMode, overlapSeconds?: number) {
  const client = await registerTestClient(deps, undefined, { scopes: ['orders:read', 'orders:write'] });
  const oldValue = (await deps.secrets.readVersion(client.secretId, client.currentVersionId))!;
  const rotationId = newRotationId();
  const input = { request: rotationRequest(client.clientId, mode, { overlapSeconds, requestedBy: 'alice', reason: 'quarterly rotation' }), rotationId };
  return {
    client,
    oldVersion: client.currentVersionId,
    oldValue,
    oldKeyHash: client.currentKeyHash,
    oldKeyId: client.currentKeyId,
    rotationId,
    input,
    secretId: client.secretId,
    twice: <T>(step: () => Promise<T>) => runTwice(deps.tableName, client.secretId, step),
  };
}

const getClient = async (clientId: string) => (await deps.keys.getClient(clientId)) as ClientWithPending;
const getKey = async (keyHash: string) => (await deps.keys.getKey(keyHash))!;

/** Every plaintext key ever stored in the secret (all versions). */
async function plaintextKeysOf(secretId: string): Promise<string[]> {
  const keys: string[] = [];
  for (const versionId of await allVersionIds(secretId)) {
    const value = await deps.secrets.readVersion(secretId, versionId);
    if (value) keys.push(value.apiKey);
  }
  return keys;
}

/** Invariant 5: no table item and no step result holds a plaintext key. */
async function expectNoPlaintext(secretId: string, results: unknown[], minKeys: number) {
  const plaintext = await plaintextKeysOf(secretId);
  expect(plaintext.length).toBeGreaterThanOrEqual(minKeys);
  expect(leakedKeys(await scanTable(deps.tableName), plaintext)).toEqual([]);
  expect(leakedKeys(results, plaintext)).toEqual([]);
}

/** The version that carries `stage` in a label map. */
function versionCarrying(stageMap: Record<string, string[]>, stage: Stage): string | undefined {
  return Object.entries(stageMap).find(([, stages]) => stages.includes(stage))?.[0];
}

/** Runs a promise that must fail; returns the error. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the step to fail');
}

/** Begin → create → set, each once; returns the context and the pending key. */
async function throughSet(r: Awaited<ReturnType<typeof prepare>>) {
  const context = await beginRotation(deps, r.input);
  const created = await createSecret(deps, context);
  await setSecret(deps, context);
  const newValue = (await deps.secrets.readVersion(r.secretId, r.rotationId))!;
  return { context, created, newValue, newKeyHash: hashApiKey(newValue.apiKey) };
}

describe('a scheduled rotation, step by step, every step run twice', () => {
  it('follows the design after each step and converges on retries', async () => {
    const r = await prepare(RotationMode.SCHEDULED, 600);
    const results: unknown[] = [];
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT] });

    // beginRotation: lock taken, nothing else touched.
    const context = await r.twice(() => beginRotation(deps, r.input));
    results.push(context);
    expect(context).toEqual<RotationContext>({
      rotationId: r.rotationId,
      clientId: r.client.clientId,
      secretId: r.secretId,
      mode: RotationMode.SCHEDULED,
      reason: 'quarterly rotation',
      requestedBy: 'alice',
      overlapSeconds: 600,
    });
    expect((await getClient(r.client.clientId)).lock).toEqual({ rotationId: r.rotationId, acquiredAt: iso(START), expiresAt: iso(START + deps.settings.lockTtlSeconds * 1000) });
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT] });

    // createSecret: new version (id = rotation id) AWSPENDING; its hash PENDING in the table.
    clock.advance(1000);
    const created = await r.twice(() => createSecret(deps, context));
    results.push(created);
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT], [r.rotationId]: [Stage.PENDING] });
    expect(await allVersionIds(r.secretId)).toEqual([r.oldVersion, r.rotationId].sort());
    const newValue = (await deps.secrets.readVersion(r.secretId, r.rotationId))!;
    expect(newValue.apiKey).not.toBe(r.oldValue.apiKey);
    expect(created).toEqual({ pendingKeyId: newValue.keyId });
    const newKeyHash = hashApiKey(newValue.apiKey);
    expect(await getKey(newKeyHash)).toEqual<KeyRecord>({
      keyHash: newKeyHash,
      keyId: newValue.keyId,
      clientId: r.client.clientId,
      secretVersionId: r.rotationId,
      rotationId: r.rotationId,
      state: KeyState.PENDING,
      scopes: ['orders:read', 'orders:write'],
      createdAt: iso(START + 1000),
    });
    expect(await getClient(r.client.clientId)).toMatchObject({
      pendingKeyHash: newKeyHash,
      pendingKeyId: newValue.keyId,
      pendingRotationId: r.rotationId,
      currentKeyHash: r.oldKeyHash,
      currentVersionId: r.oldVersion,
    });
    expect((await getKey(r.oldKeyHash)).state).toBe(KeyState.ACTIVE);

    // setSecret: the new key is accepted (ACTIVE), the old one still is; labels unchanged.
    clock.advance(1000);
    const set = await r.twice(() => setSecret(deps, context));
    results.push(set);
    expect(set).toEqual({ activatedKeyId: newValue.keyId });
    expect(await getKey(newKeyHash)).toMatchObject({ state: KeyState.ACTIVE, activatedAt: iso(START + 2000) });
    expect((await getKey(r.oldKeyHash)).state).toBe(KeyState.ACTIVE);
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT], [r.rotationId]: [Stage.PENDING] });

    // testSecret: both keys authenticate; read-only.
    clock.advance(1000);
    const tested = await r.twice(() => testSecret(deps, context));
    results.push(tested);
    expect(tested).toEqual({ pendingKeyId: newValue.keyId, currentKeyId: r.oldKeyId });

    // finishSecret: AWSCURRENT on the rotation's version, AWSPREVIOUS on the old (Secrets Manager
    // moved it), AWSPENDING left on the new version: one write (docs/design.md, "Where the truth lives").
    clock.advance(1000);
    const finishedAt = START + 4000;
    const notAfter = iso(finishedAt + 600 * 1000);
    const finished = await r.twice(() => finishSecret(deps, context));
    results.push(finished);
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING], [r.oldVersion]: [Stage.PREVIOUS] });
    expect(await deps.secrets.readStage(r.secretId, Stage.CURRENT)).toEqual({ versionId: r.rotationId, value: newValue });
    expect(await deps.secrets.readStage(r.secretId, Stage.PREVIOUS)).toEqual({ versionId: r.oldVersion, value: r.oldValue });
    expect(await deps.secrets.readStage(r.secretId, Stage.PENDING)).toEqual({ versionId: r.rotationId, value: newValue });
    expect(await getKey(r.oldKeyHash)).toMatchObject({ state: KeyState.RETIRING, notAfter });
    expect((await getKey(newKeyHash)).state).toBe(KeyState.ACTIVE);
    const afterFinish = await getClient(r.client.clientId);
    expect(afterFinish).toMatchObject({
      currentKeyHash: newKeyHash,
      currentKeyId: newValue.keyId,
      currentVersionId: r.rotationId,
      previousKeyHash: r.oldKeyHash,
      previousKeyId: r.oldKeyId,
      previousVersionId: r.oldVersion,
      lock: { rotationId: r.rotationId },
      lastRotation: { rotationId: r.rotationId, finishedAt: iso(finishedAt), emergency: false, previousKeyId: r.oldKeyId, previousKeyNotAfter: notAfter, revokedKeyIds: [] },
    });
    expect(afterFinish.pendingKeyHash).toBeUndefined();
    expect(afterFinish.pendingKeyId).toBeUndefined();
    expect(afterFinish.pendingRotationId).toBeUndefined();
    expect(finished).toMatchObject({ currentKeyId: newValue.keyId, previousKeyId: r.oldKeyId, previousKeyNotAfter: notAfter, revokedKeyIds: [] });
    expect(finished.notice).toMatchObject({
      eventId: `${r.rotationId}:key.rotated`,
      eventType: 'key.rotated',
      severity: 'info',
      clientId: r.client.clientId,
      currentKeyId: newValue.keyId,
      previousKeyId: r.oldKeyId,
      previousKeyNotAfter: notAfter,
    });
    // Invariant 2: the old key is still accepted during the overlap.
    expect(judgeRecord(await getKey(r.oldKeyHash), clock.nowMs()).accepted).toBe(true);

    // retire before notAfter: OverlapNotElapsed, nothing changes.
    const beforeRetire = await snapshot(deps.tableName, r.secretId);
    clock.advance(600 * 1000 - 1);
    const early = await failure(retireOldKey(deps, context));
    expect(early.name).toBe('OverlapNotElapsed');
    expect(early.message).toContain(notAfter);
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(beforeRetire);
    expect(judgeRecord(await getKey(r.oldKeyHash), clock.nowMs()).accepted).toBe(true);

    // Past notAfter: the old key is REVOKED, AWSPREVIOUS is gone.
    clock.advance(2);
    const retired = await r.twice(() => retireOldKey(deps, context));
    results.push(retired);
    expect(retired).toMatchObject({ retiredKeyId: r.oldKeyId, notice: { eventType: 'key.retired', previousKeyId: r.oldKeyId, currentKeyId: newValue.keyId, revokedKeyIds: [r.oldKeyId] } });
    expect(await getKey(r.oldKeyHash)).toMatchObject({ state: KeyState.REVOKED, revokedAt: iso(clock.nowMs()), notAfter });
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING] });
    const afterRetire = await getClient(r.client.clientId);
    expect(afterRetire).toMatchObject({ currentKeyHash: newKeyHash, currentVersionId: r.rotationId });
    expect(afterRetire.previousKeyHash).toBeUndefined();
    expect(afterRetire.previousKeyId).toBeUndefined();
    expect(afterRetire.previousVersionId).toBeUndefined();

    // One audit entry per action, despite every step having run twice.
    const actions = (await deps.keys.listAudit(r.client.clientId)).map((e) => e.action);
    expect(actions).toEqual(['client.registered', 'rotation.started.scheduled', 'key.created', 'key.activated', 'rotation.finished', 'key.retired']);

    // Invariant 5 over the whole run.
    await expectNoPlaintext(r.secretId, results, 2);
    expect(JSON.stringify(early)).not.toContain(r.oldValue.apiKey);
  });
});

describe('emergency rotation', () => {
  it('revokes the old key at finish, leaves AWSPREVIOUS on its version and says so in a high-severity notice', async () => {
    const r = await prepare(RotationMode.EMERGENCY);
    const { context, newValue, newKeyHash } = await throughSet(r);
    expect(context.overlapSeconds).toBe(0);
    // A stray ACTIVE key of the same client (e.g. left behind by an operator): emergency revokes every other key.
    const stray: KeyRecord = { ...(await getKey(r.oldKeyHash)), keyHash: 'f'.repeat(64), keyId: 'krt_kid_stray00000000000', createdAt: iso(START - 1000) };
    await deps.keys.applyChange({ insertKeys: [stray] });
    await testSecret(deps, context);

    clock.advance(5000);
    const finished = await r.twice(() => finishSecret(deps, context));
    const now = iso(clock.nowMs());

    // One write (the AWSCURRENT move): AWSPREVIOUS stays where Secrets Manager put it, on the
    // version of the key revoked below; AWSPENDING on the new version.
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING], [r.oldVersion]: [Stage.PREVIOUS] });
    expect(await deps.secrets.readStage(r.secretId, Stage.CURRENT)).toEqual({ versionId: r.rotationId, value: newValue });
    const oldKey = await getKey(r.oldKeyHash);
    expect(oldKey).toMatchObject({ state: KeyState.REVOKED, revokedAt: now });
    expect(oldKey.notAfter).toBeUndefined();
    expect(judgeRecord(oldKey, clock.nowMs())).toMatchObject({ accepted: false, reason: 'revoked' });
    expect((await getKey(stray.keyHash)).state).toBe(KeyState.REVOKED);
    expect((await getKey(newKeyHash)).state).toBe(KeyState.ACTIVE);

    const client = await getClient(r.client.clientId);
    expect(client).toMatchObject({ currentKeyHash: newKeyHash, currentVersionId: r.rotationId, lastRotation: { emergency: true, previousKeyId: r.oldKeyId } });
    expect(client.previousKeyHash).toBeUndefined();
    expect(client.previousVersionId).toBeUndefined();
    expect(client.pendingKeyHash).toBeUndefined();

    expect(finished.previousKeyNotAfter).toBeUndefined();
    expect([...finished.revokedKeyIds].sort()).toEqual([r.oldKeyId, stray.keyId].sort());
    expect(finished.notice).toMatchObject({
      eventId: `${r.rotationId}:key.emergency`,
      eventType: 'key.emergency',
      severity: 'high',
      currentKeyId: newValue.keyId,
      previousKeyId: r.oldKeyId,
    });
    expect(finished.notice.summary).toMatch(/emergency/i);
    expect(finished.notice.summary).toContain(r.oldKeyId);
    await expectNoPlaintext(r.secretId, [context, finished], 2);
  });
});

describe('rollback', () => {
  it('after a finished scheduled rotation (a later step failed): nothing is undone, the labels follow the table', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const { context, newKeyHash } = await throughSet(r);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    clock.advance(1000);
    const before = await snapshot(deps.tableName, r.secretId);

    // Going back would hand clients the previous key, which the kill switch may have revoked
    // since: the rollback step never undoes a finished rotation (the operator's rollback does).
    const result = await r.twice(() => rollbackRotation(deps, context, { Error: 'TransientError' }));
    expect(result.notice).toMatchObject({ rolledBack: false, finished: true });
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(before);
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING], [r.oldVersion]: [Stage.PREVIOUS] });
    expect(await getKey(newKeyHash)).toMatchObject({ state: KeyState.ACTIVE });
    expect(await getKey(r.oldKeyHash)).toMatchObject({ state: KeyState.RETIRING });
  });

  it('after a finished emergency rotation: nothing is undone and nothing changes', async () => {
    const r = await prepare(RotationMode.EMERGENCY);
    const { context } = await throughSet(r);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    const before = await snapshot(deps.tableName, r.secretId);
    expect((await rollbackRotation(deps, context)).notice).toMatchObject({ rolledBack: false, finished: true });
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(before);
  });

  it('after create + set: revokes the pending key, removes AWSPENDING, leaves the old key and AWSCURRENT alone; twice is a no-op', async () => {
    const r = await prepare(RotationMode.MANUAL);
    const { context, newKeyHash } = await throughSet(r);
    clock.advance(1000);

    const rolledBack = await r.twice(() => rollbackRotation(deps, context, { Error: 'KeyVerificationFailed', Cause: 'the pending key does not authenticate' }));
    expect(rolledBack).toMatchObject({ error: 'KeyVerificationFailed', cause: 'the pending key does not authenticate', notice: { eventType: 'rotation.failed', rolledBack: true, rotationId: r.rotationId } });

    expect(await getKey(newKeyHash)).toMatchObject({ state: KeyState.REVOKED, revokedAt: iso(clock.nowMs()) });
    expect(await getKey(r.oldKeyHash)).toMatchObject({ state: KeyState.ACTIVE });
    expect((await getKey(r.oldKeyHash)).notAfter).toBeUndefined();
    // AWSCURRENT: same version id, same value; no AWSPENDING, no AWSPREVIOUS.
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT] });
    expect(await deps.secrets.readStage(r.secretId, Stage.CURRENT)).toEqual({ versionId: r.oldVersion, value: r.oldValue });
    const client = await getClient(r.client.clientId);
    expect(client).toMatchObject({ currentKeyHash: r.oldKeyHash, currentKeyId: r.oldKeyId, currentVersionId: r.oldVersion });
    expect(client.pendingKeyHash).toBeUndefined();
    expect(client.pendingRotationId).toBeUndefined();
    expect(client.previousKeyHash).toBeUndefined();
    await expectNoPlaintext(r.secretId, [rolledBack], 2);
  });

  it('when finish had moved AWSCURRENT but not DynamoDB: AWSCURRENT goes back to the old version', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const { context, newKeyHash } = await throughSet(r);
    await testSecret(deps, context);
    // finishSecret crashed right after UpdateSecretVersionStage.
    await deps.secrets.moveStage(r.secretId, Stage.CURRENT, r.rotationId, r.oldVersion);
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING], [r.oldVersion]: [Stage.PREVIOUS] });

    await r.twice(() => rollbackRotation(deps, context, { Error: 'States.Timeout' }));
    // AWSPREVIOUS stays on the version AWSCURRENT left (the table has no previous version).
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT], [r.rotationId]: [Stage.PREVIOUS] });
    expect(await deps.secrets.readStage(r.secretId, Stage.CURRENT)).toEqual({ versionId: r.oldVersion, value: r.oldValue });
    // Clients may already hold the new key: it gets the rotation's overlap as grace, not a revocation.
    expect(await getKey(newKeyHash)).toMatchObject({ state: KeyState.RETIRING, notAfter: new Date(clock.nowMs() + context.overlapSeconds * 1000).toISOString() });
    expect(await verifyApiKey((await deps.secrets.readVersion(r.secretId, r.rotationId))!.apiKey, (h) => deps.keys.getKey(h), clock, deps.settings.keyPrefix)).toMatchObject({ accepted: true });
    expect((await getKey(r.oldKeyHash)).state).toBe(KeyState.ACTIVE);
    const client = await getClient(r.client.clientId);
    expect(client).toMatchObject({ currentKeyHash: r.oldKeyHash, currentVersionId: r.oldVersion });
    expect(client.pendingRotationId).toBeUndefined();
  });

  it('before createSecret recorded anything: only an audit entry, the secret is untouched', async () => {
    const r = await prepare(RotationMode.MANUAL);
    const context = await beginRotation(deps, r.input);
    const before = await labels(r.secretId);
    const result = await r.twice(() => rollbackRotation(deps, context));
    expect(result.error).toBe('RotationFailed');
    expect(await labels(r.secretId)).toEqual(before);
    expect((await deps.keys.listAudit(r.client.clientId)).map((e) => e.action)).toContain('rotation.rolled_back');
  });
});

describe('testSecret', () => {
  it('fails with KeyVerificationFailed when the pending key record is revoked', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const { context, newKeyHash, newValue } = await throughSet(r);
    const key = await getKey(newKeyHash);
    await deps.keys.applyChange({ transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.REVOKED, set: { revokedAt: iso(clock.nowMs()) } }] });

    const error = await failure(testSecret(deps, context));
    expect(error.name).toBe('KeyVerificationFailed');
    expect(error).toMatchObject({ which: 'pending' });
    expect(error.message).toContain('revoked');
    expect(error.message).not.toContain(newValue.apiKey);
  });

  it('fails with KeyVerificationFailed when run before setSecret (the key is still PENDING)', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const context = await beginRotation(deps, r.input);
    await createSecret(deps, context);
    const error = await failure(testSecret(deps, context));
    expect(error.name).toBe('KeyVerificationFailed');
    expect(error.message).toContain('pending');
  });
});

describe('createSecret after a crash between PutSecretValue and the DynamoDB write', () => {
  it('converges: one version for the rotation id, one key item, hashes that agree', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const context = await beginRotation(deps, r.input);
    const tableBefore = await scanTable(deps.tableName);

    const restore = crashAfterCommand('PutSecretValueCommand');
    let crash: Error;
    try {
      crash = await failure(createSecret(deps, context));
    } finally {
      restore();
    }
    expect(crash).toBeInstanceOf(SimulatedCrash);
    // The version exists, the table does not know it yet.
    expect(await labels(r.secretId)).toEqual({ [r.oldVersion]: [Stage.CURRENT], [r.rotationId]: [Stage.PENDING] });
    const stored = (await deps.secrets.readVersion(r.secretId, r.rotationId))!;
    expect(await scanTable(deps.tableName)).toEqual(tableBefore);

    const created = await r.twice(() => createSecret(deps, context));
    expect(created).toEqual({ pendingKeyId: stored.keyId });
    expect(await allVersionIds(r.secretId)).toEqual([r.oldVersion, r.rotationId].sort());
    expect(await deps.secrets.readVersion(r.secretId, r.rotationId)).toEqual(stored);

    const keys = await deps.keys.listClientKeys(r.client.clientId);
    expect(keys).toHaveLength(2);
    const pendingKeys = keys.filter((k) => k.rotationId === r.rotationId);
    expect(pendingKeys).toHaveLength(1);
    expect(pendingKeys[0]).toMatchObject({ keyHash: hashApiKey(stored.apiKey), keyId: stored.keyId, state: KeyState.PENDING, secretVersionId: r.rotationId });
    expect(await getClient(r.client.clientId)).toMatchObject({ pendingKeyHash: hashApiKey(stored.apiKey), pendingRotationId: r.rotationId });

    // The rotation then completes normally with that key.
    await setSecret(deps, context);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    expect((await deps.secrets.readStage(r.secretId, Stage.CURRENT))?.value).toEqual(stored);
    expect((await getClient(r.client.clientId)).currentKeyHash).toBe(hashApiKey(stored.apiKey));
    await expectNoPlaintext(r.secretId, [context, created], 2);
  });
});

describe('finishSecret after a crash right after moving AWSCURRENT', () => {
  it.each([RotationMode.SCHEDULED, RotationMode.EMERGENCY])('%s: the retry converges to the same end state', async (mode) => {
    const r = await prepare(mode);
    const { context, newKeyHash } = await throughSet(r);
    await testSecret(deps, context);

    const restore = crashAfterCommand('UpdateSecretVersionStageCommand');
    try {
      expect(await failure(finishSecret(deps, context))).toBeInstanceOf(SimulatedCrash);
    } finally {
      restore();
    }
    // The label moved, the table did not.
    expect((await getClient(r.client.clientId)).currentVersionId).toBe(r.oldVersion);

    const finished = await r.twice(() => finishSecret(deps, context));
    // Both modes: AWSPREVIOUS where the move put it (in an emergency, on the revoked key's version).
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING], [r.oldVersion]: [Stage.PREVIOUS] });
    const client = await getClient(r.client.clientId);
    expect(client).toMatchObject<Partial<ClientRecord>>({ currentKeyHash: newKeyHash, currentVersionId: r.rotationId });
    expect((await getKey(r.oldKeyHash)).state).toBe(mode === RotationMode.EMERGENCY ? KeyState.REVOKED : KeyState.RETIRING);
    expect(finished.notice.eventType).toBe(mode === RotationMode.EMERGENCY ? 'key.emergency' : 'key.rotated');
  });
});

describe('retireOldKey after a crash right after removing AWSPREVIOUS', () => {
  it('the retry converges: old key REVOKED, no AWSPREVIOUS, previous pointers cleared', async () => {
    const r = await prepare(RotationMode.SCHEDULED, 60);
    const { context } = await throughSet(r);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    clock.advance(61 * 1000);

    const restore = crashAfterCommand('UpdateSecretVersionStageCommand');
    try {
      expect(await failure(retireOldKey(deps, context))).toBeInstanceOf(SimulatedCrash);
    } finally {
      restore();
    }
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING] });
    expect((await getKey(r.oldKeyHash)).state).toBe(KeyState.RETIRING);

    await r.twice(() => retireOldKey(deps, context));
    expect((await getKey(r.oldKeyHash)).state).toBe(KeyState.REVOKED);
    expect((await getClient(r.client.clientId)).previousKeyHash).toBeUndefined();
    expect(await labels(r.secretId)).toEqual({ [r.rotationId]: [Stage.CURRENT, Stage.PENDING] });
  });
});

describe('two rotations in a row', () => {
  it('labels follow the protocol across rotations and only the newest key stays accepted', async () => {
    const r = await prepare(RotationMode.SCHEDULED, 60);
    const runAll = async (rotationId: string) => {
      const context = await beginRotation(deps, { request: r.input.request, rotationId });
      await createSecret(deps, context);
      await setSecret(deps, context);
      await testSecret(deps, context);
      const finished = await finishSecret(deps, context);
      return { context, finished };
    };
    clock.advance(1000); // keys are listed by createdAt: keep the registration's and the first rotation's apart
    const first = await runAll(r.rotationId);
    clock.advance(61 * 1000);
    await retireOldKey(deps, first.context);
    expect(await deps.keys.releaseLock(r.client.clientId, r.rotationId)).toBe(true);

    const secondId = newRotationId();
    const second = await runAll(secondId);
    // The second PutSecretValue took AWSPENDING from the first rotation's version.
    expect(await labels(r.secretId)).toEqual({ [secondId]: [Stage.CURRENT, Stage.PENDING], [r.rotationId]: [Stage.PREVIOUS] });
    expect(second.finished.previousKeyId).toBe(first.finished.currentKeyId);
    clock.advance(61 * 1000);
    await retireOldKey(deps, second.context);
    expect(await labels(r.secretId)).toEqual({ [secondId]: [Stage.CURRENT, Stage.PENDING] });

    const states = (await deps.keys.listClientKeys(r.client.clientId)).map((k) => [k.rotationId, k.state]);
    expect(states).toEqual([
      ['initial', KeyState.REVOKED],
      [r.rotationId, KeyState.REVOKED],
      [secondId, KeyState.ACTIVE],
    ]);
    const current = (await deps.secrets.readStage(r.secretId, Stage.CURRENT))!;
    expect((await getClient(r.client.clientId)).currentKeyHash).toBe(hashApiKey(current.value.apiKey));
    await expectNoPlaintext(r.secretId, [first, second], 3);
  });
});

describe('taking over the lock of an abandoned rotation', () => {
  // Rotation A is abandoned (execution stopped or timed out, so no rollback ran) after
  // finishSecret moved AWSCURRENT onto A's version but before its DynamoDB commit. Once A's
  // lock expires, rotation B must not treat A's key as a stray and revoke it: AWSCURRENT
  // carries it, so clients may hold it (invariants 1 and 2). createSecret refuses instead.
  it('repairs instead of refusing: the key AWSCURRENT carried gets the overlap as grace, the labels go back to the table', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const a = await throughSet(r);
    await testSecret(deps, a.context);
    const restore = crashAfterCommand('UpdateSecretVersionStageCommand');
    try {
      await failure(finishSecret(deps, a.context));
    } finally {
      restore();
    }
    expect(versionCarrying(await labels(r.secretId), Stage.CURRENT)).toBe(r.rotationId);
    expect((await getKey(a.newKeyHash)).state).toBe(KeyState.ACTIVE);

    clock.advance((deps.settings.lockTtlSeconds + 1) * 1000);
    const b = await beginRotation(deps, { request: r.input.request, rotationId: newRotationId() });
    await createSecret(deps, b);
    // Clients may hold the abandoned rotation's key (it was AWSCURRENT): still accepted for the overlap.
    expect(await getKey(a.newKeyHash)).toMatchObject({ state: KeyState.RETIRING, notAfter: new Date(clock.nowMs() + b.overlapSeconds * 1000).toISOString() });
    expect(judgeRecord(await getKey(a.newKeyHash), clock.nowMs())).toMatchObject({ accepted: true });
    const stages = await labels(r.secretId);
    expect(versionCarrying(stages, Stage.CURRENT)).toBe(r.oldVersion);
    expect(versionCarrying(stages, Stage.PENDING)).toBe(b.rotationId);
    // A late PutSecretValue of the abandoned rotation cannot replace its version or take AWSPENDING
    // (Secrets Manager refuses other data under an existing ClientRequestToken, API_PutSecretValue).
    const abandoned = await deps.secrets.readVersion(r.secretId, r.rotationId);
    await expect(deps.secrets.putPending(r.secretId, r.rotationId, { apiKey: 'x', keyId: 'y' })).resolves.toEqual(abandoned);
    expect(versionCarrying(await labels(r.secretId), Stage.PENDING)).toBe(b.rotationId);
  });
});

describe('guards', () => {
  it('the overlap comes from the request, else the client policy, else the default', async () => {
    const withPolicy = await registerTestClient(deps, undefined, { overlapSeconds: 7200 });
    const withoutPolicy = await registerTestClient(deps);
    const begin = (clientId: string, overlapSeconds?: number) => beginRotation(deps, { request: rotationRequest(clientId, RotationMode.MANUAL, { overlapSeconds }), rotationId: newRotationId() });
    expect((await begin(withPolicy.clientId)).overlapSeconds).toBe(7200);
    expect((await begin(withoutPolicy.clientId)).overlapSeconds).toBe(deps.settings.defaultOverlapSeconds);
    const third = await registerTestClient(deps, undefined, { overlapSeconds: 7200 });
    expect((await begin(third.clientId, 900)).overlapSeconds).toBe(900);
  });

  it('a second rotation of the same client is refused with RotationInProgress and changes nothing', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    await beginRotation(deps, r.input);
    const before = await snapshot(deps.tableName, r.secretId);
    const other = newRotationId();
    const error = await failure(beginRotation(deps, { request: r.input.request, rotationId: other }));
    expect(error.name).toBe('RotationInProgress');
    expect(error.message).toContain(r.rotationId);
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(before);
  });

  it.each([
    ['an unknown client', (clientId: string) => ({ request: rotationRequest(`${clientId}-nope`, RotationMode.MANUAL), rotationId: newRotationId() }), 'UnknownClient'],
    ['a negative overlap', (clientId: string) => ({ request: rotationRequest(clientId, RotationMode.MANUAL, { overlapSeconds: -5 }), rotationId: newRotationId() }), 'InvalidRotationInput'],
    ['an emergency with an overlap', (clientId: string) => ({ request: rotationRequest(clientId, RotationMode.EMERGENCY, { overlapSeconds: 600 }), rotationId: newRotationId() }), 'InvalidRotationInput'],
    ['a short rotation id', (clientId: string) => ({ request: rotationRequest(clientId, RotationMode.MANUAL), rotationId: 'short' }), 'InvalidRotationId'],
  ])('beginRotation rejects %s with a named error and changes nothing', async (_label, input, name) => {
    const r = await prepare(RotationMode.MANUAL);
    const before = await snapshot(deps.tableName, r.secretId);
    const error = await failure(beginRotation(deps, input(r.client.clientId)));
    expect(error.name).toBe(name);
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(before);
  });

  it('a step run by a rotation that does not hold the lock is refused', async () => {
    const r = await prepare(RotationMode.SCHEDULED);
    const context = await beginRotation(deps, r.input);
    const before = await snapshot(deps.tableName, r.secretId);
    const intruder = { ...context, rotationId: newRotationId() };
    for (const step of [createSecret, setSecret, testSecret, finishSecret, retireOldKey]) {
      expect((await failure(step(deps, intruder))).name).toBe('RotationStateConflict');
    }
    expect(await snapshot(deps.tableName, r.secretId)).toEqual(before);
  });
});
