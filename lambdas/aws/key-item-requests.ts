/**
 * The two requests the auth layer makes on a key item, in the document client's form (plain
 * strings, not AttributeValues), and the record read back from an item. One definition for
 * both clients that send them: {@link KeyRepository} through the AWS SDK's document client,
 * and the authorizer's lean client (`lambdas/aws/lean/lean-key-store.ts`), which marshals the
 * same strings itself. So the two cannot drift apart in item shape, condition or consistency.
 * Loads no SDK.
 */
import type { KeyRecord } from '../core/model';
import { keyItemKey } from './table-keys';

/** GetItem of the key item with this hash. */
export function getKeyInput(tableName: string, keyHash: string, consistent: boolean) {
  return { TableName: tableName, Key: keyItemKey(keyHash), ConsistentRead: consistent };
}

/**
 * UpdateItem setting lastUsedAt to `at`, unless a use at or after `staleBefore` is recorded or
 * `at` would move it backwards; never creates an item (`attribute_exists(pk)`) and reads
 * nothing back (`ReturnValues: NONE`). The authorizer's IAM policy allows exactly this shape:
 * a key item, the attributes pk, sk and lastUsedAt, no return values (lib/keyroll-auth.ts).
 */
export function recordUseInput(tableName: string, keyHash: string, at: string, staleBefore: string) {
  return {
    TableName: tableName,
    Key: keyItemKey(keyHash),
    UpdateExpression: 'SET lastUsedAt = :at',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(lastUsedAt) OR (lastUsedAt < :stale AND lastUsedAt < :at))',
    ExpressionAttributeValues: { ':at': at, ':stale': staleBefore },
    ReturnValues: 'NONE' as const,
  };
}

/** The key record of a key item: the item without its table keys. */
export function keyRecordOf(item: Record<string, unknown>): KeyRecord {
  const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, ...record } = item;
  return record as unknown as KeyRecord;
}
