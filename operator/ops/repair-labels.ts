/**
 * `keyroll repair`: puts a client's staging labels where its record says (docs/design.md,
 * invariant 7: the table is the truth). Rotations repair the labels themselves at every step;
 * this is for a client with no rotation running whose labels someone or something moved (a
 * late write that landed after the last rotation, a change by hand in the console).
 *
 * It holds the client's lock while it works (an operation lock, `<id>.repair`), so no rotation
 * changes the record under it; a rotation that holds the lock is left to repair by itself.
 * Idempotent: with nothing to repair it changes nothing but the audit trail.
 */
import { randomUUID } from 'node:crypto';
import { isoNow } from '../../lambdas/core/clock';
import { ClientOffboardedError, RotationInProgressError } from '../../lambdas/core/errors';
import { parseRepairLabelsRequest } from '../../lambdas/core/ops-requests';
import { labelDisagreements } from '../../lambdas/aws/label-projection';
import type { ClientWithPending } from '../../lambdas/aws/rotation/context';
import { labelsOfTable, targetUnderLock } from '../../lambdas/aws/rotation/table-labels';
import type { OpsDeps } from './ops-deps';

/** What the repair found and did. */
export interface RepairLabelsResult {
  readonly clientId: string;
  /** The labels that disagreed with the table before the repair (empty: nothing to do). */
  readonly repaired: readonly string[];
}

/** How long the repair's lock lasts if the operator's machine dies holding it. */
const REPAIR_LOCK_MS = 10 * 60_000;

/**
 * Repairs the labels of one client.
 *
 * @param raw a {@link RepairLabelsRequest} (validated here).
 * @throws InvalidOperationInput (nothing changed), UnknownClient, ClientOffboarded,
 *   RotationInProgress (a rotation holds the lock: it repairs the labels itself at its next step;
 *   an orphaned lock is released with `keyroll unlock` first)
 */
export async function repairLabels(deps: OpsDeps, raw: unknown): Promise<RepairLabelsResult> {
  const request = parseRepairLabelsRequest(raw);
  const client = await deps.keys.requireClient(request.clientId);
  if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
  if (client.lock) throw new RotationInProgressError(client.clientId, client.lock.rotationId);
  const lockId = `${randomUUID()}.repair`;
  const now = isoNow(deps.clock);
  const audit = { clientId: client.clientId, at: now, actor: request.requestedBy, reason: request.reason, rotationId: lockId };
  await deps.keys.acquireLock(client.clientId, { rotationId: lockId, acquiredAt: now, expiresAt: new Date(deps.clock.nowMs() + REPAIR_LOCK_MS).toISOString() }, { ...audit, action: 'labels.repair_started' });
  try {
    const locked = (await deps.keys.requireClient(client.clientId)) as ClientWithPending;
    const target = labelsOfTable(locked);
    const repaired = labelDisagreements(await deps.secrets.versionStages(locked.secretId), target);
    if (repaired.length > 0) await deps.secrets.projectLabels(locked.secretId, targetUnderLock(deps.keys, locked.clientId, lockId));
    await deps.keys.applyChange({ audit: [{ ...audit, action: 'labels.repaired', detail: repaired.length ? repaired.join('; ') : 'nothing to repair' }] });
    return { clientId: client.clientId, repaired };
  } finally {
    await deps.keys.releaseLock(client.clientId, lockId);
  }
}
