/**
 * The two table operations the auth layer needs, as small interfaces, so the verifier and
 * the usage recorder do not care which DynamoDB client serves them: {@link KeyRepository}
 * (the AWS SDK, used by the rotation Lambdas and the operator tools) implements both, and so
 * does the authorizer's lean client (`lambdas/aws/lean/lean-key-store.ts`), which signs its
 * own requests instead of loading the SDK at cold start. Types only: importing this module
 * loads nothing.
 */
import type { Deadline } from '../core/deadline';
import type { KeyRecord } from '../core/model';

/** Reads key records by hash. */
export interface KeyRecordReader {
  /**
   * The key with this hash, read strongly consistent unless `consistent` is false; undefined if
   * there is none. An implementation that honours `deadline` starts no attempt it cannot end by
   * it (the authorizer's lean store does; KeyRepository leaves timing to the SDK's settings).
   */
  getKey(keyHash: string, consistent?: boolean, deadline?: Deadline): Promise<KeyRecord | undefined>;
}

/** Records that a key was used. */
export interface UsageWriter {
  /**
   * Sets lastUsedAt to `at` unless another writer recorded a use at or after `staleBefore`
   * (or `at` would move it backwards), and never creates an item. True if this call wrote,
   * false if the condition kept the item as it was. `deadline` as for {@link KeyRecordReader.getKey}.
   */
  recordUse(keyHash: string, at: string, staleBefore: string, deadline?: Deadline): Promise<boolean>;
}
