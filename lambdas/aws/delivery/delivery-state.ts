/**
 * The part of the client record the delivery projection reads (its delivery settings, secret,
 * offboarding) and the one attribute it writes, `deliveryProjection`, with a compare-and-set on
 * its `projectedAt` (which only grows, so it names one write). Nothing else of the record is
 * read or written: the delivery function's role may touch only these attributes of CLIENT#
 * items (lib/keyroll-delivery.ts), and the operator's writes of the record (its `updatedAt`)
 * never race with the projection's.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ClientDelivery, DeliveryProjectionState } from '../../core/delivery';
import { clientItemKey } from '../table-keys';
import { classifyTransient } from '../transient';
import { guardedUpdate } from '../update-expression';

/** The attributes of a client record the projection reads (a GetItem projection: IAM allows no others). */
export const DELIVERY_READ_ATTRIBUTES = ['clientId', 'secretId', 'offboardedAt', 'delivery', 'deliveryProjection'] as const;
/** The one attribute the projection writes. */
export const DELIVERY_STATE_ATTRIBUTE = 'deliveryProjection';

/** What the projection knows of a client. */
export interface DeliveryView {
  readonly clientId: string;
  readonly secretId: string;
  readonly offboardedAt?: string;
  readonly delivery?: ClientDelivery;
  readonly deliveryProjection?: DeliveryProjectionState;
}

/** Reads and compare-and-sets the projection state of client records in one table. */
export class DeliveryStateStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** The client's view (strongly consistent), or undefined when no client has this id. */
  async read(clientId: string): Promise<DeliveryView | undefined> {
    const names = Object.fromEntries(DELIVERY_READ_ATTRIBUTES.map((name) => [`#${name}`, name]));
    const result = await classifyTransient(() =>
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: clientItemKey(clientId), ConsistentRead: true, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names })),
    );
    return result.Item?.clientId === undefined ? undefined : (result.Item as DeliveryView);
  }

  /**
   * Writes `next` if the stored state is still `previous` (by its projectedAt; undefined: no
   * state yet). False when another projection wrote meanwhile (or the client is gone).
   */
  async compareAndSet(clientId: string, previous: DeliveryProjectionState | undefined, next: DeliveryProjectionState): Promise<boolean> {
    const update = guardedUpdate({
      require: ['attribute_exists(pk)'],
      expect: previous ? { [`${DELIVERY_STATE_ATTRIBUTE}.projectedAt`]: previous.projectedAt } : { [DELIVERY_STATE_ATTRIBUTE]: null },
      set: { [DELIVERY_STATE_ATTRIBUTE]: next },
    });
    try {
      await classifyTransient(() => this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: clientItemKey(clientId), ...update, ReturnValues: 'NONE' })));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/** A projectedAt after `previous` (one millisecond on when the clock has not moved past it), so each write's token is new. */
export function nextProjectedAt(nowIso: string, previous: DeliveryProjectionState | undefined): string {
  if (!previous) return nowIso;
  const after = Date.parse(previous.projectedAt) + 1;
  return Date.parse(nowIso) >= after ? nowIso : new Date(after).toISOString();
}
