/**
 * Orphaned locks against moto's Step Functions (issue 15 item 4): RotationExecutions.describe,
 * the operator's unlockClient (refused while the holder runs or ended within the zombie window,
 * otherwise clean-up and a conditional, audited release), and a rotation taking an orphaned
 * lock over by itself. moto stamps stopDate with the wall clock, so each test first moves the
 * manual clock to the real time.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { onboardClient, unlockClient } from '../../operator/ops';
import { beginRotation, createSecret, setSecret } from '../support/judged-steps';
import type { ClientWithPending } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { newRotationId } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { labels, rotationRequest, snapshot } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

const WINDOW_MS = DEFAULT_ZOMBIE_WINDOW_SECONDS * 1000;
const operator = { requestedBy: 'ops-oncall', reason: 'INC-5150 state machine replaced, stale lock' };

beforeEach(async () => {
  w = await makeOpsWorld();
  // moto's stopDate is the wall clock: the decisions compare it with this clock.
  w.clock.advance(Date.now() - w.clock.nowMs());
});

const clientOf = async (clientId: string) => (await w.ops.keys.requireClient(clientId)) as ClientWithPending;

/**
 * Moves the clock past the zombie window counted from the stopped execution's stopDate. moto
 * stamps stopDate with the wall clock, which under load runs ahead of this manual clock by
 * seconds: a fixed advance from the clock would land inside the window.
 */
async function passZombieWindowOf(rotationId: string): Promise<void> {
  const { stopDate } = await w.ops.executions.describe(rotationId);
  const quietAt = Date.parse(stopDate!) + WINDOW_MS;
  w.clock.advance(Math.max(0, quietAt - w.clock.nowMs()) + 1000);
}

/** A client whose scheduled rotation took the lock and got through setSecret; its execution RUNNING in moto (unless `noExecution`). */
async function heldRotation(options: { noExecution?: boolean } = {}) {
  const { client } = await onboardClient(w.ops, onboarding());
  const rotationId = newRotationId();
  if (!options.noExecution) await w.startExecution(rotationId, client.clientId);
  const held = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
  await createSecret(w.steps, held);
  await setSecret(w.steps, held);
  const pendingKeyHash = (await clientOf(client.clientId)).pendingKeyHash!;
  return { client, held, pendingKeyHash };
}

describe('RotationExecutions.describe', () => {
  it('reports RUNNING, then ABORTED with its stopDate once stopped, and not-found for a name never started', async () => {
    const { held } = await heldRotation();
    expect(await w.ops.executions.describe(held.rotationId)).toEqual({ status: 'RUNNING' });
    const before = Date.now();
    await w.ops.executions.stop(held.rotationId, { error: 'Test', cause: 'test' });
    const stopped = await w.ops.executions.describe(held.rotationId);
    expect(stopped).toEqual({ status: 'ABORTED', stopDate: expect.any(String) });
    expect(Math.abs(Date.parse(stopped.stopDate!) - before)).toBeLessThan(10_000);
    expect(await w.ops.executions.describe(newRotationId())).toEqual({ status: 'not-found' });
  });
});

describe('unlockClient', () => {
  it('refuses while the holder runs, and within the zombie window after it stopped (saying when); nothing changes', async () => {
    const { client, held } = await heldRotation();
    const before = await snapshot(w.steps.tableName, client.secretId);
    const running = await failure(unlockClient(w.ops, { clientId: client.clientId, ...operator }));
    expect(running).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(running.message).toContain('Its execution is RUNNING.');

    await w.ops.executions.stop(held.rotationId, { error: 'KeyRoll.Test', cause: 'test' });
    const { stopDate } = await w.ops.executions.describe(held.rotationId);
    const justEnded = await failure(unlockClient(w.ops, { clientId: client.clientId, ...operator }));
    expect(justEnded).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(justEnded.message).toContain(`Its execution ended ABORTED at ${stopDate}; retry after ${new Date(Date.parse(stopDate!) + WINDOW_MS).toISOString()}`);
    expect(await snapshot(w.steps.tableName, client.secretId)).toEqual(before);
  });

  it('once the window has passed: undoes what the holder left, releases the lock conditionally, audits actor and reason; a re-run is a no-op', async () => {
    const { client, held, pendingKeyHash } = await heldRotation();
    await w.ops.executions.stop(held.rotationId, { error: 'KeyRoll.Test', cause: 'test' });
    await passZombieWindowOf(held.rotationId);

    const result = await unlockClient(w.ops, { clientId: client.clientId, ...operator });
    expect(result).toMatchObject({
      clientId: client.clientId,
      outcome: 'released',
      releasedRotationId: held.rotationId,
      holderStatus: 'ABORTED',
      cleanUp: { stoppedRotationId: held.rotationId, undone: true },
    });
    const after = await clientOf(client.clientId);
    expect(after.lock).toBeUndefined();
    expect(after.pendingRotationId).toBeUndefined();
    expect((await w.ops.keys.getKey(pendingKeyHash))?.state).toBe(KeyState.REVOKED);
    expect(await labels(client.secretId)).toEqual({ [client.currentVersionId]: [Stage.CURRENT] });
    await expectConsistent(w.steps, client.clientId);
    const audit = await w.ops.keys.auditOfRotation(client.clientId, held.rotationId);
    expect(audit.find((e) => e.action === 'lock.released_by_operator')).toMatchObject({ actor: operator.requestedBy, reason: operator.reason, detail: expect.stringContaining('its execution ended ABORTED') });

    const before = await snapshot(w.steps.tableName, client.secretId);
    expect(await unlockClient(w.ops, { clientId: client.clientId, ...operator })).toEqual({ clientId: client.clientId, outcome: 'no-lock' });
    expect(await snapshot(w.steps.tableName, client.secretId)).toEqual(before);
    // The client rotates again.
    await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.MANUAL), rotationId: newRotationId() });
  });

  it('releases a lock whose execution does not exist (state machine replaced) once the lock is older than the window', async () => {
    const { client, held } = await heldRotation({ noExecution: true });
    expect(await failure(unlockClient(w.ops, { clientId: client.clientId, ...operator }))).toMatchObject({ name: 'RotationInProgress' });
    w.clock.advance(WINDOW_MS + 1000);
    expect(await unlockClient(w.ops, { clientId: client.clientId, ...operator })).toMatchObject({ outcome: 'released', releasedRotationId: held.rotationId, holderStatus: 'not-found' });
    await expectConsistent(w.steps, client.clientId);
  });

  it('a client without a lock: a clear no-op; bad input: a named error, nothing read', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const before = await snapshot(w.steps.tableName, client.secretId);
    expect(await unlockClient(w.ops, { clientId: client.clientId, ...operator })).toEqual({ clientId: client.clientId, outcome: 'no-lock' });
    expect(await failure(unlockClient(w.ops, { clientId: client.clientId, requestedBy: 'x' }))).toMatchObject({ name: 'InvalidOperationInput', issues: ['reason: is required'] });
    expect(await failure(unlockClient(w.ops, { clientId: 'no-such-client', ...operator }))).toMatchObject({ name: 'UnknownClient' });
    expect(await snapshot(w.steps.tableName, client.secretId)).toEqual(before);
  });
});

describe('a rotation finding an orphaned lock', () => {
  it("takes it over by itself once the holder's execution has been over for the window, and audits the holder's status", async () => {
    const { client, held, pendingKeyHash } = await heldRotation();
    await w.ops.executions.stop(held.rotationId, { error: 'KeyRoll.Test', cause: 'test' });
    const refused = await failure(beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId: newRotationId() }));
    expect(refused).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });

    await passZombieWindowOf(held.rotationId);
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId: newRotationId() });
    expect((await clientOf(client.clientId)).lock).toMatchObject({ rotationId: context.rotationId, preemptedRotationId: held.rotationId });
    const audit = await w.ops.keys.auditOfRotation(client.clientId, context.rotationId);
    expect(audit.find((e) => e.action === 'lock.taken_over')?.detail).toMatch(new RegExp(`^from ${held.rotationId}: its execution ended ABORTED at `));
    expect((await w.ops.keys.getKey(pendingKeyHash))?.state).toBe(KeyState.REVOKED);
    expect(hashApiKey((await w.ops.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey)).toBe(client.currentKeyHash);
  });
});
