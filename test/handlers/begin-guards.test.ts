/**
 * What happens when a rotation starts, against moto with a manual clock: an orphaned lock
 * (its holder's execution ended, or is gone) is taken over once the zombie window has passed
 * and cleaned up after; a live or just-ended holder keeps it; a rotation id that already ran,
 * or that names an existing version of the client's secret, is refused by name before the
 * lock (nothing changed); and native rotation on the secret is refused by name (issue 15
 * items 3, 4, 5 and 9). The holder's execution status comes from a scripted
 * RotationExecutions, so the decisions are tested at exact instants; test/ops/unlock.test.ts
 * asks moto's Step Functions for real.
 */
import { RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { RotationExecutions, type ExecutionDescription, type StopReason } from '../../lambdas/aws/rotation-executions';
import { beginRotation, createSecret, finishSecret, retireOldKey, rollbackRotation, setSecret, testSecret } from '../support/judged-steps';
import type { ClientWithPending, RotationContext } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { allVersionIds, labels, rotationRequest, snapshot, type TestDeps } from '../support/step-helpers';

const START = Date.parse('2026-11-28T10:00:00Z');
const WINDOW_MS = DEFAULT_ZOMBIE_WINDOW_SECONDS * 1000;

/** Executions whose status the test sets; records what was stopped. */
class ScriptedExecutions extends RotationExecutions {
  readonly statuses = new Map<string, ExecutionDescription>();
  readonly stopped: string[] = [];
  readonly described: string[] = [];
  constructor() {
    super(new SFNClient({}), 'arn:aws:states:us-east-1:123456789012:stateMachine:Scripted');
  }
  override async describe(rotationId: string): Promise<ExecutionDescription> {
    this.described.push(rotationId);
    return this.statuses.get(rotationId) ?? { status: 'not-found' };
  }
  override async stop(rotationId: string, _reason: StopReason): Promise<'stopped' | 'not-found'> {
    this.stopped.push(rotationId);
    return this.statuses.get(rotationId)?.status === 'RUNNING' ? 'stopped' : 'not-found';
  }
}

let clock: ManualClock;
let deps: TestDeps;
let executions: ScriptedExecutions;

beforeEach(async () => {
  clock = new ManualClock(START);
  executions = new ScriptedExecutions();
  deps = { ...(await makeTestDeps(clock)), executions };
});

const iso = (ms: number) => new Date(ms).toISOString();
const clientOf = async (clientId: string) => (await deps.keys.requireClient(clientId)) as ClientWithPending;

async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a refusal');
}

/** A client whose rotation `held` took the lock and got as far as `until`, then its execution ended (or not). */
async function heldBy(until: 'begin' | 'set') {
  const client = await registerTestClient(deps);
  const held = await beginRotation(deps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId: newRotationId() });
  if (until === 'set') {
    await createSecret(deps, held);
    await setSecret(deps, held);
  }
  return { client, held };
}

const begin = (clientId: string, mode: RotationMode, rotationId = newRotationId()) =>
  beginRotation(deps, { request: rotationRequest(clientId, mode, { requestedBy: 'bob', reason: 'after the outage' }), rotationId });

async function runToFinish(context: RotationContext) {
  await createSecret(deps, context);
  await setSecret(deps, context);
  await testSecret(deps, context);
  return finishSecret(deps, context);
}

describe('an orphaned lock (issue 15 item 4)', () => {
  it.each(['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED'] as const)(
    'whose execution ended %s longer ago than the zombie window is taken over by a scheduled rotation, audited, and cleaned up after',
    async (status) => {
      const { client, held } = await heldBy('set');
      const pendingKeyHash = (await clientOf(client.clientId)).pendingKeyHash!;
      executions.statuses.set(held.rotationId, { status, stopDate: iso(START) });
      clock.advance(WINDOW_MS + 1000);

      const context = await begin(client.clientId, RotationMode.SCHEDULED);
      const after = await clientOf(client.clientId);
      expect(after.lock).toMatchObject({ rotationId: context.rotationId, preemptedRotationId: held.rotationId });
      const audit = await deps.keys.auditOfRotation(client.clientId, context.rotationId);
      expect(audit.find((e) => e.action === 'lock.taken_over')).toMatchObject({
        actor: 'bob',
        reason: 'after the outage',
        detail: expect.stringContaining(`from ${held.rotationId}: its execution ended ${status} at ${iso(START)}`),
      });
      // Cleaned up as a preemption cleans up: the orphan's pending key revoked, its AWSPENDING gone.
      expect(executions.stopped).toEqual([held.rotationId]);
      expect(after.pendingRotationId).toBeUndefined();
      expect((await deps.keys.getKey(pendingKeyHash))?.state).toBe(KeyState.REVOKED);
      expect(await labels(client.secretId)).toEqual({ [client.currentVersionId]: [Stage.CURRENT] });
      // And the new rotation runs to the end on a clean slate.
      await runToFinish(context);
      expect((await clientOf(client.clientId)).currentVersionId).toBe(context.rotationId);
    },
  );

  it('whose execution ended within the zombie window keeps it: RotationInProgress says when to retry, and nothing changes', async () => {
    const { client, held } = await heldBy('set');
    const stopDate = START + 5000;
    executions.statuses.set(held.rotationId, { status: 'FAILED', stopDate: iso(stopDate) });
    clock.advance(10_000);
    const before = await snapshot(deps.tableName, client.secretId);
    const error = await failure(begin(client.clientId, RotationMode.MANUAL));
    expect(error).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(error.message).toContain(`Its execution ended FAILED at ${iso(stopDate)}; retry after ${iso(stopDate + WINDOW_MS)}`);
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
    expect(executions.stopped).toEqual([]);

    // At the instant it names, the lock is taken over.
    clock.advance(stopDate + WINDOW_MS - clock.nowMs());
    const context = await begin(client.clientId, RotationMode.MANUAL);
    expect((await clientOf(client.clientId)).lock?.rotationId).toBe(context.rotationId);
  });

  it('whose execution is RUNNING (or about to be redriven) keeps it against a manual rotation; an emergency preempts it as before', async () => {
    const { client, held } = await heldBy('begin');
    for (const status of ['RUNNING', 'PENDING_REDRIVE'] as const) {
      executions.statuses.set(held.rotationId, { status });
      clock.advance(3600_000);
      const error = await failure(begin(client.clientId, RotationMode.MANUAL));
      expect(error).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
      expect(error.message).toContain(`Its execution is ${status}.`);
      expect(error.message).not.toContain('retry after');
    }
    executions.statuses.set(held.rotationId, { status: 'RUNNING' });
    const emergency = await begin(client.clientId, RotationMode.EMERGENCY);
    const audit = await deps.keys.auditOfRotation(client.clientId, emergency.rotationId);
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['rotation.preempted', 'rotation.started.emergency']));
    expect(audit.map((e) => e.action)).not.toContain('lock.taken_over');
    expect(executions.stopped).toEqual([held.rotationId]);
  });

  it('an emergency does not wait out the window: a just-ended holder is preempted at once', async () => {
    const { client, held } = await heldBy('set');
    executions.statuses.set(held.rotationId, { status: 'ABORTED', stopDate: iso(START) });
    clock.advance(1000);
    const emergency = await begin(client.clientId, RotationMode.EMERGENCY);
    expect((await clientOf(client.clientId)).lock).toMatchObject({ rotationId: emergency.rotationId, preemptedRotationId: held.rotationId });
    expect((await deps.keys.auditOfRotation(client.clientId, emergency.rotationId)).map((e) => e.action)).toContain('rotation.preempted');
  });

  it('whose execution does not exist (state machine replaced or renamed) is taken over once the lock is older than the window', async () => {
    const { client, held } = await heldBy('set');
    // Not found, and the lock was taken a moment ago: it may be a run this state machine cannot see.
    clock.advance(1000);
    const error = await failure(begin(client.clientId, RotationMode.SCHEDULED));
    expect(error).toMatchObject({ name: 'RotationInProgress', heldBy: held.rotationId });
    expect(error.message).toContain(`retry after ${iso(START + WINDOW_MS)}`);

    clock.advance(WINDOW_MS);
    const context = await begin(client.clientId, RotationMode.SCHEDULED);
    const audit = await deps.keys.auditOfRotation(client.clientId, context.rotationId);
    expect(audit.find((e) => e.action === 'lock.taken_over')?.detail).toContain('this state machine has no execution of it');
    expect((await clientOf(client.clientId)).pendingRotationId).toBeUndefined();
  });

  it("an operator's operation lock (<rotationId>.rollback) has no execution: it is kept until it expires", async () => {
    const client = await registerTestClient(deps);
    const expiresAt = iso(START + 3600_000);
    await deps.keys.acquireLock(
      client.clientId,
      { rotationId: 'rot-0123456789abcdef0123456789abcdef.rollback', acquiredAt: iso(START), expiresAt },
      { clientId: client.clientId, at: iso(START), action: 'rollback.locked', actor: 'alice', reason: 'test' },
    );
    clock.advance(WINDOW_MS * 10);
    const error = await failure(begin(client.clientId, RotationMode.SCHEDULED));
    expect(error.message).toContain(`retry after ${expiresAt}`);
    expect(executions.described).toEqual([]);
  });

  it('a retry of the rotation that took over converges: the clean-up runs again harmlessly and nothing more changes', async () => {
    const { client, held } = await heldBy('set');
    executions.statuses.set(held.rotationId, { status: 'FAILED', stopDate: iso(START) });
    clock.advance(WINDOW_MS + 1000);
    const rotationId = newRotationId();
    const first = await begin(client.clientId, RotationMode.SCHEDULED, rotationId);
    const after = await snapshot(deps.tableName, client.secretId);
    expect(await begin(client.clientId, RotationMode.SCHEDULED, rotationId)).toEqual(first);
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(after);
  });
});

describe('a rotation id that collides with a version of the client secret (issue 15 item 3)', () => {
  it("equal to the client's current version id (initial-<sha256(clientId)[:40]>, computable) is refused by name; nothing changes", async () => {
    const client = await registerTestClient(deps);
    expect(client.currentVersionId).toMatch(/^initial-[0-9a-f]{40}$/);
    const before = await snapshot(deps.tableName, client.secretId);
    const error = await failure(begin(client.clientId, RotationMode.MANUAL, client.currentVersionId));
    expect(error).toMatchObject({ name: 'RotationIdCollision', rotationId: client.currentVersionId });
    expect(error.message).toContain('current secret version');
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
    expect((await clientOf(client.clientId)).lock).toBeUndefined();
  });

  it('equal to an older version that no label points at any more is refused too (ListSecretVersionIds with IncludeDeprecated)', async () => {
    const client = await registerTestClient(deps);
    for (let i = 0; i < 2; i++) {
      const context = await begin(client.clientId, RotationMode.MANUAL);
      await runToFinish(context);
      clock.advance(2 * 3600_000);
      await retireOldKey(deps, context);
      await deps.keys.releaseLock(client.clientId, context.rotationId);
    }
    const now = await clientOf(client.clientId);
    expect([now.currentVersionId, now.previousVersionId]).not.toContain(client.currentVersionId);
    expect(await allVersionIds(client.secretId)).toContain(client.currentVersionId);
    const error = await failure(begin(client.clientId, RotationMode.MANUAL, client.currentVersionId));
    expect(error).toMatchObject({ name: 'RotationIdCollision' });
    expect(error.message).toContain('already has a version with this id');
  });
});

describe('a rotation id that already ran (issue 15 item 9)', () => {
  it('in its overlap (it still holds the lock) is reported, not run again: nothing changes, the new key stays current', async () => {
    const client = await registerTestClient(deps);
    const context = await begin(client.clientId, RotationMode.MANUAL);
    await runToFinish(context);
    const before = await snapshot(deps.tableName, client.secretId);
    const error = await failure(begin(client.clientId, RotationMode.MANUAL, context.rotationId));
    expect(error).toMatchObject({ name: 'RotationAlreadyRan', outcome: 'in-overlap', rotationId: context.rotationId });
    expect(error.message).toContain('is in its overlap');
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
  });

  it('finished and retired (lock released) is reported as finished; an emergency that finished too', async () => {
    const client = await registerTestClient(deps);
    const normal = await begin(client.clientId, RotationMode.MANUAL);
    await runToFinish(normal);
    clock.advance(2 * 3600_000);
    await retireOldKey(deps, normal);
    await deps.keys.releaseLock(client.clientId, normal.rotationId);
    expect(await failure(begin(client.clientId, RotationMode.MANUAL, normal.rotationId))).toMatchObject({ name: 'RotationAlreadyRan', outcome: 'finished' });

    const emergency = await begin(client.clientId, RotationMode.EMERGENCY);
    await runToFinish(emergency);
    await deps.keys.releaseLock(client.clientId, emergency.rotationId);
    const before = await snapshot(deps.tableName, client.secretId);
    const error = await failure(begin(client.clientId, RotationMode.EMERGENCY, emergency.rotationId));
    expect(error).toMatchObject({ name: 'RotationAlreadyRan', outcome: 'finished' });
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
    expect((await clientOf(client.clientId)).lock).toBeUndefined();
  });

  it('rolled back, or failed without finishing, is reported with that outcome', async () => {
    const client = await registerTestClient(deps);
    const rolled = await begin(client.clientId, RotationMode.MANUAL);
    await createSecret(deps, rolled);
    await rollbackRotation(deps, rolled, { Error: 'KeyVerificationFailed', Cause: 'test' });
    await deps.keys.releaseLock(client.clientId, rolled.rotationId);
    expect(await failure(begin(client.clientId, RotationMode.MANUAL, rolled.rotationId))).toMatchObject({ name: 'RotationAlreadyRan', outcome: 'rolled-back' });

    const failed = await begin(client.clientId, RotationMode.MANUAL);
    await deps.keys.releaseLock(client.clientId, failed.rotationId);
    const error = await failure(begin(client.clientId, RotationMode.MANUAL, failed.rotationId));
    expect(error).toMatchObject({ name: 'RotationAlreadyRan', outcome: 'failed' });
    expect(error.message).toContain('never finished');
  });

  it('a retry of the same execution (it holds the lock, not finished) goes on, also after createSecret made its version', async () => {
    const client = await registerTestClient(deps);
    const context = await begin(client.clientId, RotationMode.MANUAL);
    await createSecret(deps, context);
    expect(await begin(client.clientId, RotationMode.MANUAL, context.rotationId)).toEqual(context);
  });
});

describe("Secrets Manager's native rotation (issue 15 item 5)", () => {
  it('turned on for the client secret: every mode is refused with NativeRotationEnabled before the lock; nothing of KeyRoll changes', async () => {
    const client = await registerTestClient(deps);
    // RotateImmediately false: moto records the rules and RotationEnabled without a rotation function.
    await secretsManagerClient().send(new RotateSecretCommand({ SecretId: client.secretId, RotationRules: { AutomaticallyAfterDays: 30 }, RotateImmediately: false }));
    const items = (await snapshot(deps.tableName, client.secretId)).items;
    for (const mode of [RotationMode.SCHEDULED, RotationMode.MANUAL, RotationMode.EMERGENCY]) {
      const error = await failure(begin(client.clientId, mode));
      expect(error).toMatchObject({ name: 'NativeRotationEnabled', secretId: client.secretId });
    }
    expect((await snapshot(deps.tableName, client.secretId)).items).toEqual(items);
  });
});
