/**
 * Incident response in the rotation steps, against moto: an emergency rotation preempts the
 * rotation that holds the client's lock (before and after that one's finishSecret), and
 * revokeImmediately revokes every existing key at createSecret. The steps are driven directly;
 * the held rotation's execution is a moto execution, so StopExecution really happens.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { verifyApiKey } from '../../lambdas/core/verification';
import { beginRotation, createSecret, finishSecret, rollbackRotation, setSecret, testSecret } from '../support/judged-steps';
import type { ClientWithPending, RotationContext } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { onboardClient, startRotation } from '../../operator/ops';
import { newRotationId, scanTable } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { labels, leakedKeys, rotationRequest, snapshot } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
});

const client = async (id: string) => (await w.ops.keys.requireClient(id)) as ClientWithPending;
const keyOf = async (secretId: string, versionId: string) => (await w.ops.secrets.readVersion(secretId, versionId))!.apiKey;
const verdict = (apiKey: string) => verifyApiKey(apiKey, (hash) => w.ops.keys.getKey(hash), w.clock, w.outputs.KeyPrefix);

/** A client and a scheduled rotation of it, running in moto, brought as far as `until`. */
async function rotationInFlight(until: 'begin' | 'set' | 'finish') {
  const { client: registered } = await onboardClient(w.ops, onboarding());
  const rotationId = newRotationId();
  await w.startExecution(rotationId, registered.clientId);
  const context = await beginRotation(w.steps, { request: rotationRequest(registered.clientId, RotationMode.SCHEDULED), rotationId });
  if (until !== 'begin') {
    await createSecret(w.steps, context);
    await setSecret(w.steps, context);
  }
  if (until === 'finish') {
    await testSecret(w.steps, context);
    await finishSecret(w.steps, context);
  }
  return { registered, held: context, firstKey: await keyOf(registered.secretId, registered.currentVersionId) };
}

/** The emergency rotation's remaining steps. */
async function finishEmergency(context: RotationContext) {
  await createSecret(w.steps, context);
  await setSecret(w.steps, context);
  await testSecret(w.steps, context);
  return finishSecret(w.steps, context);
}

const emergencyInput = (clientId: string, extra: Record<string, unknown> = {}) => ({
  request: { ...rotationRequest(clientId, RotationMode.EMERGENCY, { requestedBy: 'sec-oncall', reason: 'key leaked in a public repo' }), ...extra },
  rotationId: newRotationId(),
});

describe('emergency preemption of a rotation before its finishSecret', () => {
  it('takes the lock, stops the execution, undoes the held rotation, and finishes with the preemption in the notice', async () => {
    const { registered, held, firstKey } = await rotationInFlight('set');
    const heldKey = await keyOf(registered.secretId, held.rotationId);
    expect(await labels(registered.secretId)).toEqual({ [registered.currentVersionId]: [Stage.CURRENT], [held.rotationId]: [Stage.PENDING] });
    w.clock.advance(1000);

    const input = emergencyInput(registered.clientId);
    const context = await beginRotation(w.steps, input);

    expect(context).toMatchObject({ rotationId: input.rotationId, mode: 'emergency', overlapSeconds: 0 });
    expect(await w.executionStatus(held.rotationId)).toBe('ABORTED');
    const locked = await client(registered.clientId);
    expect(locked.lock).toMatchObject({ rotationId: input.rotationId, preemptedRotationId: held.rotationId });
    expect(locked.pendingRotationId).toBeUndefined();
    // The held rotation's key was never current: revoked; AWSPENDING gone; AWSCURRENT untouched.
    expect(await verdict(heldKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await labels(registered.secretId)).toEqual({ [registered.currentVersionId]: [Stage.CURRENT] });
    expect(await verdict(firstKey)).toMatchObject({ accepted: true });
    const audit = await w.ops.keys.listAudit(registered.clientId);
    expect(audit.find((e) => e.action === 'rotation.preempted')).toMatchObject({
      actor: 'sec-oncall',
      reason: 'key leaked in a public repo',
      rotationId: input.rotationId,
      detail: `stopped rotation ${held.rotationId}`,
    });
    expect(audit.find((e) => e.action === 'rotation.rolled_back')).toMatchObject({ rotationId: held.rotationId, actor: 'sec-oncall' });

    // The stopped rotation's steps can no longer write.
    expect((await failure(testSecret(w.steps, held))).name).toBe('RotationStateConflict');

    const finished = await finishEmergency(context);
    expect(finished.notice).toMatchObject({ eventType: 'key.emergency', severity: 'high', preemptedRotationId: held.rotationId, revokedKeyIds: [registered.currentKeyId] });
    expect(finished.notice.summary).toContain(`The rotation ${held.rotationId} that was in progress was stopped`);
    expect(await verdict(firstKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    await expectConsistent(w.steps, registered.clientId, { rotationInFlight: true });
  });

  it('a retry of beginRotation after the takeover converges (the clean-up runs again, harmlessly)', async () => {
    const { registered } = await rotationInFlight('set');
    const input = emergencyInput(registered.clientId);
    const first = await beginRotation(w.steps, input);
    const after = await snapshot(w.outputs.TableName, registered.secretId);
    const second = await beginRotation(w.steps, input);
    expect(second).toEqual(first);
    expect(await snapshot(w.outputs.TableName, registered.secretId)).toEqual(after);
  });

  it('wins over a rotation whose own rollback already ran (lock not yet released): both undo entries stay, each as written', async () => {
    const { registered, held } = await rotationInFlight('set');
    // The held rotation failed and its rollback step undid it; the lock is released by a later state.
    await rollbackRotation(w.steps, held, { Error: 'TransientError' });
    expect((await client(registered.clientId)).lock?.rotationId).toBe(held.rotationId);
    w.clock.advance(1000);

    // Audit entries are append-only: the emergency's clean-up writes its own entries, under its own key.
    const input = emergencyInput(registered.clientId);
    const context = await beginRotation(w.steps, input);
    const undone = (await w.ops.keys.listAudit(registered.clientId)).filter((e) => e.rotationId === held.rotationId && e.action === 'rotation.rolled_back');
    expect(undone).toEqual([
      expect.objectContaining({ actor: held.requestedBy, reason: held.reason }),
      expect.objectContaining({ actor: 'sec-oncall', reason: 'key leaked in a public repo', sequence: input.rotationId }),
    ]);
    await finishEmergency(context);
    await expectConsistent(w.steps, registered.clientId, { rotationInFlight: true });
  });

  it('restores AWSCURRENT when the held rotation had moved it but not the table (stopped inside finishSecret)', async () => {
    const { registered, held } = await rotationInFlight('set');
    await testSecret(w.steps, held);
    await w.ops.secrets.moveStage(registered.secretId, Stage.CURRENT, held.rotationId, registered.currentVersionId);

    await beginRotation(w.steps, emergencyInput(registered.clientId));

    // AWSPREVIOUS stays on the version AWSCURRENT left, whose pending key the takeover revoked.
    expect(await labels(registered.secretId)).toEqual({ [registered.currentVersionId]: [Stage.CURRENT], [held.rotationId]: [Stage.PREVIOUS] });
    await expectConsistent(w.steps, registered.clientId, { rotationInFlight: true });
  });
});

describe('emergency preemption of a rotation in its overlap (past finishSecret)', () => {
  it('only stops it and takes the lock; the emergency then revokes both older keys', async () => {
    const { registered, held, firstKey } = await rotationInFlight('finish');
    const secondKey = await keyOf(registered.secretId, held.rotationId);
    expect((await w.ops.keys.getKey(hashApiKey(firstKey)))?.state).toBe(KeyState.RETIRING);

    const context = await beginRotation(w.steps, emergencyInput(registered.clientId));
    expect(await w.executionStatus(held.rotationId)).toBe('ABORTED');
    // Nothing undone: the rotation's key stays current, the previous key stays in its overlap.
    expect(await labels(registered.secretId)).toEqual({ [held.rotationId]: [Stage.CURRENT, Stage.PENDING], [registered.currentVersionId]: [Stage.PREVIOUS] });
    expect(await verdict(secondKey)).toMatchObject({ accepted: true });
    expect(await verdict(firstKey)).toMatchObject({ accepted: true });
    expect((await w.ops.keys.listAudit(registered.clientId)).map((e) => e.action)).not.toContain('rotation.rolled_back');

    const finished = await finishEmergency(context);
    expect(finished.revokedKeyIds).toHaveLength(2);
    expect(await verdict(firstKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await verdict(secondKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    // AWSCURRENT (and AWSPENDING) on the emergency's version; AWSPREVIOUS on the version it left, whose key is revoked.
    expect(await labels(registered.secretId)).toEqual({ [context.rotationId]: [Stage.CURRENT, Stage.PENDING], [held.rotationId]: [Stage.PREVIOUS] });
    await expectConsistent(w.steps, registered.clientId, { rotationInFlight: true });
  });
});

describe('what is not preempted', () => {
  it.each([RotationMode.MANUAL, RotationMode.SCHEDULED])('a %s rotation gets RotationInProgress and changes nothing', async (mode) => {
    const { registered, held } = await rotationInFlight('set');
    const before = await snapshot(w.outputs.TableName, registered.secretId);
    const error = await failure(beginRotation(w.steps, { request: rotationRequest(registered.clientId, mode), rotationId: newRotationId() }));
    expect(error).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(await snapshot(w.outputs.TableName, registered.secretId)).toEqual(before);
    expect(await w.executionStatus(held.rotationId)).toBe('RUNNING');
  });

  it('without a state machine to stop executions of, an emergency gets RotationInProgress too', async () => {
    const { registered, held } = await rotationInFlight('begin');
    const { executions: _none, ...withoutExecutions } = w.steps;
    const error = await failure(beginRotation(withoutExecutions, emergencyInput(registered.clientId)));
    expect(error).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(await w.executionStatus(held.rotationId)).toBe('RUNNING');
  });

  it('a held lock whose execution no longer exists (a stale lock) is taken over all the same', async () => {
    const { client: registered } = await onboardClient(w.ops, onboarding());
    const ghost = newRotationId();
    await beginRotation(w.steps, { request: rotationRequest(registered.clientId, RotationMode.MANUAL), rotationId: ghost });
    const context = await beginRotation(w.steps, emergencyInput(registered.clientId));
    expect((await client(registered.clientId)).lock).toMatchObject({ rotationId: context.rotationId, preemptedRotationId: ghost });
  });
});

describe('revokeImmediately', () => {
  it('revokes every existing key at createSecret, before the new key is current, and says so', async () => {
    const { registered, held, firstKey } = await rotationInFlight('finish');
    const secondKey = await keyOf(registered.secretId, held.rotationId);
    const input = emergencyInput(registered.clientId, { revokeImmediately: true });
    const context = await beginRotation(w.steps, input);
    expect(context.revokeImmediately).toBe(true);

    await createSecret(w.steps, context);
    // Both old keys are rejected now, while AWSCURRENT still carries the (revoked) second key.
    expect(await verdict(firstKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await verdict(secondKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect((await w.ops.secrets.readStage(registered.secretId, Stage.CURRENT))?.versionId).toBe(held.rotationId);
    const afterCreate = await client(registered.clientId);
    expect([...(afterCreate.immediatelyRevokedKeyIds ?? [])].sort()).toEqual([registered.currentKeyId, (await w.ops.keys.getKey(hashApiKey(secondKey)))!.keyId].sort());
    // createSecret is still idempotent.
    const snap = await snapshot(w.outputs.TableName, registered.secretId);
    await createSecret(w.steps, context);
    expect(await snapshot(w.outputs.TableName, registered.secretId)).toEqual(snap);

    await setSecret(w.steps, context);
    // testSecret proves only the new key: the current one is revoked on purpose.
    await testSecret(w.steps, context);
    const finished = await finishSecret(w.steps, context);
    const newKey = await keyOf(registered.secretId, input.rotationId);
    expect(await verdict(newKey)).toMatchObject({ accepted: true });
    expect(finished.notice).toMatchObject({ eventType: 'key.emergency', severity: 'high', revokedImmediately: true, preemptedRotationId: held.rotationId });
    expect([...(finished.notice.revokedKeyIds ?? [])].sort()).toEqual([...(afterCreate.immediatelyRevokedKeyIds ?? [])].sort());
    expect(finished.notice.summary).toContain('revoked immediately, before the new key was issued');
    expect((await client(registered.clientId)).lastRotation).toMatchObject({ revokedImmediately: true, emergency: true });
    const audit = await w.ops.keys.listAudit(registered.clientId);
    expect(audit.filter((e) => e.action === 'key.revoked' && e.rotationId === input.rotationId)).toHaveLength(2);
    await expectConsistent(w.steps, registered.clientId, { rotationInFlight: true });
    expect(leakedKeys(await scanTable(w.outputs.TableName), [firstKey, secondKey, newKey])).toEqual([]);
  });

  it('is refused outside emergency mode, by the state machine input and by the operator API', async () => {
    const { client: registered } = await onboardClient(w.ops, onboarding());
    const request = { ...rotationRequest(registered.clientId, RotationMode.MANUAL), revokeImmediately: true };
    const error = await failure(beginRotation(w.steps, { request, rotationId: newRotationId() }));
    expect(error).toMatchObject({ name: 'InvalidRotationInput', issues: ['revokeImmediately: only an emergency rotation may revoke every key at once'] });
    expect((await failure(startRotation(w.ops, request))).name).toBe('InvalidRotationInput');
    expect(await w.executionNames()).toEqual([]);
  });

  it('startRotation starts an emergency with revokeImmediately as one execution, de-duplicated by rotation id', async () => {
    const { client: registered } = await onboardClient(w.ops, onboarding());
    const request = { ...rotationRequest(registered.clientId, RotationMode.EMERGENCY), revokeImmediately: true, rotationId: newRotationId() };
    const started = await startRotation(w.ops, request);
    expect(started).toMatchObject({ rotationId: request.rotationId, started: true });
    expect((await startRotation(w.ops, request)).rotationId).toBe(request.rotationId);
    expect(await w.executionNames()).toEqual([request.rotationId]);
    const generated = await startRotation(w.ops, rotationRequest(registered.clientId, RotationMode.MANUAL));
    expect(generated.rotationId).toMatch(/^manual-[0-9a-f-]{36}$/);
  });
});
