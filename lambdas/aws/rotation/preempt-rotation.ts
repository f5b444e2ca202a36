/**
 * Stopping a rotation that holds a client's lock and cleaning up after it: used by an
 * emergency rotation (which then holds the lock) and by offboarding. Idempotent.
 *
 * - Before finishSecret committed: the execution is stopped and the rotation undone like a
 *   failed one (pending key revoked, AWSPENDING removed, AWSCURRENT restored if it had moved).
 *   A key that had been AWSCURRENT gets no grace: this is an incident.
 * - After (in its overlap): the execution is only stopped. The new key is current and stays;
 *   the previous key is the emergency rotation's (or offboarding's) to revoke.
 *
 * Stopping an execution does not stop a step invocation that is already running (a zombie):
 * its DynamoDB writes fail their lock condition, its label moves fail Secrets Manager's
 * compare-and-set once the labels have moved on, and the one write that neither guards — the
 * PutSecretValue that creates its version and takes AWSPENDING — is fenced by creating that
 * version first: by the preempting rotation's createSecret (the one step allowed to write a
 * value), or by offboarding (docs/design.md, invariant 7).
 */
import { RotationMode } from '../../core/rotation-request';
import type { RotationExecutions } from '../rotation-executions';
import type { ClientWithPending } from './context';
import { isOperationLock } from './lock-holder';
import { undoUnfinishedRotation, type UndoDeps } from './undo-rotation';

/** Who stops the rotation, and why (for the execution history and the audit trail). */
export interface Preemption {
  /** The rotation (or operation) that takes over. */
  readonly by: string;
  readonly actor: string;
  readonly reason: string;
  /**
   * A key of the stopped rotation that had been AWSCURRENT (clients may hold it) stays valid
   * this long (RETIRING); 0 or absent revokes it at once, as an incident needs.
   */
  readonly graceSeconds?: number;
}

/** What was done to the stopped rotation. */
export interface PreemptionResult {
  readonly stoppedRotationId: string;
  readonly execution: 'stopped' | 'not-found';
  /** True when the stopped rotation had not finished and was undone. */
  readonly undone: boolean;
}

/**
 * Stops rotation `heldRotationId` of `client` and undoes it if it had not finished.
 * The caller makes sure the stopped rotation can no longer write (it has taken or cleared the lock).
 */
export async function stopAndCleanUp(deps: UndoDeps & { readonly executions: RotationExecutions }, client: ClientWithPending, heldRotationId: string, preemption: Preemption): Promise<PreemptionResult> {
  // An operator's operation (`<id>.rollback`, `<uuid>.repair`) has no execution and no version; its writes are lock-conditioned.
  if (isOperationLock({ rotationId: heldRotationId })) return { stoppedRotationId: heldRotationId, execution: 'not-found', undone: false };
  const execution = await deps.executions.stop(heldRotationId, {
    error: 'KeyRoll.Preempted',
    cause: `Stopped by ${preemption.by} (${preemption.actor}).`,
  });
  const finished = client.lastRotation?.rotationId === heldRotationId || client.currentVersionId === heldRotationId;
  if (finished) return { stoppedRotationId: heldRotationId, execution, undone: false };
  const grace = preemption.graceSeconds ?? 0;
  await undoUnfinishedRotation(
    deps,
    {
      rotationId: heldRotationId,
      clientId: client.clientId,
      secretId: client.secretId,
      mode: grace > 0 ? RotationMode.MANUAL : RotationMode.EMERGENCY,
      reason: preemption.reason,
      requestedBy: preemption.actor,
      overlapSeconds: grace,
    },
    client,
    // Its own audit entries: the rotation's rollback may have written `rotation.rolled_back` already.
    { exposedKey: grace > 0 ? 'grace' : 'revoke', undoneBy: preemption.by },
  );
  return { stoppedRotationId: heldRotationId, execution, undone: true };
}
