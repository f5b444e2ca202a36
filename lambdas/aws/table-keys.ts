/**
 * Item keys of the single KeyRoll table. One place, so the layout is documented once:
 *
 * | item        | pk                  | sk                          | gsi1pk (byClient)   | gsi1sk              |
 * |-------------|---------------------|-----------------------------|---------------------|---------------------|
 * | key         | `KEY#<keyHash>`     | `KEY`                       | `CLIENT#<clientId>` | `KEY#<createdAt>#<keyId>` |
 * | client      | `CLIENT#<clientId>` | `CLIENT`                    | `CLIENTS`           | `CLIENT#<clientId>` |
 * | audit event | `CLIENT#<clientId>` | `AUDIT#<rotationId or at>#<action>[#<keyId>][#<sequence>]` (append-only) |  |         |
 * | fleet selection chunk | `FLEET#<fleetId>` | `SELECTION#<chunk, 5 digits>` (written once per fleet id) |  |  |
 * | pickup jti  | `PICKUP#<clientId>` | `JTI#<jti>` (written once: a replay fails the condition) |  |  |
 *
 * The table's TTL attribute is {@link TTL_ATTRIBUTE} (epoch seconds). Only pickup jti items
 * carry it (a little after the assertion's `exp`, when a replay would be refused as expired
 * anyway); DynamoDB deletes them some time after, never any other item.
 *
 * The auth hot path is one GetItem on `KEY#<hash>`. Every client record also sits in the
 * byClient partition `CLIENTS`, so a fleet rotation pages through the clients with a Query
 * instead of a scan of keys and audit events.
 */

/** Name of the global secondary index that lists a client's keys. */
export const BY_CLIENT_INDEX = 'byClient';

export const keyItemKey = (keyHash: string) => ({ pk: `KEY#${keyHash}`, sk: 'KEY' });
/** Every key item's partition key matches this IAM pattern (`dynamodb:LeadingKeys`); no other item's does. */
export const KEY_ITEM_PK_PATTERN = 'KEY#*';
/** The table's key attributes, which IAM's `dynamodb:Attributes` must list for any request to pass. */
export const TABLE_KEY_ATTRIBUTES = ['pk', 'sk'] as const;
/** The one attribute the authorizer writes on a key item. */
export const USAGE_ATTRIBUTE = 'lastUsedAt';
/** Every client item's (and audit event's) partition key matches this IAM pattern; the pickup function reads only client items. */
export const CLIENT_ITEM_PK_PATTERN = 'CLIENT#*';
export const clientItemKey = (clientId: string) => ({ pk: `CLIENT#${clientId}`, sk: 'CLIENT' });
export const keyIndexKey = (clientId: string, createdAt: string, keyId: string) => ({
  gsi1pk: `CLIENT#${clientId}`,
  gsi1sk: `KEY#${createdAt}#${keyId}`,
});
/** The byClient partition that lists every client record. */
export const CLIENT_LIST_PARTITION = 'CLIENTS';
export const clientListKey = (clientId: string) => ({ gsi1pk: CLIENT_LIST_PARTITION, gsi1sk: `CLIENT#${clientId}` });
/**
 * Audit events of a rotation are keyed by rotation and action (plus key id and sequence), so a
 * retried step's entry has the same key: written once, its replay recognised (audit-items.ts).
 */
export const auditItemKey = (clientId: string, discriminator: string, action: string) => ({
  pk: `CLIENT#${clientId}`,
  sk: `AUDIT#${discriminator}#${action}`,
});

/** One chunk of a fleet's explicit list of clients (lambdas/aws/fleet/fleet-selections.ts). */
export const fleetSelectionKey = (fleetId: string, chunk: number) => ({ pk: `FLEET#${fleetId}`, sk: `SELECTION#${String(chunk).padStart(5, '0')}` });
/** The partition of a fleet's selection chunks (the fleet page reads only these: IAM dynamodb:LeadingKeys `FLEET#*`). */
export const fleetPartition = (fleetId: string) => `FLEET#${fleetId}`;

/** A spent pickup assertion id (lambdas/aws/pickup/pickup-table.ts). */
export const pickupJtiKey = (clientId: string, jti: string) => ({ pk: `PICKUP#${clientId}`, sk: `JTI#${jti}` });
/** Every pickup jti item's partition key matches this IAM pattern (`dynamodb:LeadingKeys`); no other item's does. */
export const PICKUP_ITEM_PK_PATTERN = 'PICKUP#*';
/** The table's TTL attribute (epoch seconds; `timeToLiveAttribute` in lib/keyroll-rotation.ts). Only pickup jti items have it. */
export const TTL_ATTRIBUTE = 'expiresAtEpoch';
/** The client-record attributes the pickup function reads (its GetItem's projection; its role's `dynamodb:Attributes`). */
export const PICKUP_CLIENT_ATTRIBUTES = ['clientId', 'secretId', 'currentKeyId', 'currentKeyHash', 'currentVersionId', 'offboardedAt', 'delivery'] as const;
