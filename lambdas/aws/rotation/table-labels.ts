/**
 * Where the table says each staging label belongs (docs/design.md, invariant 7: the table is
 * the truth, labels are its projection).
 */
import type { LabelTarget } from '../secret-store';
import type { ClientWithPending } from './context';

/**
 * The labels the client record describes: AWSCURRENT on the current version, AWSPREVIOUS on
 * the previous one during an overlap, AWSPENDING on the version of a rotation that has
 * recorded its pending key (and nowhere else).
 */
export function labelsOfTable(client: ClientWithPending): LabelTarget {
  return {
    current: client.currentVersionId,
    ...(client.previousVersionId ? { previous: client.previousVersionId } : {}),
    ...(client.pendingRotationId && client.pendingKeyHash ? { pending: client.pendingRotationId } : {}),
  };
}
