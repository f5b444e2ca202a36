/**
 * createSecret: a new key as the AWSPENDING version (version id = rotation id) and its
 * hash in DynamoDB as PENDING. Converges after a crash between the two writes: the
 * retry finds the version (read by version id), re-reads it and records the hash.
 *
 * First it repairs: an abandoned rotation's leftovers are undone and the labels are put where
 * the table says (docs/design.md, invariant 7), instead of refusing to rotate.
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
import { RotationMode } from '../../core/rotation-request';
import type { KeyTransition } from '../key-repository';
import { REVOCATIONS_PER_TRANSACTION, revocationsOf, unrevokedKeysOf } from './client-keys';
import { clientLockedBy, convergent, hasFinished, type ClientWithPending, type RotationContext, type RotationDeps } from './context';
import type { LabelTarget } from '../secret-store';
import { isOperationLock } from './lock-holder';
import { labelsOfTable, targetUnderLock } from './table-labels';
import { undoUnfinishedRotation } from './undo-rotation';

/** Result of createSecret: the new key's id (never the key). */
export interface CreateSecretResult {
  readonly pendingKeyId: string;
}

/**
 * True when the table proves that `rotationId`'s version exists: it is the current or previous
 * version, or the pending one with its key recorded (recorded only after its PutSecretValue).
 * Fencing such a version would be a quota-bound write that Secrets Manager refuses anyway: a late
 * PutSecretValue of that rotation replays its own token and value, which changes nothing
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
 */
function versionProvedByTable(client: ClientWithPending, rotationId: string): boolean {
  return client.currentVersionId === rotationId || client.previousVersionId === rotationId || (client.pendingRotationId === rotationId && client.pendingKeyHash !== undefined);
}

export async function createSecret(deps: RotationDeps, context: RotationContext, random?: RandomBytes): Promise<CreateSecretResult> {
  let client = await clientLockedBy(deps, context);
  // A resumed rotation that already finished changes nothing (its key is current).
  if (hasFinished(client, context)) return { pendingKeyId: client.currentKeyId };
  const underOurLock = (shape?: (c: ClientWithPending) => LabelTarget) => targetUnderLock(deps.keys, context.clientId, context.rotationId, shape);
  if (client.pendingRotationId === context.rotationId && client.pendingKeyId) {
    await deps.secrets.projectLabels(context.secretId, underOurLock());
    return { pendingKeyId: client.pendingKeyId };
  }
  // The rotation this one took the lock from may still be running a step (a zombie): its version
  // is created now, so that its late PutSecretValue can neither create it nor take AWSPENDING.
  const preempted = client.lock?.preemptedRotationId;
  if (preempted && !isOperationLock({ rotationId: preempted }) && !versionProvedByTable(client, preempted)) await deps.secrets.fenceVersion(context.secretId, preempted);
  if (client.pendingRotationId && client.pendingRotationId !== context.rotationId) {
    // An abandoned rotation's leftovers (its lock expired or was taken over without a clean-up):
    // fenced and undone like a preempted one; a key that was AWSCURRENT gets the overlap as grace.
    const stale = client.pendingRotationId;
    if (!versionProvedByTable(client, stale)) await deps.secrets.fenceVersion(context.secretId, stale);
    const emergency = context.mode === RotationMode.EMERGENCY;
    await undoUnfinishedRotation(deps, { ...context, rotationId: stale, overlapSeconds: emergency ? 0 : context.overlapSeconds }, client, {
      exposedKey: emergency ? 'revoke' : 'grace',
      undoneBy: context.rotationId,
    });
    client = await clientLockedBy(deps, context);
  }
  // Read by version id: a version without labels exists too (DescribeSecret does not list it).
  const existing = await deps.secrets.readVersion(context.secretId, context.rotationId);
  // The table is the truth: labels that a stopped rotation's late write (or an abandoned finish)
  // moved are put back where the table says. A version of ours that exists (an earlier attempt)
  // keeps or gets AWSPENDING in the same pass: removing it and adding it back would need a move
  // onto an unlabelled version, which no compare-and-set guards.
  const ours = (c: ClientWithPending): LabelTarget => ({ ...labelsOfTable(c), pending: context.rotationId });
  await deps.secrets.projectLabels(context.secretId, existing ? underOurLock(ours) : underOurLock());
  // The rotation's one PutSecretValue (invariants 3 and 5: the key exists only in Secrets
  // Manager, under the rotation id as ClientRequestToken, so a retry converges on one version).
  // It also takes AWSPENDING from wherever it is (the last rotation's version), with no write of its own.
  const value = existing ?? (await putNewKey(deps, context, random));
  // Normally a no-op: PutSecretValue attached AWSPENDING (a version that appeared meanwhile may lack it).
  await deps.secrets.projectLabels(context.secretId, underOurLock(ours));
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
  const { overflow, immediate } = context.revokeImmediately ? await revokeAllButOverflow(deps, context, client, now) : { overflow: [], immediate: [] };
  const audit = (action: string, keyId: string) => ({ clientId: context.clientId, at: now, action, actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId });
  await convergent(
    () =>
      deps.keys.applyChange({
        insertKeys: [record],
        transitions: immediate,
        client: {
          clientId: context.clientId,
          expect: { 'lock.rotationId': context.rotationId },
          set: {
            pendingKeyHash: keyHash,
            pendingKeyId: value.keyId,
            pendingRotationId: context.rotationId,
            // Every key this step revoked, the overflow's too: finishSecret reports them in the notice.
            ...(context.revokeImmediately ? { immediatelyRevokedKeyIds: [...overflow, ...immediate.map((t) => t.keyId)] } : {}),
            updatedAt: now,
          },
        },
        audit: [audit('key.created', value.keyId), ...immediate.map((t) => audit('key.revoked', t.keyId))],
      }),
    async () => ((await deps.keys.getClient(context.clientId)) as { pendingRotationId?: string } | undefined)?.pendingRotationId === context.rotationId,
  );
  return { pendingKeyId: value.keyId };
}

/** A fresh key as the rotation's version; if that version appeared meanwhile, its value instead. */
async function putNewKey(deps: RotationDeps, context: RotationContext, random?: RandomBytes): Promise<SecretValue> {
  const apiKey = generateApiKey(deps.settings.keyPrefix, random);
  return deps.secrets.putPending(context.secretId, context.rotationId, { apiKey, keyId: keyIdOf(apiKey) });
}

/**
 * revokeImmediately: the transitions that revoke every existing key of the client. A client has
 * a handful of keys; should it have more than one transaction carries, the excess is revoked
 * first in transactions of its own (each conditioned on the lock).
 *
 * @returns `immediate`, the transitions left for the step's own transaction, and `overflow`,
 *   the ids of the keys already revoked here.
 */
async function revokeAllButOverflow(deps: RotationDeps, context: RotationContext, client: ClientWithPending, now: string): Promise<{ overflow: string[]; immediate: KeyTransition[] }> {
  const transitions = revocationsOf(await unrevokedKeysOf(deps.keys, client), now);
  const overflow: string[] = [];
  while (transitions.length > REVOCATIONS_PER_TRANSACTION) {
    const chunk = transitions.splice(0, REVOCATIONS_PER_TRANSACTION);
    await deps.keys.applyChange({
      transitions: chunk,
      client: { clientId: context.clientId, expect: { 'lock.rotationId': context.rotationId }, set: { updatedAt: now } },
      audit: chunk.map((t) => ({ clientId: context.clientId, at: now, action: 'key.revoked', actor: context.requestedBy, reason: context.reason, rotationId: context.rotationId, keyId: t.keyId })),
    });
    overflow.push(...chunk.map((t) => t.keyId));
  }
  return { overflow, immediate: transitions };
}
