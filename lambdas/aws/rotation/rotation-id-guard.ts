/**
 * A rotation id is used once per client. Checked at the start of a rotation, before its lock
 * is taken, so a refusal changes nothing (docs/design.md invariant 6):
 *
 * - a rotation id that holds the client's lock and has not finished is this execution being
 *   retried (or a rotation resumed where it stopped): it goes on;
 * - a rotation id that already ran for the client (any audit entry under it, or it is the
 *   client's last finished rotation) is reported with its outcome and never run again
 *   ({@link RotationAlreadyRanError}), also when it still holds the lock in its overlap;
 * - a rotation id that names a version the client's secret already has (current, previous, or
 *   an older one such as the computable `initial-...` version) cannot become a new version's id
 *   ({@link RotationIdCollisionError}).
 *
 * Running an id again is what broke before (issue 15 items 3 and 9): the steps saw "their"
 * version already there, failed, and the rollback undid the rotation that had succeeded.
 */
import { RotationAlreadyRanError, RotationIdCollisionError, type RotationOutcome } from '../../core/errors';
import type { AuditEvent } from '../../core/model';
import type { KeyRepository } from '../key-repository';
import type { SecretStore } from '../secret-store';
import type { ClientWithPending } from './context';

/** What the check reads. */
export interface RotationIdGuardDeps {
  readonly keys: KeyRepository;
  readonly secrets: SecretStore;
}

/**
 * Refuses a rotation id that already ran for `client` or collides with one of its secret's
 * versions; returns when the id is new, or is the lock holder's own (unfinished) retry.
 *
 * @throws RotationAlreadyRan, RotationIdCollision (nothing changed)
 */
export async function assertRotationIdUsable(deps: RotationIdGuardDeps, client: ClientWithPending, rotationId: string): Promise<void> {
  const finished = client.lastRotation?.rotationId === rotationId;
  if (client.lock?.rotationId === rotationId && !finished && client.currentVersionId !== rotationId) return;
  const events = await deps.keys.auditOfRotation(client.clientId, rotationId);
  if (events.length > 0 || finished) {
    const { outcome, summary } = describePriorRotation(client, rotationId, events);
    throw new RotationAlreadyRanError(client.clientId, rotationId, outcome, summary);
  }
  if (rotationId === client.currentVersionId) throw new RotationIdCollisionError(client.clientId, rotationId, "it is the id of the client's current secret version");
  if (rotationId === client.previousVersionId) throw new RotationIdCollisionError(client.clientId, rotationId, "it is the id of the client's previous secret version");
  if (await deps.secrets.versionExists(client.secretId, rotationId)) {
    throw new RotationIdCollisionError(client.clientId, rotationId, `secret ${client.secretId} already has a version with this id`);
  }
}

/** How rotation `rotationId` of `client` ended, from the client record and its audit entries. */
export function describePriorRotation(client: ClientWithPending, rotationId: string, events: readonly AuditEvent[]): { outcome: RotationOutcome; summary: string } {
  const at = (...actions: string[]) => events.find((event) => actions.includes(event.action))?.at;
  const last = client.lastRotation?.rotationId === rotationId ? client.lastRotation : undefined;
  const finishedAt = last?.finishedAt ?? at('rotation.finished', 'rotation.finished.emergency');
  const rolledBackAt = at('rotation.rolled_back');
  if (rolledBackAt) {
    return { outcome: 'rolled-back', summary: `it was rolled back at ${rolledBackAt}${finishedAt ? ` (it had finished at ${finishedAt})` : ''}` };
  }
  if (finishedAt) {
    const current = client.currentVersionId === rotationId;
    const inOverlap = current && last && !last.emergency && client.previousKeyId === last.previousKeyId && !at('key.retired');
    if (inOverlap) {
      const until = last.previousKeyNotAfter ? ` until ${last.previousKeyNotAfter}` : '';
      return { outcome: 'in-overlap', summary: `it finished at ${finishedAt} and is in its overlap: its key ${client.currentKeyId} is current, the previous key ${last.previousKeyId} is accepted${until}` };
    }
    return { outcome: 'finished', summary: `it finished at ${finishedAt}; ${current ? `its key ${client.currentKeyId} is current` : 'a later rotation has replaced its key'}` };
  }
  const startedAt = events.find((event) => event.action.startsWith('rotation.started'))?.at ?? events[0]?.at;
  return { outcome: 'failed', summary: `it started${startedAt ? ` at ${startedAt}` : ''} and never finished (it failed, or was stopped or taken over)` };
}
