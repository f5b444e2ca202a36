/**
 * A client's keys that still work or could (every state but REVOKED), for the changes that
 * revoke them all: emergency finish, revokeImmediately, offboarding. The client record's
 * pointers are read strongly consistent; the byClient index (eventually consistent) catches
 * strays, and each listed key is re-read so a guard expects the state as it is now.
 */
import { KeyState } from '../../core/key-state';
import type { KeyRecord } from '../../core/model';
import type { KeyRepository, KeyTransition } from '../key-repository';
import type { ClientWithPending } from './context';

/** Every not-REVOKED key of `client`, each read strongly consistent, in a stable order. */
export async function unrevokedKeysOf(keys: KeyRepository, client: ClientWithPending): Promise<KeyRecord[]> {
  const found = new Map<string, KeyRecord>();
  const pointers = [client.currentKeyHash, client.previousKeyHash, client.pendingKeyHash].filter((hash): hash is string => Boolean(hash));
  for (const hash of pointers) {
    const key = await keys.getKey(hash);
    if (key) found.set(key.keyHash, key);
  }
  for (const listed of await keys.listClientKeys(client.clientId)) {
    if (found.has(listed.keyHash) || listed.state === KeyState.REVOKED) continue;
    const key = await keys.getKey(listed.keyHash);
    if (key) found.set(key.keyHash, key);
  }
  return [...found.values()].filter((key) => key.state !== KeyState.REVOKED).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
}

/** The guarded transitions that revoke `keys` at `now` (each from the state it was read in). */
export function revocationsOf(keys: readonly KeyRecord[], now: string): KeyTransition[] {
  return keys.filter((key) => key.state !== KeyState.REVOKED).map((key) => ({ keyHash: key.keyHash, keyId: key.keyId, from: key.state, to: KeyState.REVOKED, set: { revokedAt: now } }));
}

/**
 * Most key revocations one transaction carries next to its other items (each revocation is
 * two items: the key and its audit entry; DynamoDB allows 100 per transaction).
 */
export const REVOCATIONS_PER_TRANSACTION = 40;
