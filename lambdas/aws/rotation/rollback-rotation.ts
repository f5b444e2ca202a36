/**
 * rollback: undo a rotation that failed before it finished (the undo itself lives in
 * undo-rotation.ts, shared with emergency preemption and the operator's rollback). The pending key is revoked,
 * AWSPENDING removed and, if finishSecret had already moved AWSCURRENT, the label goes
 * back to the old version. The old key is left as it was. Idempotent: every action checks first.
 *
 * A rotation whose finishSecret committed is never undone here: its key is current and its
 * previous key may since have been revoked (the kill switch) or retired, so going back could
 * make a dead key current. Only the labels are put where the table says; the operator's
 * rollback (during the overlap, with its own checks) is the way back.
 *
 * Once AWSCURRENT has been on the new version, a client may already hold the new key, so
 * it is not revoked: it becomes RETIRING for the rotation's overlap (a grace period while
 * clients follow AWSCURRENT back). Emergency rotations get no grace.
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { rotationFailedNotice, type OpsNotice } from '../../core/notifications';
import { hasFinished, type ClientWithPending, type RotationContext, type RotationDeps } from './context';
import { targetUnderLock } from './table-labels';
import { lockHolderOf, undoUnfinishedRotation } from './undo-rotation';

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
  const finished = hasFinished(client, context);
  if (finished) await deps.secrets.projectLabels(context.secretId, targetUnderLock(deps.keys, context.clientId, lockHolderOf(client)));
  else await undoUnfinishedRotation(deps, context, client);

  const error = caught.Error ?? 'RotationFailed';
  const cause = (caught.Cause ?? '').slice(0, MAX_CAUSE_LENGTH);
  return {
    error,
    cause,
    notice: rotationFailedNotice({ clientId: context.clientId, rotationId: context.rotationId, occurredAt: now, error, cause, rolledBack: !finished, ...(finished ? { finished: true } : {}) }),
  };
}
