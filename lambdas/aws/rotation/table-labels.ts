/**
 * Where the table says each staging label belongs (docs/design.md, invariant 7: the table is
 * the truth, labels are its projection), read again under the lock for every label change.
 */
import { RotationStateConflictError } from '../../core/errors';
import type { KeyRepository } from '../key-repository';
import type { LabelTarget } from '../secret-store';
import type { ClientWithPending } from './context';

/**
 * The labels the client record describes: AWSCURRENT on the current version, AWSPREVIOUS on
 * the previous one during an overlap, AWSPENDING on the version of a rotation that has
 * recorded its pending key. Outside those, AWSPENDING may rest on the current version and
 * AWSPREVIOUS on the version AWSCURRENT left (see {@link LabelTarget}).
 */
export function labelsOfTable(client: ClientWithPending): LabelTarget {
  return {
    current: client.currentVersionId,
    ...(client.previousVersionId ? { previous: client.previousVersionId } : {}),
    ...(client.pendingRotationId && client.pendingKeyHash ? { pending: client.pendingRotationId } : {}),
  };
}

/**
 * A target for {@link SecretStore.projectLabels} that reads the client again each time it is
 * asked — after each read of the labels — and refuses once the lock is no longer `lockedBy`'s.
 * A label move is thus sent only from a read of the labels made while the writer still held the
 * lock: if the lock is taken meanwhile, the new holder's next move changes the label's holder and
 * the late move's compare-and-set fails, or the late move lands first and the new holder's next
 * projection undoes it. A target computed once and re-applied after a lost race would instead
 * let a stopped step win against the rotation that took its lock.
 *
 * @param shape where the labels belong given the client as read now (default: {@link labelsOfTable}).
 */
export function targetUnderLock(
  keys: Pick<KeyRepository, 'requireClient'>,
  clientId: string,
  lockedBy: string | null,
  shape: (client: ClientWithPending) => LabelTarget = labelsOfTable,
): () => Promise<LabelTarget> {
  return async () => {
    const client = (await keys.requireClient(clientId)) as ClientWithPending;
    const holder = client.lock?.rotationId ?? null;
    if (holder !== lockedBy) {
      throw new RotationStateConflictError(`The lock of client ${clientId} is held by ${holder ?? 'nobody'}, not ${lockedBy ?? 'nobody'}: its labels are the holder's to move.`);
    }
    return shape(client);
  };
}
