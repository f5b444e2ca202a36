/**
 * finishSecret: AWSCURRENT moves to the new version (Secrets Manager moves AWSPREVIOUS to
 * the old one), AWSPENDING is removed, and in one transaction DynamoDB makes the new key
 * current and the old one RETIRING until its not-after — or, in emergency mode, revokes
 * every other key of the client. A retry after a crash at any point converges.
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import type { LastRotation } from '../../core/model';
import { rotatedNotice, type ClientNotice } from '../../core/notifications';
import { RotationMode } from '../../core/rotation-request';
import type { KeyTransition } from '../key-repository';
import { requireCurrentVersion, Stage } from '../secret-store';
import { revocationsOf, unrevokedKeysOf } from './client-keys';
import { clientLockedBy, convergent, PENDING_FIELDS, PREVIOUS_FIELDS, type ClientWithPending, type RotationContext, type RotationDeps } from './context';

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
    const stages = await deps.secrets.versionStages(context.secretId);
    const labelledCurrent = requireCurrentVersion(context.secretId, stages);
    if (labelledCurrent !== context.rotationId) {
      if (labelledCurrent !== client.currentVersionId) {
        throw new RotationStateConflictError(
          `finishSecret: AWSCURRENT is on ${labelledCurrent} but the table says ${client.currentVersionId}; refusing to guess.`,
        );
      }
      await deps.secrets.moveStage(context.secretId, Stage.CURRENT, context.rotationId, labelledCurrent);
    }
    await deps.secrets.removeStage(context.secretId, Stage.PENDING, context.rotationId);
    if (emergency) await deps.secrets.removeStage(context.secretId, Stage.PREVIOUS, client.currentVersionId);
    await commitDecidingAgain(deps, context, client, emergency);
    client = await clientLockedBy(deps, context);
  } else {
    // Retried after the table was updated: finish tidying the labels.
    await deps.secrets.removeStage(context.secretId, Stage.PENDING, context.rotationId);
    if (emergency && client.lastRotation) {
      const stages = await deps.secrets.versionStages(context.secretId);
      for (const [versionId, labels] of Object.entries(stages)) {
        if (labels.includes(Stage.PREVIOUS)) await deps.secrets.removeStage(context.secretId, Stage.PREVIOUS, versionId);
      }
    }
  }
  const last = client.lastRotation;
  if (!last || last.rotationId !== context.rotationId) {
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
  if (emergency) {
    // Every key of the client but the new one (revokeImmediately: createSecret already revoked them).
    transitions.push(...revocationsOf((await unrevokedKeysOf(deps.keys, client)).filter((key) => key.keyHash !== newKeyHash), now));
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
  const revokedEarlier = client.pendingRotationId === context.rotationId ? (client.immediatelyRevokedKeyIds ?? []) : [];
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
    clientId: context.clientId, at: now, action, actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId,
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
        audit: [
          audit(emergency ? 'rotation.finished.emergency' : 'rotation.finished', client.pendingKeyId),
          ...revokedNow.map((keyId) => audit('key.revoked', keyId)),
        ],
      }),
    async () => (await deps.keys.getClient(context.clientId))?.currentVersionId === context.rotationId,
  );
}
