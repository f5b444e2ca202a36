/**
 * Kill switch: revoke one key by its key id, now. The key is found through the byClient index
 * of that client (and the client record's pointers, which are strongly consistent), then moved
 * to REVOKED by a guarded transition with its audit entry in the same transaction. The auth
 * layer rejects it within its cache TTL (10 s at most).
 *
 * The client's current key is refused unless forced: revoking it locks the client out until a
 * new key is issued. The better answer for a leaked current key is an emergency rotation
 * (with revokeImmediately if seconds matter), which revokes it and hands out a new one.
 * Forcing is for when even that is too slow; follow it with an emergency rotation.
 */
import { isoNow } from '../../lambdas/core/clock';
import { CurrentKeyRevocationRefusedError, UnknownKeyError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import { keyRevokedNotice } from '../../lambdas/core/notifications';
import { parseRevokeKeyRequest } from '../../lambdas/core/ops-requests';
import type { ClientWithPending } from '../../lambdas/aws/rotation/context';
import type { OpsDeps } from './ops-deps';

/** What the kill switch did. */
export interface RevokeKeyResult {
  readonly clientId: string;
  readonly keyId: string;
  /** `already-revoked`: nothing changed (a re-run, or the key was revoked before). */
  readonly outcome: 'revoked' | 'already-revoked';
  /** The key was the client's current key (only with `force`). */
  readonly wasCurrent: boolean;
  /** The state the key was in. */
  readonly previousState: KeyState;
}

/**
 * Revokes one key of a client.
 *
 * @param raw a `RevokeKeyRequest` (validated here).
 * @throws InvalidOperationInput (nothing changed), UnknownClient, UnknownKey, CurrentKeyRevocationRefused
 */
export async function revokeKey(deps: OpsDeps, raw: unknown): Promise<RevokeKeyResult> {
  const request = parseRevokeKeyRequest(raw);
  for (let attempt = 1; ; attempt++) {
    const client = (await deps.keys.requireClient(request.clientId)) as ClientWithPending;
    const key = await findKey(deps, client, request.keyId);
    const wasCurrent = key.keyHash === client.currentKeyHash;
    const base = { clientId: client.clientId, keyId: key.keyId, wasCurrent, previousState: key.state };
    if (key.state === KeyState.REVOKED) {
      await renotifyKillSwitch(deps, client, key);
      return { ...base, outcome: 'already-revoked' };
    }
    if (wasCurrent && !request.force) throw new CurrentKeyRevocationRefusedError(client.clientId, key.keyId);
    const now = isoNow(deps.clock);
    try {
      await deps.keys.applyChange({
        transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: key.state, to: KeyState.REVOKED, set: { revokedAt: now } }],
        // Unforced: only while the key is still not the current one (a rotation may finish meanwhile).
        client: wasCurrent ? undefined : { clientId: client.clientId, expect: { currentKeyHash: client.currentKeyHash }, set: { updatedAt: now } },
        audit: [
          {
            clientId: client.clientId,
            at: now,
            action: wasCurrent ? 'key.revoked.forced' : 'key.revoked',
            actor: request.requestedBy,
            reason: request.reason,
            keyId: key.keyId,
            detail: `kill switch (was ${key.state})`,
          },
        ],
      });
    } catch (error) {
      // The key or the client changed between the read and the write: decide again on what is there now.
      if ((error as Error).name === 'ConditionFailed' && attempt < 3) continue;
      throw error;
    }
    await deps.notifier?.publish(keyRevokedNotice({ clientId: client.clientId, occurredAt: now, revokedKeyId: key.keyId, currentKeyId: client.currentKeyId, wasCurrent }));
    return { ...base, outcome: 'revoked' };
  }
}

/**
 * A re-run that finds the key revoked by the kill switch sends its notice again: a run that
 * crashed between the revocation and the publish never told the client, and nothing records
 * whether it did. The eventId is the same, so it is at worst a duplicate consumers can drop.
 * A key revoked otherwise (retired, offboarded, an emergency rotation) gets no kill-switch notice.
 */
async function renotifyKillSwitch(deps: OpsDeps, client: ClientWithPending, key: KeyRecord): Promise<void> {
  if (!deps.notifier) return;
  const entry = (await deps.keys.listAudit(client.clientId)).find(
    (e) => e.keyId === key.keyId && !e.rotationId && (e.action === 'key.revoked' || e.action === 'key.revoked.forced') && e.detail?.startsWith('kill switch'),
  );
  if (!entry) return;
  await deps.notifier.publish(
    keyRevokedNotice({ clientId: client.clientId, occurredAt: entry.at, revokedKeyId: key.keyId, currentKeyId: client.currentKeyId, wasCurrent: entry.action === 'key.revoked.forced' }),
  );
}

/** The key with `keyId` among the client's keys (pointers first, then the byClient index), read strongly consistent. */
async function findKey(deps: OpsDeps, client: ClientWithPending, keyId: string): Promise<KeyRecord> {
  const pointed = [
    [client.currentKeyId, client.currentKeyHash],
    [client.previousKeyId, client.previousKeyHash],
    [client.pendingKeyId, client.pendingKeyHash],
  ].find(([id, hash]) => id === keyId && hash);
  const hash = pointed?.[1] ?? (await deps.keys.listClientKeys(client.clientId)).find((listed) => listed.keyId === keyId)?.keyHash;
  const key = hash ? await deps.keys.getKey(hash) : undefined;
  if (key?.clientId !== client.clientId) throw new UnknownKeyError(client.clientId, keyId);
  return key;
}
