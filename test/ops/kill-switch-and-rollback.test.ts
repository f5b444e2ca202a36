/**
 * The kill switch (revoke one key by id) and the rollback of the last rotation during its
 * overlap, over moto: state changes, what the verifier accepts (and when, given its cache),
 * audit entries with actor and reason, notices, refusals that change nothing, and re-runs.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { rollbackLastRotation, onboardClient, revokeKey } from '../../operator/ops';
import { beginRotation, checkUsage, createSecret, finishSecret, retireOldKey, setSecret, testSecret } from '../support/judged-steps';
import type { ClientWithPending, RotationContext } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { newRotationId, scanTable } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { labels, rotationRequest, snapshot } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
});

const OVERLAP_SECONDS = 3600;
const ZOMBIE_WINDOW_MS = (DEFAULT_ZOMBIE_WINDOW_SECONDS + 1) * 1000;
const actor = { requestedBy: 'sec-oncall', reason: 'INC-4711 key seen in a paste' };

/** A client whose rotation has finished and waits in its overlap (its execution RUNNING in moto). */
async function inOverlap(mode: RotationMode = RotationMode.MANUAL) {
  const { client: registered } = await onboardClient(w.ops, onboarding());
  const rotationId = newRotationId();
  await w.startExecution(rotationId, registered.clientId, mode);
  const context = await beginRotation(w.steps, {
    request: rotationRequest(registered.clientId, mode, mode === RotationMode.EMERGENCY ? {} : { overlapSeconds: OVERLAP_SECONDS }),
    rotationId,
  });
  await createSecret(w.steps, context);
  await setSecret(w.steps, context);
  await testSecret(w.steps, context);
  await finishSecret(w.steps, context);
  const firstKey = (await w.ops.secrets.readVersion(registered.secretId, registered.currentVersionId))!.apiKey;
  const secondKey = (await w.ops.secrets.readVersion(registered.secretId, rotationId))!.apiKey;
  const after = (await w.ops.keys.requireClient(registered.clientId)) as ClientWithPending;
  // A rollback waits out the zombie window after the finish (a duplicate finishSecret may still run).
  w.clock.advance(ZOMBIE_WINDOW_MS);
  return { registered, context, firstKey, secondKey, first: registered.currentKeyId, second: after.currentKeyId };
}

function cachedVerifier(): KeyVerifier {
  return new KeyVerifier({ lookup: (hash) => w.ops.keys.getKey(hash), clock: w.clock, keyPrefix: w.outputs.KeyPrefix, cacheTtlMs: 10_000 });
}

describe('revokeKey (kill switch)', () => {
  it('revokes the previous key during the overlap; a verifier with a 10 s cache rejects it once 10 s have passed, not before', async () => {
    const r = await inOverlap();
    const verifier = cachedVerifier();
    expect(await verifier.verify(r.firstKey)).toMatchObject({ accepted: true, principal: { keyRole: 'previous' } });

    w.clock.advance(1000);
    const result = await revokeKey(w.ops, { clientId: r.registered.clientId, keyId: r.first, ...actor });
    expect(result).toEqual({ clientId: r.registered.clientId, keyId: r.first, outcome: 'revoked', wasCurrent: false, previousState: KeyState.RETIRING });
    expect(await w.ops.keys.getKey(hashApiKey(r.firstKey))).toMatchObject({ state: KeyState.REVOKED, revokedAt: new Date(w.clock.nowMs()).toISOString() });

    // The cached record (read at t=0) is still served until t=10 s; from then on the key is refused.
    w.clock.advance(8_999);
    expect(await verifier.verify(r.firstKey)).toMatchObject({ accepted: true });
    w.clock.advance(1);
    expect(await verifier.verify(r.firstKey)).toMatchObject({ accepted: false, reason: 'revoked', keyId: r.first });
    expect(await verifier.verify(r.secondKey)).toMatchObject({ accepted: true });

    const entry = (await w.ops.keys.listAudit(r.registered.clientId)).find((e) => e.action === 'key.revoked' && e.keyId === r.first && !e.rotationId);
    expect(entry).toMatchObject({ actor: 'sec-oncall', reason: 'INC-4711 key seen in a paste', detail: 'kill switch (was RETIRING)' });
    const notices = (await w.clientTopic.drain()).map((m) => ({ attributes: m.attributes, notice: JSON.parse(m.message) as Record<string, unknown> }));
    expect(notices).toEqual([
      {
        attributes: { clientId: r.registered.clientId, eventType: 'key.emergency' },
        notice: expect.objectContaining({ incident: 'key.revoked', severity: 'high', revokedKeyIds: [r.first], currentKeyId: r.second }),
      },
    ]);

    // The rotation still completes: retirement finds the key already revoked.
    w.clock.advance(OVERLAP_SECONDS * 1000);
    expect(await checkUsage(w.steps, r.context)).toMatchObject({ decision: 'retire' });
    await retireOldKey(w.steps, r.context);
    expect(await labels(r.registered.secretId)).toEqual({ [r.context.rotationId]: [Stage.CURRENT, Stage.PENDING] });
  });

  it('is idempotent: a re-run reports already-revoked and writes nothing', async () => {
    const r = await inOverlap();
    await revokeKey(w.ops, { clientId: r.registered.clientId, keyId: r.first, ...actor });
    const items = await scanTable(w.outputs.TableName);
    w.clock.advance(5000);
    expect(await revokeKey(w.ops, { clientId: r.registered.clientId, keyId: r.first, ...actor })).toMatchObject({ outcome: 'already-revoked' });
    expect(await scanTable(w.outputs.TableName)).toEqual(items);
  });

  it('refuses the current key unless forced; forced, the client is locked out until an emergency rotation', async () => {
    const { client: registered } = await onboardClient(w.ops, onboarding());
    const key = (await w.ops.secrets.readStage(registered.secretId, Stage.CURRENT))!.value.apiKey;
    const before = await snapshot(w.outputs.TableName, registered.secretId);
    const refused = await failure(revokeKey(w.ops, { clientId: registered.clientId, keyId: registered.currentKeyId, ...actor }));
    expect(refused).toMatchObject({ name: 'CurrentKeyRevocationRefused', keyId: registered.currentKeyId });
    expect(refused.message).toContain('emergency rotation');
    expect(await snapshot(w.outputs.TableName, registered.secretId)).toEqual(before);

    const forced = await revokeKey(w.ops, { clientId: registered.clientId, keyId: registered.currentKeyId, force: true, ...actor });
    expect(forced).toMatchObject({ outcome: 'revoked', wasCurrent: true });
    expect((await w.ops.keys.listAudit(registered.clientId)).map((e) => e.action)).toContain('key.revoked.forced');
    const verifier = cachedVerifier();
    expect(await verifier.verify(key)).toMatchObject({ accepted: false, reason: 'revoked' });
    const [notice] = (await w.clientTopic.drain()).map((m) => JSON.parse(m.message) as Record<string, unknown>);
    expect(notice).toMatchObject({ incident: 'key.revoked', revokedKeyIds: [registered.currentKeyId] });
    expect(notice.currentKeyId).toBeUndefined();

    // The way out: an emergency rotation (testSecret does not require the revoked current key).
    const context = await beginRotation(w.steps, { request: rotationRequest(registered.clientId, RotationMode.EMERGENCY), rotationId: newRotationId() });
    await createSecret(w.steps, context);
    await setSecret(w.steps, context);
    await testSecret(w.steps, context);
    await finishSecret(w.steps, context);
    const newKey = (await w.ops.secrets.readStage(registered.secretId, Stage.CURRENT))!.value.apiKey;
    expect(await verifier.verify(newKey)).toMatchObject({ accepted: true });
  });

  it("finds nothing for an unknown key id or another client's key, and never takes a key for a key id", async () => {
    const r = await inOverlap();
    const { client: other } = await onboardClient(w.ops, onboarding());
    expect(await failure(revokeKey(w.ops, { clientId: r.registered.clientId, keyId: 'krt_kid_0000000000000000', ...actor }))).toMatchObject({ name: 'UnknownKey' });
    expect(await failure(revokeKey(w.ops, { clientId: r.registered.clientId, keyId: other.currentKeyId, ...actor }))).toMatchObject({ name: 'UnknownKey' });
    expect(await failure(revokeKey(w.ops, { clientId: 'nobody', keyId: r.first, ...actor }))).toMatchObject({ name: 'UnknownClient' });
    const pasted = await failure(revokeKey(w.ops, { clientId: r.registered.clientId, keyId: r.firstKey, ...actor }));
    expect(pasted).toMatchObject({ name: 'InvalidOperationInput', issues: ['keyId: must be a key id (<prefix>_kid_<16 hex>), never the key itself'] });
    expect(pasted.message).not.toContain(r.firstKey);
    expect((await w.ops.keys.getKey(hashApiKey(r.firstKey)))?.state).toBe(KeyState.RETIRING);
  });
});

describe('rollbackLastRotation', () => {
  it('makes the previous key current again, revokes the new one, stops the execution and releases the lock', async () => {
    const r = await inOverlap();
    w.clock.advance(60_000);
    const result = await rollbackLastRotation(w.ops, { clientId: r.registered.clientId, rotationId: r.context.rotationId, ...actor });

    expect(result).toEqual({ clientId: r.registered.clientId, rotationId: r.context.rotationId, outcome: 'rolled-back', execution: 'stopped', currentKeyId: r.first });
    expect(await w.executionStatus(r.context.rotationId)).toBe('ABORTED');
    // AWSPREVIOUS on the version AWSCURRENT left, whose key is revoked below.
    expect(await labels(r.registered.secretId)).toEqual({ [r.registered.currentVersionId]: [Stage.CURRENT], [r.context.rotationId]: [Stage.PREVIOUS] });
    const previous = await w.ops.keys.getKey(hashApiKey(r.firstKey));
    expect(previous?.state).toBe(KeyState.ACTIVE);
    expect(previous?.notAfter).toBeUndefined();
    expect((await w.ops.keys.getKey(hashApiKey(r.secondKey)))?.state).toBe(KeyState.REVOKED);
    const client = (await w.ops.keys.requireClient(r.registered.clientId)) as ClientWithPending;
    expect(client).toMatchObject({ currentKeyId: r.first, currentVersionId: r.registered.currentVersionId });
    expect(client.lock).toBeUndefined();
    expect(client.previousKeyHash).toBeUndefined();
    await expectConsistent(w.steps, r.registered.clientId);

    const verifier = cachedVerifier();
    expect(await verifier.verify(r.firstKey)).toMatchObject({ accepted: true, principal: { keyRole: 'current' } });
    expect(await verifier.verify(r.secondKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    const audit = (await w.ops.keys.listAudit(r.registered.clientId)).filter((e) => e.rotationId === r.context.rotationId);
    expect(audit.find((e) => e.action === 'rotation.rolled_back')).toMatchObject({ actor: 'sec-oncall', reason: 'INC-4711 key seen in a paste' });
    expect(audit.find((e) => e.action === 'key.revoked')).toMatchObject({ keyId: r.second });
    const [notice] = (await w.clientTopic.drain()).map((m) => JSON.parse(m.message) as Record<string, unknown>);
    expect(notice).toMatchObject({ eventType: 'key.emergency', incident: 'rotation.rolled_back', currentKeyId: r.first, revokedKeyIds: [r.second], severity: 'high' });

    // A re-run converges; the stopped rotation can no longer retire anything; a new rotation may start.
    const items = await scanTable(w.outputs.TableName);
    expect(await rollbackLastRotation(w.ops, { clientId: r.registered.clientId, ...actor })).toMatchObject({ outcome: 'already-rolled-back', currentKeyId: r.first });
    expect(await scanTable(w.outputs.TableName)).toEqual(items);
    expect((await failure(retireOldKey(w.steps, r.context))).name).toBe('RotationStateConflict');
    await beginRotation(w.steps, { request: rotationRequest(r.registered.clientId, RotationMode.MANUAL), rotationId: newRotationId() });
  });

  it('works when the execution already let go of the lock (a late step failed), holding the lock itself meanwhile', async () => {
    const r = await inOverlap();
    await w.ops.keys.releaseLock(r.registered.clientId, r.context.rotationId);
    const result = await rollbackLastRotation(w.ops, { clientId: r.registered.clientId, ...actor });
    expect(result.outcome).toBe('rolled-back');
    expect((await w.ops.keys.requireClient(r.registered.clientId)).lock).toBeUndefined();
    await expectConsistent(w.steps, r.registered.clientId);
  });

  interface Refusal {
    name: string;
    setUp: (r: Awaited<ReturnType<typeof inOverlap>>) => Promise<Record<string, unknown> | void>;
    error: string;
    why?: RegExp;
  }
  const refusals: Refusal[] = [
    { name: 'another rotation id than the last', setUp: async () => ({ rotationId: newRotationId() }), error: 'RollbackNotPossible', why: /the last finished rotation is/ },
    {
      name: 'an overlap that ends within a minute',
      setUp: async () => {
        w.clock.advance(OVERLAP_SECONDS * 1000 - 59_000);
      },
      error: 'RollbackNotPossible',
      why: /too soon/,
    },
    {
      name: 'a previous key already revoked by the kill switch',
      setUp: async (r) => {
        await revokeKey(w.ops, { clientId: r.registered.clientId, keyId: r.first, ...actor });
      },
      error: 'RollbackNotPossible',
      why: /is REVOKED/,
    },
    {
      name: 'a retired previous key',
      setUp: async (r) => {
        w.clock.advance(OVERLAP_SECONDS * 1000);
        await retireOldKey(w.steps, r.context);
      },
      error: 'RollbackNotPossible',
      why: /overlap is over/,
    },
  ];

  it.each(refusals)('refuses $name and changes nothing', async ({ setUp, error, why }) => {
    const r = await inOverlap();
    const extra = (await setUp(r)) ?? {};
    const before = await snapshot(w.outputs.TableName, r.registered.secretId);
    const refused = await failure(rollbackLastRotation(w.ops, { clientId: r.registered.clientId, ...actor, ...extra }));
    expect(refused.name).toBe(error);
    if (why) expect(refused.message).toMatch(why);
    expect(await snapshot(w.outputs.TableName, r.registered.secretId)).toEqual(before);
  });

  it('refuses an emergency rotation, a client that never rotated, and a lock held by another rotation', async () => {
    const emergency = await inOverlap(RotationMode.EMERGENCY);
    expect(await failure(rollbackLastRotation(w.ops, { clientId: emergency.registered.clientId, ...actor }))).toMatchObject({ name: 'RollbackNotPossible', why: expect.stringContaining('emergency') });

    const { client: fresh } = await onboardClient(w.ops, onboarding());
    expect(await failure(rollbackLastRotation(w.ops, { clientId: fresh.clientId, ...actor }))).toMatchObject({ name: 'RollbackNotPossible', why: 'no rotation has finished yet' });

    const r = await inOverlap();
    await w.ops.keys.releaseLock(r.registered.clientId, r.context.rotationId);
    const next: RotationContext = await beginRotation(w.steps, { request: rotationRequest(r.registered.clientId, RotationMode.MANUAL), rotationId: newRotationId() });
    const before = await snapshot(w.outputs.TableName, r.registered.secretId);
    expect(await failure(rollbackLastRotation(w.ops, { clientId: r.registered.clientId, ...actor }))).toMatchObject({ name: 'RotationInProgress', heldBy: next.rotationId });
    expect(await snapshot(w.outputs.TableName, r.registered.secretId)).toEqual(before);
    expect(await w.executionStatus(r.context.rotationId)).toBe('RUNNING');
  });
});
