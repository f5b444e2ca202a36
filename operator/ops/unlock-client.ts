/**
 * The operator's unlock: release a client's lock whose holder can no longer write (its
 * execution ended longer ago than the zombie window, or is gone; an operator operation's lock
 * once it expired). The same rule as a rotation's takeover of an orphaned lock
 * (rotation/lock-holder.ts), so unlock never frees a lock a live rotation could still use
 * (docs/design.md invariant 4): while the holder runs, RotationInProgress, nothing changed.
 *
 * Clean-up first, then release: the holder cannot write any more, so undoing what it left
 * (its pending key revoked, AWSPENDING removed, AWSCURRENT back on the table's version) is
 * safe while it still holds the lock, and a crash in between leaves the lock held by the same
 * quiet holder: running unlock again finishes. The release is conditioned on the lock being
 * the one inspected and is audited `lock.released_by_operator` in the same transaction.
 */
import * as v from 'valibot';
import { isoNow } from '../../lambdas/core/clock';
import { RotationInProgressError } from '../../lambdas/core/errors';
import { actorSchema, clientIdSchema, objectIssueMessage, parseOperation, reasonSchema } from '../../lambdas/core/input-schema';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import type { ClientWithPending } from '../../lambdas/aws/rotation/context';
import { isOperationLock, lockHolderState, type LockHolderState } from '../../lambdas/aws/rotation/lock-holder';
import { stopAndCleanUp, type PreemptionResult } from '../../lambdas/aws/rotation/preempt-rotation';
import type { OpsDeps } from './ops-deps';

/** Release a client's lock whose holder is gone. */
export interface UnlockRequest {
  readonly clientId: string;
  readonly requestedBy: string;
  readonly reason: string;
}

/** What unlock did. */
export interface UnlockResult {
  readonly clientId: string;
  /** `no-lock`: the client had no lock; nothing was changed. */
  readonly outcome: 'released' | 'no-lock';
  /** The rotation (or operation) whose lock was released. */
  readonly releasedRotationId?: string;
  /** How its holder stood: its execution's status, `not-found`, or `operation`. */
  readonly holderStatus?: LockHolderState['status'];
  /** The holder's state as recorded in the audit entry. */
  readonly detail?: string;
  /** What was done to the holder (rotations only): its execution stopped if need be, its rotation undone if unfinished. */
  readonly cleanUp?: PreemptionResult;
}

const UNLOCK_FIELDS = ['clientId', 'requestedBy', 'reason'] as const;

/** @throws InvalidOperationInputError listing every offending field. */
export function parseUnlockRequest(raw: unknown): UnlockRequest {
  const schema = v.strictObject({ clientId: clientIdSchema, requestedBy: actorSchema, reason: reasonSchema }, objectIssueMessage(UNLOCK_FIELDS));
  return parseOperation('unlock request', schema, raw);
}

/**
 * Releases the client's lock if its holder is quiet.
 *
 * @param raw an {@link UnlockRequest} (validated here).
 * @throws InvalidOperationInput (nothing changed), UnknownClient, RotationInProgress (the
 *   holder runs or ended within the zombie window; the message says when to retry)
 */
export async function unlockClient(deps: OpsDeps, raw: unknown): Promise<UnlockResult> {
  const request = parseUnlockRequest(raw);
  const client = (await deps.keys.requireClient(request.clientId)) as ClientWithPending;
  const lock = client.lock;
  if (!lock) return { clientId: client.clientId, outcome: 'no-lock' };
  const holder = await lockHolderState(deps.executions, lock, deps.clock.nowMs(), deps.settings.zombieWindowSeconds ?? DEFAULT_ZOMBIE_WINDOW_SECONDS);
  if (!holder.quiet) {
    throw new RotationInProgressError(client.clientId, lock.rotationId, { why: holder.detail, ...(holder.quietAt ? { retryAfter: holder.quietAt } : {}) });
  }
  const actor = { actor: request.requestedBy, reason: request.reason };
  // An orphan's key that was AWSCURRENT may be in clients' hands: it keeps working for the client's overlap (invariant 2).
  const graceSeconds = client.overlapSeconds ?? client.policy?.overlapSeconds ?? deps.settings.overlapBounds.minSeconds;
  const cleanUp = isOperationLock(lock) ? undefined : await stopAndCleanUp(deps, client, lock.rotationId, { by: 'keyroll unlock', ...actor, graceSeconds });
  const released = await deps.keys.releaseLockAudited(client.clientId, lock, {
    clientId: client.clientId,
    at: isoNow(deps.clock),
    action: 'lock.released_by_operator',
    rotationId: lock.rotationId,
    detail: holder.detail,
    ...actor,
  });
  if (!released) {
    // The lock changed hands (a rotation took it over) or was released meanwhile: say so.
    const now = await deps.keys.requireClient(client.clientId);
    if (!now.lock) return { clientId: client.clientId, outcome: 'no-lock' };
    throw new RotationInProgressError(client.clientId, now.lock.rotationId);
  }
  return {
    clientId: client.clientId,
    outcome: 'released',
    releasedRotationId: lock.rotationId,
    holderStatus: holder.status,
    detail: holder.detail,
    ...(cleanUp ? { cleanUp } : {}),
  };
}
