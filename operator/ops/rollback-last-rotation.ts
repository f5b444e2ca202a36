/**
 * Rollback of the last rotation during its overlap: the previous key becomes current again
 * (AWSCURRENT back on its version, the key ACTIVE, its not-after removed), the rotation's new
 * key is revoked, and the rotation's execution, waiting in its overlap, is stopped and its
 * lock released. Uses the same undo as the rollback step (rotation/undo-rotation.ts).
 *
 * Possible only while the previous key is still there and more than a minute from its
 * not-after (so retirement cannot race the rollback), and never for an emergency rotation
 * (its previous keys are revoked). Idempotent: a re-run of a finished rollback only makes sure
 * the execution is stopped and the lock released, and sends the client notice again (a crashed
 * run may have stopped before it).
 */
import { isoNow } from '../../lambdas/core/clock';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { ClientOffboardedError, RollbackNotPossibleError, RotationInProgressError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import { rolledBackNotice } from '../../lambdas/core/notifications';
import { parseRollbackRequest, type RollbackRequest } from '../../lambdas/core/ops-requests';
import { RotationMode } from '../../lambdas/core/rotation-request';
import type { ClientWithPending, RotationContext } from '../../lambdas/aws/rotation/context';
import { targetUnderLock } from '../../lambdas/aws/rotation/table-labels';
import { undoFinishedRotation } from '../../lambdas/aws/rotation/undo-rotation';
import type { OpsDeps } from './ops-deps';

/** What the rollback did. */
export interface RollbackLastRotationResult {
  readonly clientId: string;
  readonly rotationId: string;
  /** `already-rolled-back`: the keys were already back (a re-run); only execution and lock were checked. */
  readonly outcome: 'rolled-back' | 'already-rolled-back';
  /** The rotation's execution: stopped now, or none found running under that name. */
  readonly execution: 'stopped' | 'not-found';
  /** The key that is current (again). */
  readonly currentKeyId: string;
}

/** The previous key's not-after must be at least this far away: retirement must not race the rollback. */
export const ROLLBACK_MIN_REMAINING_MS = 60_000;

/**
 * Rolls the client's last rotation back.
 *
 * @param raw a {@link RollbackRequest} (validated here).
 * @throws InvalidOperationInput (nothing changed), UnknownClient, ClientOffboarded,
 *   RollbackNotPossible (nothing changed), RotationInProgress (another rotation holds the lock)
 */
export async function rollbackLastRotation(deps: OpsDeps, raw: unknown): Promise<RollbackLastRotationResult> {
  const request = parseRollbackRequest(raw);
  const client = (await deps.keys.requireClient(request.clientId)) as ClientWithPending;
  if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
  const last = client.lastRotation;
  if (!last) throw new RollbackNotPossibleError(client.clientId, 'no rotation has finished yet');
  if (request.rotationId && request.rotationId !== last.rotationId) {
    throw new RollbackNotPossibleError(client.clientId, `the last finished rotation is ${last.rotationId}, not ${request.rotationId}`);
  }
  const rotationId = last.rotationId;
  const done = client.currentVersionId !== rotationId;
  const operationLock = `${rotationId}.rollback`;
  if (!done) {
    await assertUndoable(deps, client);
    await holdLock(deps, client, rotationId, operationLock, request);
  }
  // Stop first: the execution must not retire the previous key while it becomes current again.
  const execution = await deps.executions.stop(rotationId, { error: 'KeyRoll.RolledBack', cause: `Rolled back by ${request.requestedBy}.` });
  if (!done) {
    // Every table write of the undo is conditioned on our lock: an emergency that takes it
    // from us in between wins, and this rollback changes nothing in the table.
    const locked = (await deps.keys.requireClient(client.clientId)) as ClientWithPending;
    try {
      await undoFinishedRotation(deps, contextOf(locked, rotationId, request), locked, 'revoke', operationLock);
    } catch (error) {
      // Not undone (the kill switch revoked the previous key since the check, or an emergency
      // took the lock): while the lock is still ours, the labels go back to what the table says,
      // and the lock is released rather than held for an hour.
      await deps.secrets.projectLabels(locked.secretId, targetUnderLock(deps.keys, locked.clientId, operationLock)).catch(() => undefined);
      await deps.keys.releaseLock(client.clientId, operationLock);
      throw error;
    }
  }
  await deps.keys.releaseLock(client.clientId, rotationId);
  await deps.keys.releaseLock(client.clientId, operationLock);

  const after = await deps.keys.requireClient(client.clientId);
  // A re-run sends the notice again: a run that crashed after the undo never told the client,
  // which may still hold the revoked key. Same eventId, so at worst a duplicate consumers can drop.
  const revokedKeyId = done ? (await deps.keys.listClientKeys(client.clientId)).find((k) => k.rotationId === rotationId)?.keyId : client.currentKeyId;
  if (revokedKeyId) {
    await deps.notifier?.publish(rolledBackNotice({ clientId: client.clientId, rotationId, occurredAt: isoNow(deps.clock), currentKeyId: after.currentKeyId, revokedKeyId }));
  }
  return { clientId: client.clientId, rotationId, outcome: done ? 'already-rolled-back' : 'rolled-back', execution, currentKeyId: after.currentKeyId };
}

/**
 * Takes the client's lock for the rollback: from the rotation's execution (conditional on it
 * still holding it: an emergency that took it first wins), or a free one. A re-run that
 * already holds it keeps it.
 *
 * @throws RotationInProgressError when another rotation holds the lock.
 */
async function holdLock(deps: OpsDeps, client: ClientWithPending, rotationId: string, operationLock: string, request: RollbackRequest): Promise<void> {
  const holder = client.lock?.rotationId;
  if (holder === operationLock) return;
  if (holder !== undefined && holder !== rotationId) throw new RotationInProgressError(client.clientId, holder);
  const now = isoNow(deps.clock);
  const lock = { rotationId: operationLock, acquiredAt: now, expiresAt: new Date(deps.clock.nowMs() + 3600_000).toISOString() };
  const audit = { clientId: client.clientId, at: now, action: 'rollback.locked', actor: request.requestedBy, reason: request.reason, rotationId };
  if (holder === rotationId) await deps.keys.takeOverLock(client.clientId, rotationId, lock, audit);
  else await deps.keys.acquireLock(client.clientId, lock, audit);
}

/** The rotation is in its overlap: normal mode, previous key still RETIRING and not about to expire. */
async function assertUndoable(deps: OpsDeps, client: ClientWithPending): Promise<void> {
  const last = client.lastRotation!;
  if (last.emergency) throw new RollbackNotPossibleError(client.clientId, 'it was an emergency rotation, which revoked the previous keys');
  if (!client.previousKeyHash || client.previousKeyId !== last.previousKeyId) {
    throw new RollbackNotPossibleError(client.clientId, 'its overlap is over (the previous key was retired)');
  }
  const previous = await deps.keys.getKey(client.previousKeyHash);
  if (previous?.state !== KeyState.RETIRING) {
    throw new RollbackNotPossibleError(client.clientId, `the previous key ${client.previousKeyId} is ${previous?.state ?? 'missing'}`);
  }
  // A finishSecret invocation of this rotation (a duplicate of a retried step) may still be running
  // for the zombie window after the finish: its label move names the old version, and once the
  // rollback has put AWSCURRENT back there, that compare-and-set would pass (docs/design.md, "Fencing").
  const quietAtMs = Date.parse(last.finishedAt) + (deps.settings.zombieWindowSeconds ?? DEFAULT_ZOMBIE_WINDOW_SECONDS) * 1000;
  if (deps.clock.nowMs() < quietAtMs) {
    throw new RollbackNotPossibleError(client.clientId, `it finished less than the zombie window ago; try again after ${new Date(quietAtMs).toISOString()}`);
  }
  const notAfterMs = previous.notAfter ? Date.parse(previous.notAfter) : Number.NaN;
  if (!(notAfterMs - deps.clock.nowMs() >= ROLLBACK_MIN_REMAINING_MS)) {
    throw new RollbackNotPossibleError(client.clientId, `the previous key expires at ${previous.notAfter ?? '(unknown)'}, too soon to make it current again safely`);
  }
}

function contextOf(client: ClientWithPending, rotationId: string, request: RollbackRequest): RotationContext {
  return {
    rotationId,
    clientId: client.clientId,
    secretId: client.secretId,
    mode: RotationMode.MANUAL,
    reason: request.reason,
    requestedBy: request.requestedBy,
    overlapSeconds: 0,
  };
}
