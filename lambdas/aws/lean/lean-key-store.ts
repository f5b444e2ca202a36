/**
 * The authorizer's two table operations over the lean DynamoDB client: the same requests as
 * {@link KeyRepository}'s `getKey` and `recordUse` (built by the same functions, see
 * `key-item-requests.ts`), the same records back, the same errors out (throttling and
 * transient faults as TransientAwsError once the client's retries are spent; a failed usage
 * condition as `false`). Loads no AWS SDK package.
 */
import type { Deadline } from '../../core/deadline';
import type { KeyRecord } from '../../core/model';
import type { KeyRecordReader, UsageWriter } from '../key-access';
import { getKeyInput, keyRecordOf, recordUseInput } from '../key-item-requests';
import { classifyTransient } from '../transient';
import { fromItem, stringAttributes, type AttributeMap } from './attribute-values';
import { DynamoDbHttpClient, isConditionalCheckFailed } from './dynamodb-http';

/** Key reads and usage writes on the KeyRoll table, without the SDK. */
export class LeanKeyStore implements KeyRecordReader, UsageWriter {
  constructor(
    private readonly dynamo: DynamoDbHttpClient,
    private readonly tableName: string,
  ) {}

  /** The key with this hash, read strongly consistent unless `consistent` is false; no attempt starts that cannot end by `deadline`. */
  async getKey(keyHash: string, consistent = true, deadline?: Deadline): Promise<KeyRecord | undefined> {
    const { Key, ...rest } = getKeyInput(this.tableName, keyHash, consistent);
    const result = await classifyTransient(() => this.dynamo.send<{ Item?: AttributeMap }>('GetItem', { ...rest, Key: stringAttributes(Key) }, deadline));
    return result.Item ? keyRecordOf(fromItem(result.Item)) : undefined;
  }

  /** As {@link KeyRepository.recordUse}: true if this call wrote, false if the condition kept the item. */
  async recordUse(keyHash: string, at: string, staleBefore: string, deadline?: Deadline): Promise<boolean> {
    const { Key, ExpressionAttributeValues, ...rest } = recordUseInput(this.tableName, keyHash, at, staleBefore);
    try {
      await classifyTransient(() => this.dynamo.send('UpdateItem', { ...rest, Key: stringAttributes(Key), ExpressionAttributeValues: stringAttributes(ExpressionAttributeValues) }, deadline));
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw error;
    }
  }
}
