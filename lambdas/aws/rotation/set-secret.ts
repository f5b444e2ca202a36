/**
 * setSecret: make the new key acceptable to the auth layer (PENDING → ACTIVE) while the
 * old key stays ACTIVE. Clients do not see the new key yet: it is still AWSPENDING.
 * The write is conditioned on the lock (a stopped execution's late call changes nothing).
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import { clientLockedBy, convergent, hasFinished, type RotationContext, type RotationDeps } from './context';

/** Result of setSecret. */
export interface SetSecretResult {
  readonly activatedKeyId: string;
}

export async function setSecret(deps: RotationDeps, context: RotationContext): Promise<SetSecretResult> {
  const client = await clientLockedBy(deps, context);
  if (hasFinished(client, context)) return { activatedKeyId: client.currentKeyId };
  if (client.pendingRotationId !== context.rotationId || !client.pendingKeyHash) {
    throw new RotationStateConflictError(`setSecret: rotation ${context.rotationId} has no pending key (createSecret has not completed).`);
  }
  const keyHash = client.pendingKeyHash;
  const key = await deps.keys.getKey(keyHash);
  if (!key) throw new RotationStateConflictError(`setSecret: pending key ${client.pendingKeyId} is missing from the table.`);
  if (key.state === KeyState.ACTIVE) return { activatedKeyId: key.keyId };
  const now = isoNow(deps.clock);
  await convergent(
    () =>
      deps.keys.applyChange({
        transitions: [{ keyHash, keyId: key.keyId, from: KeyState.PENDING, to: KeyState.ACTIVE, set: { activatedAt: now } }],
        client: { clientId: context.clientId, expect: { 'lock.rotationId': context.rotationId, pendingRotationId: context.rotationId }, set: { updatedAt: now } },
        audit: [{ clientId: context.clientId, at: now, action: 'key.activated', actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId: key.keyId }],
      }),
    async () => (await deps.keys.getKey(keyHash))?.state === KeyState.ACTIVE,
  );
  return { activatedKeyId: key.keyId };
}
