/**
 * Offboarding: the client is marked offboarded (from then on no rotation can take its lock
 * and beginRotation refuses with ClientOffboarded), its schedule is deleted, a rotation in
 * flight is stopped and cleaned up, and every key that is not REVOKED is revoked, each by a
 * guarded transition with its audit entry in the same transaction; then the delivery
 * projection takes its readers, KMS grants and subscriptions away. The client record and the
 * audit trail stay. Idempotent: a re-run (e.g. after a crash) finishes what is left.
 */
import { isoNow } from '../../lambdas/core/clock';
import { DeliveryCleanupPendingError } from '../../lambdas/core/errors';
import { parseOffboardRequest } from '../../lambdas/core/ops-requests';
import { REVOCATIONS_PER_TRANSACTION, revocationsOf, unrevokedKeysOf } from '../../lambdas/aws/rotation/client-keys';
import type { ClientWithPending } from '../../lambdas/aws/rotation/context';
import { isOperationLock } from '../../lambdas/aws/rotation/lock-holder';
import { stopAndCleanUp } from '../../lambdas/aws/rotation/preempt-rotation';
import type { DeliveryProjectionResult } from '../../lambdas/aws/delivery/delivery-projector';
import type { OpsDeps } from './ops-deps';

/** What offboarding did. */
export interface OffboardResult {
  readonly clientId: string;
  /** When offboarding first began (a re-run keeps it). */
  readonly offboardedAt: string;
  /** Keys this call revoked (a re-run after a complete offboarding revokes none). */
  readonly revokedKeyIds: readonly string[];
  /** False when there was no schedule left to delete. */
  readonly scheduleDeleted: boolean;
  /** The rotation that was in flight and was stopped. */
  readonly stoppedRotationId?: string;
  /** What the delivery projection removed (readers, grants, subscriptions); absent without a delivery projector. */
  readonly delivery?: DeliveryProjectionResult;
}

/** Rounds of "list, revoke" before giving up on keys that keep changing under us. */
const MAX_REVOCATION_ROUNDS = 5;

/**
 * Offboards a client.
 *
 * @param raw an {@link OffboardRequest} (validated here).
 * @throws InvalidOperationInput (nothing changed), UnknownClient, DeliveryCleanupPending (keys revoked; re-run with a delivery function)
 */
export async function offboardClient(deps: OpsDeps, raw: unknown): Promise<OffboardResult> {
  const request = parseOffboardRequest(raw);
  await deps.keys.requireClient(request.clientId);
  const offboardedAt = await deps.keys.markOffboarded(request.clientId, isoNow(deps.clock));
  const actor = { actor: request.requestedBy, reason: request.reason };
  await recordOffboarding(deps, request.clientId, offboardedAt, actor);
  const scheduleDeleted = await deps.schedules.delete(request.clientId);

  let client = (await deps.keys.requireClient(request.clientId)) as ClientWithPending;
  const held = client.lock?.rotationId;
  if (held) {
    // A step of the stopped rotation may still be running: its version is created first so that its late PutSecretValue fails.
    if (!isOperationLock({ rotationId: held })) await deps.secrets.fenceVersion(client.secretId, held);
    await stopAndCleanUp(deps, client, held, { by: `offboarding of ${request.clientId}`, ...actor });
    // With the lock gone, any step of the stopped rotation still running fails its guarded write.
    await deps.keys.releaseLock(request.clientId, held);
    client = await deps.keys.requireClient(request.clientId);
  }

  const revokedKeyIds: string[] = [];
  for (let round = 1; ; round++) {
    const live = await unrevokedKeysOf(deps.keys, client);
    if (live.length === 0) break;
    const now = isoNow(deps.clock);
    try {
      for (let i = 0; i < live.length; i += REVOCATIONS_PER_TRANSACTION) {
        const transitions = revocationsOf(live.slice(i, i + REVOCATIONS_PER_TRANSACTION), now);
        await deps.keys.applyChange({
          transitions,
          audit: transitions.map((t) => ({ clientId: request.clientId, at: now, action: 'key.revoked', keyId: t.keyId, detail: 'offboarding', ...actor })),
        });
        revokedKeyIds.push(...transitions.map((t) => t.keyId));
      }
    } catch (error) {
      // A key changed state between the read and the write: read again and revoke what is left.
      if ((error as Error).name !== 'ConditionFailed' || round >= MAX_REVOCATION_ROUNDS) throw error;
    }
    client = await deps.keys.requireClient(request.clientId);
  }
  // Last: with every key revoked, the projection of an offboarded client removes its readers, grants and subscriptions.
  // Revocation never waits on delivery; but what was projected must not be left silently.
  if (!deps.delivery && (client.delivery || client.deliveryProjection)) throw new DeliveryCleanupPendingError(request.clientId);
  const delivery = await deps.delivery?.project(request.clientId);
  return { clientId: request.clientId, offboardedAt, revokedKeyIds, scheduleDeleted, ...(held ? { stoppedRotationId: held } : {}), ...(delivery ? { delivery } : {}) };
}

/**
 * `client.offboarded`, keyed by the first offboarding time: a re-run with the same actor and
 * reason writes the same entry (already written). Audit entries are append-only, so a re-run
 * by someone else (or for another reason) is recorded as its own `client.offboarding_resumed`.
 */
async function recordOffboarding(deps: OpsDeps, clientId: string, offboardedAt: string, actor: { actor: string; reason: string }): Promise<void> {
  try {
    await deps.keys.applyChange({ audit: [{ clientId, at: offboardedAt, action: 'client.offboarded', ...actor }] });
  } catch (error) {
    // Audit-only: the one guard that can fail is the entry's own (another actor or reason).
    if ((error as Error).name !== 'ConditionFailed') throw error;
    await deps.keys.applyChange({ audit: [{ clientId, at: isoNow(deps.clock), action: 'client.offboarding_resumed', ...actor, detail: `offboarding began ${offboardedAt}` }] });
  }
}
