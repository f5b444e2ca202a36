/**
 * rollback: undo a rotation that failed before it finished. The pending key is revoked,
 * AWSPENDING removed and, if finishSecret had already moved AWSCURRENT, the label goes
 * back to the old version. The old key is left as it was (or restored to ACTIVE if a
 * finished normal rotation is rolled back). Idempotent: every action checks first.
 *
 * Once AWSCURRENT has been on the new version, a client may already hold the new key, so
 * it is not revoked: it becomes RETIRING for the rotation's overlap (a grace period while
 * clients follow AWSCURRENT back). Emergency rotations get no grace.
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import type { KeyRecord } from '../../core/model';
import { rotationFailedNotice, type OpsNotice } from '../../core/notifications';
import { RotationMode } from '../../core/rotation-request';
import type { KeyTransition } from '../key-repository';
import { Stage, versionWithStage } from '../secret-store';
import { convergent, PENDING_FIELDS, PREVIOUS_FIELDS, type ClientWithPending, type RotationContext, type RotationDeps } from './context';

/** The error that the state machine caught, as Step Functions reports it. */
export interface CaughtError {
  readonly Error?: string;
  readonly Cause?: string;
}

/** Result of rollback: the ops notice to publish and the error to fail the execution with. */
export interface RollbackResult {
  readonly notice: OpsNotice;
  readonly error: string;
  readonly cause: string;
}

const MAX_CAUSE_LENGTH = 1000;

export async function rollbackRotation(deps: RotationDeps, context: RotationContext, caught: CaughtError = {}): Promise<RollbackResult> {
  const client = (await deps.keys.requireClient(context.clientId)) as ClientWithPending;
  const now = isoNow(deps.clock);
  if (client.lock && client.lock.rotationId !== context.rotationId) {
    throw new RotationStateConflictError(`rollback: client ${context.clientId} is locked by ${client.lock.rotationId}, not ${context.rotationId}.`);
  }
  if (client.currentVersionId === context.rotationId) await undoFinishedRotation(deps, context, client, now);
  else await undoUnfinishedRotation(deps, context, client, now);

  const error = caught.Error ?? 'RotationFailed';
  const cause = (caught.Cause ?? '').slice(0, MAX_CAUSE_LENGTH);
  return { error, cause, notice: rotationFailedNotice({ clientId: context.clientId, rotationId: context.rotationId, occurredAt: now, error, cause, rolledBack: true }) };
}

async function undoUnfinishedRotation(deps: RotationDeps, context: RotationContext, client: ClientWithPending, now: string): Promise<void> {
  const stages = await deps.secrets.versionStages(context.secretId);
  const wasCurrent = versionWithStage(stages, Stage.CURRENT) === context.rotationId;
  if (wasCurrent) {
    // finishSecret moved the label but not the table: the table's current version is the truth.
    await deps.secrets.moveStage(context.secretId, Stage.CURRENT, client.currentVersionId, context.rotationId);
  }
  await deps.secrets.removeStage(context.secretId, Stage.PREVIOUS, context.rotationId);
  await deps.secrets.removeStage(context.secretId, Stage.PENDING, context.rotationId);

  if (client.pendingRotationId !== context.rotationId || !client.pendingKeyHash) {
    // createSecret never recorded a key (or an earlier rollback already cleaned up).
    await audit(deps, context, now, []);
    return;
  }
  const pendingKeyHash = client.pendingKeyHash;
  const pending = await deps.keys.getKey(pendingKeyHash);
  // A retry after the label went back cannot see that it was ever current; the key's state
  // can: a RETIRING pending key is this rollback's own grace transition.
  const transitions: KeyTransition[] =
    pending && pending.state !== KeyState.REVOKED && pending.state !== KeyState.RETIRING
      ? [wasCurrent ? graceOrRevoke(deps, context, pending, now) : revoke(pending, now)]
      : [];
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions,
        client: { clientId: context.clientId, expect: { pendingRotationId: context.rotationId }, set: { updatedAt: now }, remove: [...PENDING_FIELDS] },
        audit: auditEvents(context, now, transitions.filter((t) => t.to === KeyState.REVOKED).map((t) => t.keyId)),
      }),
    async () => ((await deps.keys.getClient(context.clientId)) as ClientWithPending | undefined)?.pendingRotationId !== context.rotationId,
  );
}

async function undoFinishedRotation(deps: RotationDeps, context: RotationContext, client: ClientWithPending, now: string): Promise<void> {
  if (context.mode === RotationMode.EMERGENCY || !client.previousKeyHash || !client.previousVersionId || !client.previousKeyId) {
    throw new RotationStateConflictError(
      `rollback: rotation ${context.rotationId} already finished and its previous key is gone; it cannot be undone.`,
    );
  }
  const previousVersionId = client.previousVersionId;
  const stages = await deps.secrets.versionStages(context.secretId);
  if (versionWithStage(stages, Stage.CURRENT) === context.rotationId) {
    await deps.secrets.moveStage(context.secretId, Stage.CURRENT, previousVersionId, context.rotationId);
  }
  await deps.secrets.removeStage(context.secretId, Stage.PREVIOUS, context.rotationId);
  await deps.secrets.removeStage(context.secretId, Stage.PENDING, context.rotationId);
  const [newKey, oldKey] = await Promise.all([deps.keys.getKey(client.currentKeyHash), deps.keys.getKey(client.previousKeyHash)]);
  const transitions: KeyTransition[] = [];
  if (newKey && newKey.state !== KeyState.REVOKED && newKey.state !== KeyState.RETIRING) {
    // The new key was current: clients may hold it.
    transitions.push(graceOrRevoke(deps, context, newKey, now));
  }
  if (oldKey && oldKey.state === KeyState.RETIRING) {
    transitions.push({ keyHash: oldKey.keyHash, keyId: oldKey.keyId, from: KeyState.RETIRING, to: KeyState.ACTIVE, remove: ['notAfter'] });
  }
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions,
        client: {
          clientId: context.clientId,
          expect: { currentVersionId: context.rotationId },
          set: { currentKeyHash: client.previousKeyHash, currentKeyId: client.previousKeyId, currentVersionId: previousVersionId, updatedAt: now },
          remove: [...PREVIOUS_FIELDS, ...PENDING_FIELDS],
        },
        audit: auditEvents(context, now, transitions.filter((t) => t.to === KeyState.REVOKED).map((t) => t.keyId)),
      }),
    async () => (await deps.keys.getClient(context.clientId))?.currentVersionId !== context.rotationId,
  );
}

function revoke(key: KeyRecord, now: string): KeyTransition {
  return { keyHash: key.keyHash, keyId: key.keyId, from: key.state, to: KeyState.REVOKED, set: { revokedAt: now } };
}

/** A key clients may hold: RETIRING for the rotation's overlap if it is ACTIVE, else revoked. */
function graceOrRevoke(deps: RotationDeps, context: RotationContext, key: KeyRecord, now: string): KeyTransition {
  if (key.state !== KeyState.ACTIVE || context.overlapSeconds <= 0) return revoke(key, now);
  const notAfter = new Date(deps.clock.nowMs() + context.overlapSeconds * 1000).toISOString();
  return { keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter } };
}

function auditEvents(context: RotationContext, now: string, revokedKeyIds: readonly string[]) {
  const base = { clientId: context.clientId, at: now, actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId };
  return [{ ...base, action: 'rotation.rolled_back' }, ...revokedKeyIds.map((keyId) => ({ ...base, action: 'key.revoked', keyId }))];
}

async function audit(deps: RotationDeps, context: RotationContext, now: string, revokedKeyIds: readonly string[]): Promise<void> {
  await deps.keys.applyChange({ audit: auditEvents(context, now, revokedKeyIds) });
}
