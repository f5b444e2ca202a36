/**
 * retire: after the overlap, the previous key is revoked (RETIRING → REVOKED) and its
 * AWSPREVIOUS label removed. Refuses to act before the key's not-after (invariant 2).
 * Labels go first: a crash after the table update would otherwise leave the label
 * behind with nothing pointing at it.
 */
import { isoNow } from '../../core/clock';
import { OverlapNotElapsedError, RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import { retiredNotice, type ClientNotice } from '../../core/notifications';
import { Stage } from '../secret-store';
import { clientLockedBy, convergent, PREVIOUS_FIELDS, type RotationContext, type RotationDeps } from './context';

/** Result of retire: the notice to publish. */
export interface RetireResult {
  readonly retiredKeyId: string;
  readonly notice: ClientNotice;
}

export async function retireOldKey(deps: RotationDeps, context: RotationContext): Promise<RetireResult> {
  const client = await clientLockedBy(deps, context);
  const last = client.lastRotation;
  if (last?.rotationId !== context.rotationId) {
    throw new RotationStateConflictError(`retire: rotation ${context.rotationId} has not finished.`);
  }
  const now = isoNow(deps.clock);
  const result: RetireResult = {
    retiredKeyId: last.previousKeyId,
    notice: retiredNotice({ clientId: context.clientId, rotationId: context.rotationId, occurredAt: now, retiredKeyId: last.previousKeyId, currentKeyId: client.currentKeyId }),
  };
  if (!client.previousKeyHash || client.previousKeyId !== last.previousKeyId) return result; // already retired
  const previousKeyHash = client.previousKeyHash;
  const key = await deps.keys.getKey(previousKeyHash);
  if (key?.state === KeyState.RETIRING && key.notAfter && Date.parse(key.notAfter) > deps.clock.nowMs()) {
    throw new OverlapNotElapsedError(key.keyId, key.notAfter);
  }
  if (client.previousVersionId) await deps.secrets.removeStage(context.secretId, Stage.PREVIOUS, client.previousVersionId);
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions: key && key.state !== KeyState.REVOKED ? [{ keyHash: key.keyHash, keyId: key.keyId, from: key.state, to: KeyState.REVOKED, set: { revokedAt: now } }] : [],
        client: {
          clientId: context.clientId,
          expect: { previousKeyHash, 'lock.rotationId': context.rotationId },
          set: { updatedAt: now },
          remove: [...PREVIOUS_FIELDS],
        },
        audit: [{ clientId: context.clientId, at: now, action: 'key.retired', actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId: last.previousKeyId }],
      }),
    async () => (await deps.keys.getClient(context.clientId))?.previousKeyHash !== previousKeyHash,
  );
  return result;
}
