/**
 * finishSecret: AWSCURRENT moves to the new version (Secrets Manager moves AWSPREVIOUS to
 * the old one), and in one transaction DynamoDB makes the new key current and the old one
 * RETIRING until its not-after — or, in emergency mode, revokes every other key of the
 * client. A retry after a crash at any point converges.
 *
 * One Secrets Manager write: the AWSCURRENT move (invariants 1 and 8: the client reads the
 * new key from AWSCURRENT). AWSPENDING stays on the new version and AWSPREVIOUS on the version
 * AWSCURRENT left, where Secrets Manager puts them: removing either would be a write against
 * the account's 50 writes/s that no invariant needs (see LabelTarget in label-projection.ts).
 *
 * Label moves are compare-and-sets from the version that holds the label when read, and end
 * with the labels where the table says: a stopped rotation's late label move that landed
 * before is overwritten, one that lands after fails (docs/design.md, invariants 7 and 8).
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import type { LastRotation } from '../../core/model';
import { rotatedNotice, type ClientNotice } from '../../core/notifications';
import { RotationMode } from '../../core/rotation-request';
import type { KeyTransition } from '../key-repository';
import { REVOCATIONS_PER_TRANSACTION, revocationsOf, unrevokedKeysOf } from './client-keys';
import { clientLockedBy, convergent, PENDING_FIELDS, PREVIOUS_FIELDS, type ClientWithPending, type RotationContext, type RotationDeps } from './context';
import { targetUnderLock } from './table-labels';

/** Result of finishSecret: ids, the previous key's deadline and the notice to publish. */
export interface FinishSecretResult {
  readonly currentKeyId: string;
  readonly previousKeyId: string;
  /** Absent in emergency mode (the previous key is already revoked). */
  readonly previousKeyNotAfter?: string;
  readonly revokedKeyIds: readonly string[];
  readonly notice: ClientNotice;
}

export async function finishSecret(deps: RotationDeps, context: RotationContext): Promise<FinishSecretResult> {
  const emergency = context.mode === RotationMode.EMERGENCY;
  let client = await clientLockedBy(deps, context);
  if (client.currentVersionId !== context.rotationId) {
    if (client.pendingRotationId !== context.rotationId || !client.pendingKeyHash || !client.pendingKeyId) {
      throw new RotationStateConflictError(`finishSecret: rotation ${context.rotationId} has no pending key.`);
    }
    await requireActivePendingKey(deps, client);
    // AWSCURRENT to the new version, taken from whichever version has it: the table's current
    // one, or one a stopped rotation's late write put there (the table is the truth). The one
    // write here; Secrets Manager itself puts AWSPREVIOUS on the version AWSCURRENT left
    // (API_UpdateSecretVersionStage), which is where the commit points (none in an emergency:
    // the label may stay there, on a key the commit revokes).
    const toNewVersion = (c: ClientWithPending) => ({ current: context.rotationId, pending: context.rotationId, ...(emergency ? {} : { previous: c.currentVersionId }) });
    await deps.secrets.projectLabels(context.secretId, targetUnderLock(deps.keys, context.clientId, context.rotationId, toNewVersion));
    await commitDecidingAgain(deps, context, client, emergency);
    client = await clientLockedBy(deps, context);
  }
  // Now (and on a retry after the commit) the labels follow the table; normally no write:
  // AWSPENDING may stay on the current version, AWSPREVIOUS on the version AWSCURRENT left.
  await deps.secrets.projectLabels(context.secretId, targetUnderLock(deps.keys, context.clientId, context.rotationId));
  const last = client.lastRotation;
  if (last?.rotationId !== context.rotationId) {
    throw new RotationStateConflictError(`finishSecret: the client record does not show rotation ${context.rotationId} as finished.`);
  }
  return {
    currentKeyId: client.currentKeyId,
    previousKeyId: last.previousKeyId,
    previousKeyNotAfter: last.previousKeyNotAfter,
    revokedKeyIds: last.revokedKeyIds,
    notice: rotatedNotice({
      clientId: context.clientId,
      rotationId: context.rotationId,
      occurredAt: last.finishedAt,
      currentKeyId: client.currentKeyId,
      previousKeyId: last.previousKeyId,
      previousKeyNotAfter: last.previousKeyNotAfter,
      revokedKeyIds: last.revokedKeyIds,
      emergency: last.emergency,
      revokedImmediately: last.revokedImmediately,
      preemptedRotationId: last.preemptedRotationId,
      preemptedRotationFinished: last.preemptedRotationFinished,
    }),
  };
}

/** How often the commit re-reads and tries again when a key changed under it. */
const MAX_COMMIT_ATTEMPTS = 3;

/**
 * The kill switch may revoke the new key after testSecret proved it: it must not become
 * current (the client would be handed a key that is refused). The failure rolls back.
 */
async function requireActivePendingKey(deps: RotationDeps, client: ClientWithPending): Promise<void> {
  const key = await deps.keys.getKey(client.pendingKeyHash!);
  if (key?.state !== KeyState.ACTIVE) {
    throw new RotationStateConflictError(`finishSecret: the new key ${client.pendingKeyId} is ${key?.state ?? 'missing'}, not ACTIVE; it is not made current.`);
  }
}

/**
 * Commits; when a guard fails because a key changed between the reads and the write (the kill
 * switch revoked one), reads again and decides on what is there now.
 */
async function commitDecidingAgain(deps: RotationDeps, context: RotationContext, client: ClientWithPending, emergency: boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await commitFinish(deps, context, client, emergency);
      return;
    } catch (error) {
      if ((error as Error).name !== 'ConditionFailed' || attempt >= MAX_COMMIT_ATTEMPTS) throw error;
      client = await clientLockedBy(deps, context);
      if (client.currentVersionId === context.rotationId) return;
      await requireActivePendingKey(deps, client);
    }
  }
}

/**
 * An emergency may have more keys to revoke than one transaction carries (100 items: each
 * revocation is a key and its audit entry). The excess is revoked first, in transactions of
 * its own conditioned on the lock; the current key stays for the final commit, so the client
 * keeps a working key until the new one is current. Removes what it revoked from `revocations`.
 *
 * @returns the ids of the keys revoked here.
 */
async function revokeOverflowFirst(deps: RotationDeps, context: RotationContext, revocations: KeyTransition[], currentKeyHash: string, now: string): Promise<string[]> {
  const revoked: string[] = [];
  const movable = revocations.filter((t) => t.keyHash !== currentKeyHash);
  while (revocations.length > REVOCATIONS_PER_TRANSACTION) {
    const chunk = movable.splice(0, Math.min(REVOCATIONS_PER_TRANSACTION, revocations.length - REVOCATIONS_PER_TRANSACTION));
    await deps.keys.applyChange({
      transitions: chunk,
      client: { clientId: context.clientId, expect: { 'lock.rotationId': context.rotationId }, set: { updatedAt: now } },
      audit: chunk.map((t) => ({ clientId: context.clientId, at: now, action: 'key.revoked', actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId: t.keyId })),
    });
    for (const t of chunk) revocations.splice(revocations.indexOf(t), 1);
    revoked.push(...chunk.map((t) => t.keyId));
  }
  return revoked;
}

/** Ids of the keys this rotation's earlier transactions revoked, from their audit entries (invariant 3: a retry reports what the first attempt did). */
async function revokedUnder(deps: RotationDeps, context: RotationContext): Promise<string[]> {
  const audit = await deps.keys.auditOfRotation(context.clientId, context.rotationId);
  return audit.filter((event) => event.action === 'key.revoked' && event.keyId !== undefined).map((event) => event.keyId!);
}

/** The DynamoDB half of finishSecret, as one transaction (applied only while the new key is ACTIVE). */
async function commitFinish(deps: RotationDeps, context: RotationContext, client: ClientWithPending, emergency: boolean): Promise<void> {
  const nowMs = deps.clock.nowMs();
  const now = isoNow(deps.clock);
  const oldKey = await deps.keys.getKey(client.currentKeyHash);
  if (!oldKey) throw new RotationStateConflictError(`finishSecret: current key ${client.currentKeyId} is missing from the table.`);
  const newKeyHash = client.pendingKeyHash!;
  // No overlap to promise for an old key the kill switch already revoked (it stays revoked).
  const notAfter = emergency || oldKey.state !== KeyState.ACTIVE ? undefined : new Date(nowMs + context.overlapSeconds * 1000).toISOString();

  const transitions: KeyTransition[] = [];
  const revokedEarlier: string[] = [];
  if (emergency) {
    // Every key of the client but the new one (revokeImmediately: createSecret already revoked them).
    const others = revocationsOf(
      (await unrevokedKeysOf(deps.keys, client)).filter((key) => key.keyHash !== newKeyHash),
      now,
    );
    revokedEarlier.push(...(await revokeOverflowFirst(deps, context, others, oldKey.keyHash, now)));
    // An attempt that crashed after some overflow transactions left those keys REVOKED, so the
    // list above misses them: their audit entries (written in the same transactions) do not.
    revokedEarlier.push(...(await revokedUnder(deps, context)));
    transitions.push(...others);
  } else {
    if (oldKey.state === KeyState.ACTIVE) {
      transitions.push({ keyHash: oldKey.keyHash, keyId: oldKey.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter } });
    }
    // A previous key an earlier rotation left behind (its retirement never ran): the client
    // record is about to forget it, so it is revoked now rather than left to its not-after.
    if (client.previousKeyHash && client.previousKeyHash !== newKeyHash) {
      const leftover = await deps.keys.getKey(client.previousKeyHash);
      if (leftover && leftover.state !== KeyState.REVOKED) {
        transitions.push({ keyHash: leftover.keyHash, keyId: leftover.keyId, from: leftover.state, to: KeyState.REVOKED, set: { revokedAt: now } });
      }
    }
  }
  const revokedNow = transitions.filter((t) => t.to === KeyState.REVOKED).map((t) => t.keyId);
  if (client.pendingRotationId === context.rotationId) revokedEarlier.push(...(client.immediatelyRevokedKeyIds ?? []));
  const preemptedRotationId = client.lock?.preemptedRotationId;
  const lastRotation: LastRotation = {
    rotationId: context.rotationId,
    finishedAt: now,
    emergency,
    previousKeyId: oldKey.keyId,
    previousKeyNotAfter: notAfter,
    revokedKeyIds: [...new Set([...revokedEarlier, ...revokedNow])],
    ...(context.revokeImmediately ? { revokedImmediately: true } : {}),
    ...(preemptedRotationId ? { preemptedRotationId } : {}),
    // The emergency holds the lock since the takeover: the version it replaces is the preempted one's only if that had finished.
    ...(preemptedRotationId && client.currentVersionId === preemptedRotationId ? { preemptedRotationFinished: true } : {}),
  };
  const audit = (action: string, keyId?: string) => ({
    clientId: context.clientId,
    at: now,
    action,
    actor: context.requestedBy,
    reason: context.reason,
    rotationId: context.rotationId,
    keyId,
  });
  await convergent(
    () =>
      deps.keys.applyChange({
        checks: [{ keyHash: newKeyHash, state: KeyState.ACTIVE }],
        transitions,
        client: {
          clientId: context.clientId,
          expect: { currentVersionId: client.currentVersionId, 'lock.rotationId': context.rotationId, pendingRotationId: context.rotationId },
          set: {
            currentKeyHash: newKeyHash,
            currentKeyId: client.pendingKeyId!,
            currentVersionId: context.rotationId,
            ...(emergency ? {} : { previousKeyHash: oldKey.keyHash, previousKeyId: oldKey.keyId, previousVersionId: client.currentVersionId }),
            lastRotation: JSON.parse(JSON.stringify(lastRotation)),
            updatedAt: now,
          },
          remove: emergency ? [...PENDING_FIELDS, ...PREVIOUS_FIELDS] : [...PENDING_FIELDS],
        },
        audit: [audit(emergency ? 'rotation.finished.emergency' : 'rotation.finished', client.pendingKeyId), ...revokedNow.map((keyId) => audit('key.revoked', keyId))],
      }),
    async () => (await deps.keys.getClient(context.clientId))?.currentVersionId === context.rotationId,
  );
}
