/**
 * The client-record attributes the delivery projection reads and writes. Its own module, with
 * no SDK import, because the construct (lib/keyroll-delivery.ts) builds the role's
 * dynamodb:Attributes conditions from the same lists.
 */

/** The attributes of a client record the projection reads (a GetItem projection: IAM allows no others). */
export const DELIVERY_READ_ATTRIBUTES = ['clientId', 'secretId', 'offboardedAt', 'delivery', 'deliveryProjection'] as const;
/** The one attribute the projection writes. */
export const DELIVERY_STATE_ATTRIBUTE = 'deliveryProjection';
