/**
 * createSecret: a new key as the AWSPENDING version (version id = rotation id) and its
 * hash in DynamoDB as PENDING. Converges after a crash between the two writes: the
 * retry finds the version, re-reads it and records the hash.
 *
 * revokeImmediately (emergency only): in the same transaction that records the new key,
 * every existing key of the client is revoked. From that moment until the client reads the
 * new key (after finishSecret makes it AWSCURRENT) the client has no working key: the price
 * of cutting off a leaked key seconds earlier than an emergency rotation's finish would.
 */
import { generateApiKey, hashApiKey, keyIdOf, type RandomBytes } from '../../core/api-key';
import { isoNow } from '../../core/clock';
import { KeyState } from '../../core/key-state';
import type { KeyRecord } from '../../core/model';
import type { SecretValue } from '../../core/secret-value';
import { RotationStateConflictError } from '../../core/errors';
import { requireCurrentVersion, Stage, versionWithStage } from '../secret-store';
import type { KeyTransition } from '../key-repository';
import { REVOCATIONS_PER_TRANSACTION, revocationsOf, unrevokedKeysOf } from './client-keys';
import { clientLockedBy, convergent, type ClientWithPending, type RotationContext, type RotationDeps } from './context';

/** Result of createSecret: the new key's id (never the key). */
export interface CreateSecretResult {
  readonly pendingKeyId: string;
}

export async function createSecret(
  deps: RotationDeps,
  context: RotationContext,
  random?: RandomBytes,
): Promise<CreateSecretResult> {
  const client = await clientLockedBy(deps, context);
  if (client.pendingRotationId === context.rotationId && client.pendingKeyId) {
    return { pendingKeyId: client.pendingKeyId };
  }
  const stages = await deps.secrets.versionStages(context.secretId);
  // An abandoned rotation may have moved AWSCURRENT before recording it (finishSecret cut
  // off between its two halves). Clients may already hold that key, so it must not be
  // revoked as a stray; only an operator can tell whether to finish or roll it back.
  const labelledCurrent = requireCurrentVersion(context.secretId, stages);
  if (labelledCurrent !== client.currentVersionId) {
    throw new RotationStateConflictError(
      `createSecret: AWSCURRENT of ${context.secretId} is on version ${labelledCurrent} but the table says ${client.currentVersionId}; ` +
        'an earlier rotation stopped inside finishSecret. Finish or roll it back before rotating again.',
    );
  }
  let value: SecretValue | undefined = stages[context.rotationId]
    ? await deps.secrets.readVersion(context.secretId, context.rotationId)
    : undefined;
  if (!value) {
    // An abandoned rotation may have left its version labelled AWSPENDING; the label belongs to us now.
    const stale = versionWithStage(stages, Stage.PENDING);
    if (stale && stale !== context.rotationId) await deps.secrets.removeStage(context.secretId, Stage.PENDING, stale);
    const apiKey = generateApiKey(deps.settings.keyPrefix, random);
    value = { apiKey, keyId: keyIdOf(apiKey) };
    await deps.secrets.putPending(context.secretId, context.rotationId, value);
  }
  const keyHash = hashApiKey(value.apiKey);
  const now = isoNow(deps.clock);
  const record: KeyRecord = {
    keyHash,
    keyId: value.keyId,
    clientId: context.clientId,
    secretVersionId: context.rotationId,
    rotationId: context.rotationId,
    state: KeyState.PENDING,
    scopes: client.scopes,
    createdAt: now,
  };
  const staleKey = client.pendingKeyHash ? await deps.keys.getKey(client.pendingKeyHash) : undefined;
  // A key left by an abandoned rotation is never handed to the client: revoke it.
  const staleRevocation: KeyTransition[] =
    staleKey && staleKey.state !== KeyState.REVOKED && staleKey.state !== KeyState.RETIRING
      ? [{ keyHash: staleKey.keyHash, keyId: staleKey.keyId, from: staleKey.state, to: KeyState.REVOKED, set: { revokedAt: now } }]
      : [];
  const immediate = context.revokeImmediately ? await revokeAllButOverflow(deps, context, client, now, staleKey?.keyHash) : [];
  const audit = (action: string, keyId: string) => ({ clientId: context.clientId, at: now, action, actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId });
  await convergent(
    () =>
      deps.keys.applyChange({
        insertKeys: [record],
        transitions: [...staleRevocation, ...immediate],
        client: {
          clientId: context.clientId,
          expect: { 'lock.rotationId': context.rotationId },
          set: {
            pendingKeyHash: keyHash,
            pendingKeyId: value.keyId,
            pendingRotationId: context.rotationId,
            ...(context.revokeImmediately ? { immediatelyRevokedKeyIds: immediate.map((t) => t.keyId) } : {}),
            updatedAt: now,
          },
        },
        audit: [audit('key.created', value.keyId), ...immediate.map((t) => audit('key.revoked', t.keyId))],
      }),
    async () => ((await deps.keys.getClient(context.clientId)) as { pendingRotationId?: string } | undefined)?.pendingRotationId === context.rotationId,
  );
  return { pendingKeyId: value.keyId };
}


/**
 * revokeImmediately: the transitions that revoke every existing key of the client (the stale
 * key of an abandoned rotation has its own). A client has a handful of keys; should it have
 * more than one transaction carries, the excess is revoked first in transactions of its own.
 */
async function revokeAllButOverflow(
  deps: RotationDeps,
  context: RotationContext,
  client: ClientWithPending,
  now: string,
  staleKeyHash: string | undefined,
): Promise<KeyTransition[]> {
  const keys = (await unrevokedKeysOf(deps.keys, client)).filter((key) => key.keyHash !== staleKeyHash);
  const transitions = revocationsOf(keys, now);
  while (transitions.length > REVOCATIONS_PER_TRANSACTION) {
    const chunk = transitions.splice(0, REVOCATIONS_PER_TRANSACTION);
    await deps.keys.applyChange({
      transitions: chunk,
      audit: chunk.map((t) => ({ clientId: context.clientId, at: now, action: 'key.revoked', actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId: t.keyId })),
    });
  }
  return transitions;
}
