/**
 * Undoing a rotation, shared by the failure path (rollback step), emergency preemption and
 * the operator's rollback during an overlap. Idempotent: every action checks first, and the
 * DynamoDB half is one guarded transaction.
 *
 * - Unfinished (before finishSecret committed): the pending key is revoked, AWSPENDING removed,
 *   and AWSCURRENT moved back if finishSecret had moved it.
 * - Finished (in its overlap): AWSCURRENT back on the previous version, the previous key ACTIVE
 *   again without a not-after, the rotation's key revoked or given a grace period.
 *
 * The labels are put where the table says (after the undo, for a finished rotation), whoever
 * moved them; the DynamoDB half is conditioned on the lock as the caller read it
 * (`lockedBy`), so an undo that lost the lock in between changes nothing in the table
 * (docs/design.md, invariant 7).
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import type { KeyRecord } from '../../core/model';
import { RotationMode } from '../../core/rotation-request';
import type { KeyTransition } from '../key-repository';
import { Stage, versionWithStage } from '../secret-store';
import { convergent, PENDING_FIELDS, PREVIOUS_FIELDS, type ClientWithPending, type RotationContext, type RotationDeps } from './context';
import { labelsOfTable, targetUnderLock } from './table-labels';

/** What undoing needs: the stores and the clock. */
export type UndoDeps = Pick<RotationDeps, 'secrets' | 'keys' | 'clock'>;

/**
 * What happens to a key that was AWSCURRENT for a while (clients may hold it):
 * `grace` makes it RETIRING for the rotation's overlap (revoked when the overlap is 0),
 * `revoke` revokes it at once.
 */
export type ExposedKeyDisposition = 'grace' | 'revoke';

/** The lock as the caller read it: the undo's table write applies only while it is unchanged. */
export function lockHolderOf(client: ClientWithPending): string | null {
  return client.lock?.rotationId ?? null;
}

/** `expect` entries of a client update that hold while the lock is as `lockedBy` says. */
export function lockExpectation(lockedBy: string | null): Record<string, string | null> {
  return lockedBy === null ? { lock: null } : { 'lock.rotationId': lockedBy };
}

/** How an undo behaves; every field has a default. */
export interface UndoOptions {
  /** What happens to a key of the rotation that was AWSCURRENT. @default 'grace' */
  readonly exposedKey?: ExposedKeyDisposition;
  /** The lock holder the table write requires. @default the lock as `client` shows it */
  readonly lockedBy?: string | null;
  /**
   * Who undoes it when that is not the rotation itself (a preempting rotation, offboarding): its
   * audit entries get their own keys (`sequence`), since entries are append-only and the
   * rotation's own rollback may have written its entries with another actor and reason.
   */
  readonly undoneBy?: string;
}

/** Undoes a rotation that has not committed finishSecret. */
export async function undoUnfinishedRotation(deps: UndoDeps, context: RotationContext, client: ClientWithPending, options: UndoOptions = {}): Promise<void> {
  const { exposedKey = 'grace', lockedBy = lockHolderOf(client), undoneBy } = options;
  const now = isoNow(deps.clock);
  const stages = await deps.secrets.versionStages(context.secretId);
  const wasCurrent = versionWithStage(stages, Stage.CURRENT) === context.rotationId;
  // The table's versions are the truth: AWSCURRENT back on its current version (if finishSecret
  // or a late write moved it), no AWSPENDING.
  const withoutPending = (c: ClientWithPending) => ({ current: c.currentVersionId, ...(c.previousVersionId ? { previous: c.previousVersionId } : {}) });
  await deps.secrets.projectLabels(context.secretId, targetUnderLock(deps.keys, context.clientId, lockedBy, withoutPending));

  if (client.pendingRotationId !== context.rotationId || !client.pendingKeyHash) {
    // createSecret never recorded a key (or an earlier undo already cleaned up).
    await convergent(
      () => deps.keys.applyChange({ audit: undoAuditEvents(context, now, [], undoneBy) }),
      // Audit-only, so only its entries can fail: an earlier run with another actor (a re-run
      // of offboarding by someone else) recorded this undo already. Entries are append-only.
      async () => true,
    );
    return;
  }
  const pending = await deps.keys.getKey(client.pendingKeyHash);
  // A retry after the label went back cannot see that it was ever current; the key's state
  // can: a RETIRING pending key is an earlier undo's own grace transition.
  const transitions: KeyTransition[] =
    pending && pending.state !== KeyState.REVOKED && pending.state !== KeyState.RETIRING ? [wasCurrent ? exposed(deps, context, pending, now, exposedKey) : revoke(pending, now)] : [];
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions,
        client: {
          clientId: context.clientId,
          expect: { pendingRotationId: context.rotationId, ...lockExpectation(lockedBy) },
          set: { updatedAt: now },
          remove: [...PENDING_FIELDS],
        },
        audit: undoAuditEvents(context, now, revokedIds(transitions), undoneBy),
      }),
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- false positive: tsc rejects the line without it
    async () => ((await deps.keys.getClient(context.clientId)) as ClientWithPending | undefined)?.pendingRotationId !== context.rotationId,
  );
}

/**
 * Undoes a rotation whose finishSecret committed, while its previous key is still there
 * (the overlap). Refused for emergency rotations and once the previous key is gone.
 *
 * @throws RotationStateConflictError when there is no previous key to go back to.
 */
export async function undoFinishedRotation(
  deps: UndoDeps,
  context: RotationContext,
  client: ClientWithPending,
  exposedKey: ExposedKeyDisposition = 'grace',
  lockedBy: string | null = lockHolderOf(client),
): Promise<void> {
  if (context.mode === RotationMode.EMERGENCY || !client.previousKeyHash || !client.previousVersionId || !client.previousKeyId) {
    throw new RotationStateConflictError(`rollback: rotation ${context.rotationId} already finished and its previous key is gone; it cannot be undone.`);
  }
  const now = isoNow(deps.clock);
  const previousVersionId = client.previousVersionId;
  const [newKey, oldKey] = await Promise.all([deps.keys.getKey(client.currentKeyHash), deps.keys.getKey(client.previousKeyHash)]);
  // Going back makes the previous key current: never a key that is no longer RETIRING (the
  // kill switch revoked it, or its retirement ran), or the client would be handed a dead key.
  if (client.currentVersionId === context.rotationId && oldKey?.state !== KeyState.RETIRING) {
    throw new RotationStateConflictError(`rollback: the previous key ${client.previousKeyId} of rotation ${context.rotationId} is ${oldKey?.state ?? 'missing'}, not RETIRING; it cannot be made current again.`);
  }
  // Back to the previous version while the table still shows this rotation current; after the commit, the table's labels.
  const backToPrevious = (c: ClientWithPending) => (c.currentVersionId === context.rotationId ? { current: previousVersionId } : labelsOfTable(c));
  await deps.secrets.projectLabels(context.secretId, targetUnderLock(deps.keys, context.clientId, lockedBy, backToPrevious));
  const transitions: KeyTransition[] = [];
  if (newKey && newKey.state !== KeyState.REVOKED && newKey.state !== KeyState.RETIRING) {
    // The new key was current: clients may hold it.
    transitions.push(exposed(deps, context, newKey, now, exposedKey));
  } else if (newKey?.state === KeyState.RETIRING && exposedKey === 'revoke') {
    transitions.push(revoke(newKey, now));
  }
  if (oldKey?.state === KeyState.RETIRING) {
    transitions.push({ keyHash: oldKey.keyHash, keyId: oldKey.keyId, from: KeyState.RETIRING, to: KeyState.ACTIVE, remove: ['notAfter'] });
  }
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions,
        client: {
          clientId: context.clientId,
          expect: { currentVersionId: context.rotationId, ...lockExpectation(lockedBy) },
          set: { currentKeyHash: client.previousKeyHash, currentKeyId: client.previousKeyId, currentVersionId: previousVersionId, updatedAt: now },
          remove: [...PREVIOUS_FIELDS, ...PENDING_FIELDS],
        },
        audit: undoAuditEvents(context, now, revokedIds(transitions)),
      }),
    async () => (await deps.keys.getClient(context.clientId))?.currentVersionId !== context.rotationId,
  );
}

function revoke(key: KeyRecord, now: string): KeyTransition {
  return { keyHash: key.keyHash, keyId: key.keyId, from: key.state, to: KeyState.REVOKED, set: { revokedAt: now } };
}

/** A key clients may hold: RETIRING for the rotation's overlap if asked and possible, else revoked. */
function exposed(deps: UndoDeps, context: RotationContext, key: KeyRecord, now: string, disposition: ExposedKeyDisposition): KeyTransition {
  if (disposition === 'revoke' || key.state !== KeyState.ACTIVE || context.overlapSeconds <= 0) return revoke(key, now);
  const notAfter = new Date(deps.clock.nowMs() + context.overlapSeconds * 1000).toISOString();
  return { keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter } };
}

function revokedIds(transitions: readonly KeyTransition[]): string[] {
  return transitions.filter((t) => t.to === KeyState.REVOKED).map((t) => t.keyId);
}

/**
 * `rotation.rolled_back` plus one `key.revoked` per revoked key, keyed by the rotation (and
 * `undoneBy`, as their sequence): a retry writes the same entries, which count as already written.
 */
export function undoAuditEvents(context: RotationContext, now: string, revokedKeyIds: readonly string[], undoneBy?: string) {
  const base = {
    clientId: context.clientId,
    at: now,
    actor: context.requestedBy,
    reason: context.reason,
    rotationId: context.rotationId,
    ...(undoneBy ? { sequence: undoneBy } : {}),
  };
  return [{ ...base, action: 'rotation.rolled_back' }, ...revokedKeyIds.map((keyId) => ({ ...base, action: 'key.revoked', keyId }))];
}
