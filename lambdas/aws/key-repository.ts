/**
 * DynamoDB adapter for key metadata, client records and the audit trail.
 *
 * Every state change is guarded by a condition expression on the state it expects, and
 * every multi-item change is one TransactWriteItems, so a crash never leaves half a
 * change. A failed condition becomes {@link ConditionFailedError}; callers re-read and
 * decide whether the change had in fact already been applied (idempotent retry) or a
 * real conflict occurred. Audit entries are append-only: written once, never replaced; a
 * retried step's identical entry counts as already written (see `transact`).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ClientOffboardedError, KeyRollError, RotationInProgressError, UnknownClientError } from '../core/errors';
import { assertTransition, type KeyState } from '../core/key-state';
import type { AuditEvent, ClientRecord, KeyRecord, RotationLock } from '../core/model';
import type { KeyRecordReader, UsageWriter } from './key-access';
import { getKeyInput, keyRecordOf, recordUseInput } from './key-item-requests';
import { auditPut, isAuditPut, isAuditReplay, type TransactItem } from './audit-items';
import { BY_CLIENT_INDEX, CLIENT_LIST_PARTITION, clientItemKey, clientListKey, keyIndexKey, keyItemKey } from './table-keys';
import { classifyTransient, TransientAwsError } from './transient';
import { guardedUpdate } from './update-expression';
import { FleetSelections } from './fleet/fleet-selections';

// Cancellation codes that a retry can clear (another transaction touched the item, or throttling).
const TRANSIENT_CANCELLATIONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);

/** A conditional write found the item in another state than expected. */
export class ConditionFailedError extends KeyRollError {
  override readonly name = 'ConditionFailed';
}

/** A key state change: applied only if the key is still in `from`. */
export interface KeyTransition {
  readonly keyHash: string;
  readonly keyId: string;
  readonly from: KeyState;
  readonly to: KeyState;
  /** Timestamps to set with the change (activatedAt, notAfter, revokedAt). */
  readonly set?: Partial<Pick<KeyRecord, 'activatedAt' | 'notAfter' | 'revokedAt'>>;
  /** Attributes to clear with the change (e.g. `notAfter` when a rollback makes a key current again). */
  readonly remove?: readonly ('notAfter' | 'revokedAt')[];
}

/** A key that must still be in `state` for a change to apply (a guard, nothing is written to it). */
export interface KeyStateCheck {
  readonly keyHash: string;
  readonly state: KeyState;
}

/** Moves a RETIRING key's not-after later, applied only if it is still RETIRING with `fromNotAfter`. */
export interface KeyDeadlineExtension {
  readonly keyHash: string;
  readonly keyId: string;
  readonly fromNotAfter: string;
  readonly toNotAfter: string;
}

/** A change of the client record, applied only if each `expect` attribute still has its value. */
export interface ClientUpdate {
  readonly clientId: string;
  /**
   * Attribute → expected value; `null` means the attribute must be absent. A map (e.g. the
   * client's `delivery`) is compared whole: DynamoDB's `=` compares maps and lists by value.
   */
  readonly expect: Readonly<Record<string, string | null | object>>;
  readonly set?: Readonly<Record<string, unknown>>;
  readonly remove?: readonly string[];
}

/** Key metadata, client records and audit, in one table. */
export class KeyRepository implements KeyRecordReader, UsageWriter {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** The key with this hash, read strongly consistent unless `consistent` is false. */
  async getKey(keyHash: string, consistent = true): Promise<KeyRecord | undefined> {
    const result = await classifyTransient(() => this.doc.send(new GetCommand(getKeyInput(this.tableName, keyHash, consistent))));
    return result.Item ? keyRecordOf(result.Item) : undefined;
  }

  /** Fleet selections (explicit client lists of fleet rotations) in the same table. */
  fleetSelections(): FleetSelections {
    return new FleetSelections(this.doc, this.tableName);
  }

  /** The client record (strongly consistent). */
  async getClient(clientId: string): Promise<ClientRecord | undefined> {
    const result = await classifyTransient(() => this.doc.send(new GetCommand({ TableName: this.tableName, Key: clientItemKey(clientId), ConsistentRead: true })));
    return result.Item ? toClientRecord(result.Item) : undefined;
  }

  /** The client record, or {@link UnknownClientError}. */
  async requireClient(clientId: string): Promise<ClientRecord> {
    const client = await this.getClient(clientId);
    if (!client) throw new UnknownClientError(clientId);
    return client;
  }

  /**
   * One page of live (not offboarded) client ids, in id order, through the byClient index
   * (eventually consistent: a client registered a moment ago may be missing). With `tag`,
   * only clients carrying it. Reads until `limit` ids are found or the index is exhausted;
   * `last` (the last id returned: no secret) is where the next page starts, absent after the last page.
   */
  async listClientIds(options: { tag?: string; limit: number; after?: string }): Promise<{ clientIds: string[]; last?: string }> {
    const clientIds: string[] = [];
    let last: string | undefined;
    await classifyTransient(async () => {
      const pages = paginateQuery(
        // Limit counts the items read before the filter, so each request reads at most `limit`
        // (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html).
        { client: this.doc, pageSize: options.limit, ...(options.after ? { startingToken: { ...clientItemKey(options.after), ...clientListKey(options.after) } } : {}) },
        {
          TableName: this.tableName,
          IndexName: BY_CLIENT_INDEX,
          KeyConditionExpression: 'gsi1pk = :clients',
          FilterExpression: options.tag === undefined ? 'attribute_not_exists(offboardedAt)' : 'attribute_not_exists(offboardedAt) AND contains(tags, :tag)',
          ExpressionAttributeValues: { ':clients': CLIENT_LIST_PARTITION, ...(options.tag === undefined ? {} : { ':tag': options.tag }) },
          ProjectionExpression: 'clientId',
        },
      );
      for await (const page of pages) {
        const found = (page.Items ?? []).map((item) => String(item.clientId));
        const room = options.limit - clientIds.length;
        clientIds.push(...found.slice(0, room));
        if (clientIds.length < options.limit) continue;
        // Full: stop reading. The next page starts after the last id returned, unless the index
        // ended with it.
        if (found.length > room || page.LastEvaluatedKey) last = clientIds.at(-1);
        break;
      }
    });
    return { clientIds, ...(last ? { last } : {}) };
  }

  /** Every key of a client, oldest first (through the byClient index, eventually consistent). */
  async listClientKeys(clientId: string): Promise<KeyRecord[]> {
    const keys: KeyRecord[] = [];
    await classifyTransient(async () => {
      const pages = paginateQuery(
        { client: this.doc },
        { TableName: this.tableName, IndexName: BY_CLIENT_INDEX, KeyConditionExpression: 'gsi1pk = :pk', ExpressionAttributeValues: { ':pk': `CLIENT#${clientId}` } },
      );
      for await (const page of pages) keys.push(...(page.Items ?? []).map(keyRecordOf));
    });
    return keys;
  }

  /** The audit trail of a client, in the order the events happened. */
  listAudit(clientId: string): Promise<AuditEvent[]> {
    return this.auditUnder(clientId, 'AUDIT#');
  }

  /**
   * The audit entries of one rotation of a client (`AUDIT#<rotationId>#...`, strongly
   * consistent), in the order they happened. Empty when that rotation id never ran for the client.
   * Rotation ids never contain '#', so the prefix matches this rotation's entries only.
   */
  auditOfRotation(clientId: string, rotationId: string): Promise<AuditEvent[]> {
    return this.auditUnder(clientId, `AUDIT#${rotationId}#`);
  }

  /** Every audit entry of the client whose sort key starts with `prefix` (strongly consistent), oldest first. */
  private async auditUnder(clientId: string, prefix: string): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    await classifyTransient(async () => {
      const pages = paginateQuery(
        { client: this.doc },
        {
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': `CLIENT#${clientId}`, ':prefix': prefix },
          ConsistentRead: true,
        },
      );
      for await (const page of pages) events.push(...(page.Items ?? []).map(toAuditEvent));
    });
    return events.sort((x, y) => x.at.localeCompare(y.at));
  }

  /** Writes a new client record with its first (ACTIVE) key. Fails with ConditionFailedError if either exists. */
  async createClient(client: ClientRecord, firstKey: KeyRecord, audit: AuditEvent): Promise<void> {
    await this.transact([
      { Put: { TableName: this.tableName, Item: { ...clientItemKey(client.clientId), ...clientListKey(client.clientId), ...client }, ConditionExpression: 'attribute_not_exists(pk)' } },
      this.keyPut(firstKey),
      auditPut(this.tableName, audit),
    ]);
  }

  /**
   * Takes the client's rotation lock for `lock.rotationId`. Succeeds again for the same
   * rotation (a retried step) and takes over a lock whose holder's time ran out.
   *
   * @throws UnknownClientError when the client does not exist.
   * @throws ClientOffboardedError when the client was offboarded.
   * @throws RotationInProgressError when another live rotation holds the lock.
   */
  async acquireLock(clientId: string, lock: RotationLock, audit: AuditEvent): Promise<void> {
    await this.writeLock(clientId, lock, 'attribute_exists(pk) AND attribute_not_exists(offboardedAt) AND (attribute_not_exists(#lock) OR #lock.rotationId = :rid OR #lock.expiresAt < :now)', {
      ':rid': lock.rotationId,
      ':now': lock.acquiredAt,
    });
    await this.transact([auditPut(this.tableName, audit)]);
  }

  /**
   * Takes the lock from rotation `fromRotationId`, which must still hold it (emergency
   * preemption). The audit event is written in the same transaction.
   *
   * @throws UnknownClientError, ClientOffboardedError, or RotationInProgressError naming the
   *   holder when the lock is no longer `fromRotationId`'s (re-read and decide).
   */
  async takeOverLock(clientId: string, fromRotationId: string, lock: RotationLock, audit: AuditEvent): Promise<void> {
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: clientItemKey(clientId),
            UpdateExpression: 'SET #lock = :lock, updatedAt = :now',
            ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(offboardedAt) AND #lock.rotationId = :from',
            ExpressionAttributeNames: { '#lock': 'lock' },
            ExpressionAttributeValues: { ':lock': lock, ':from': fromRotationId, ':now': lock.acquiredAt },
          },
        },
        auditPut(this.tableName, audit),
      ]);
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      const client = await this.getClient(clientId);
      if (!client) throw new UnknownClientError(clientId);
      if (client.offboardedAt) throw new ClientOffboardedError(clientId, client.offboardedAt);
      throw new RotationInProgressError(clientId, client.lock?.rotationId ?? 'nobody');
    }
  }

  /**
   * Marks the client offboarded at `at` (a repeated call keeps the first time).
   * From then on no rotation can take the lock. Returns the stored offboarding time.
   *
   * @throws UnknownClientError when the client does not exist.
   */
  async markOffboarded(clientId: string, at: string): Promise<string> {
    try {
      const result = await classifyTransient(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: clientItemKey(clientId),
            UpdateExpression: 'SET offboardedAt = if_not_exists(offboardedAt, :at), updatedAt = :at',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':at': at },
            ReturnValues: 'ALL_NEW',
          }),
        ),
      );
      return String(result.Attributes?.offboardedAt ?? at);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw new UnknownClientError(clientId);
      throw error;
    }
  }

  private async writeLock(clientId: string, lock: RotationLock, condition: string, values: Record<string, unknown>): Promise<void> {
    try {
      await classifyTransient(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: clientItemKey(clientId),
            UpdateExpression: 'SET #lock = :lock, updatedAt = :now',
            ConditionExpression: condition,
            ExpressionAttributeNames: { '#lock': 'lock' },
            ExpressionAttributeValues: { ':lock': lock, ':now': lock.acquiredAt, ...values },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        if (!error.Item) throw new UnknownClientError(clientId);
        const offboardedAt = (error.Item.offboardedAt as { S?: string } | undefined)?.S;
        if (offboardedAt) throw new ClientOffboardedError(clientId, offboardedAt);
        const heldBy = (error.Item.lock as { M?: { rotationId?: { S?: string } } } | undefined)?.M?.rotationId?.S;
        throw new RotationInProgressError(clientId, heldBy ?? 'unknown');
      }
      throw error;
    }
  }

  /** Releases the lock if `rotationId` still holds it; true if it did. */
  async releaseLock(clientId: string, rotationId: string): Promise<boolean> {
    try {
      await classifyTransient(() =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: clientItemKey(clientId),
            UpdateExpression: 'REMOVE #lock',
            ConditionExpression: '#lock.rotationId = :rid',
            ExpressionAttributeNames: { '#lock': 'lock' },
            ExpressionAttributeValues: { ':rid': rotationId },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Releases the lock if `lock` (same rotation id and acquiredAt) still holds it, with `audit`
   * in the same transaction (an operator's unlock). False when the lock is no longer that one:
   * nothing was written.
   */
  async releaseLockAudited(clientId: string, lock: Pick<RotationLock, 'rotationId' | 'acquiredAt'>, audit: AuditEvent): Promise<boolean> {
    try {
      await this.transact([
        {
          Update: {
            TableName: this.tableName,
            Key: clientItemKey(clientId),
            UpdateExpression: 'SET updatedAt = :now REMOVE #lock',
            ConditionExpression: '#lock.rotationId = :rid AND #lock.acquiredAt = :acquired',
            ExpressionAttributeNames: { '#lock': 'lock' },
            ExpressionAttributeValues: { ':rid': lock.rotationId, ':acquired': lock.acquiredAt, ':now': audit.at },
          },
        },
        auditPut(this.tableName, audit),
      ]);
      return true;
    } catch (error) {
      if (error instanceof ConditionFailedError) return false;
      throw error;
    }
  }

  /**
   * Records that a key was used at `at`, unless another writer recorded a use at or after
   * `staleBefore` (then nothing is written: the fleet writes about once per key per interval).
   * Never creates an item and never moves lastUsedAt backwards (also when `at` is earlier than
   * `staleBefore`, e.g. a caller with a skewed clock). True if this call wrote.
   */
  async recordUse(keyHash: string, at: string, staleBefore: string): Promise<boolean> {
    try {
      await classifyTransient(() => this.doc.send(new UpdateCommand(recordUseInput(this.tableName, keyHash, at, staleBefore))));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Applies key inserts, key transitions, a client update and audit events as one
   * transaction: all or nothing. An audit event already written with the same content (`at`
   * aside) is a replay: the rest applies and the stored entry stays as it was.
   *
   * @throws ConditionFailedError when any guarded item is not in the expected state, or an
   *   audit entry with other content (actor, reason, detail…) exists under the same key.
   */
  async applyChange(change: {
    /** Keys that must be in the given state for the change to apply (nothing written to them). */
    readonly checks?: readonly KeyStateCheck[];
    readonly insertKeys?: readonly KeyRecord[];
    readonly transitions?: readonly KeyTransition[];
    readonly extensions?: readonly KeyDeadlineExtension[];
    readonly client?: ClientUpdate;
    readonly audit?: readonly AuditEvent[];
  }): Promise<void> {
    const items: TransactItem[] = [
      ...(change.checks ?? []).map((check) => this.keyCheck(check)),
      ...(change.insertKeys ?? []).map((key) => this.keyPut(key)),
      ...(change.transitions ?? []).map((transition) => this.keyTransition(transition)),
      ...(change.extensions ?? []).map((extension) => this.keyExtension(extension)),
      ...(change.client ? [this.clientUpdate(change.client)] : []),
      ...(change.audit ?? []).map((event) => auditPut(this.tableName, event)),
    ];
    if (items.length > 0) await this.transact(items);
  }

  private keyPut(key: KeyRecord): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: { ...keyItemKey(key.keyHash), ...keyIndexKey(key.clientId, key.createdAt, key.keyId), ...key },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private keyCheck(check: KeyStateCheck): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.tableName,
        Key: keyItemKey(check.keyHash),
        ConditionExpression: '#state = :state',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':state': check.state },
      },
    };
  }

  private keyTransition(transition: KeyTransition): TransactItem {
    assertTransition(transition.keyId, transition.from, transition.to);
    const change = guardedUpdate({ expect: { state: transition.from }, set: { state: transition.to, ...transition.set }, remove: transition.remove ?? [] });
    return { Update: { TableName: this.tableName, Key: keyItemKey(transition.keyHash), ...change } };
  }

  private keyExtension(extension: KeyDeadlineExtension): TransactItem {
    // A deadline only ever moves later; an earlier one would cut off a client mid-overlap.
    if (!(Date.parse(extension.toNotAfter) > Date.parse(extension.fromNotAfter))) {
      throw new RangeError(`Key ${extension.keyId}: a new not-after must be later than the old one.`);
    }
    const change = guardedUpdate({ expect: { state: 'RETIRING', notAfter: extension.fromNotAfter }, set: { notAfter: extension.toNotAfter } });
    return { Update: { TableName: this.tableName, Key: keyItemKey(extension.keyHash), ...change } };
  }

  private clientUpdate(update: ClientUpdate): TransactItem {
    const change = guardedUpdate({ require: ['attribute_exists(pk)'], expect: update.expect, set: update.set ?? {}, remove: update.remove ?? [] });
    return { Update: { TableName: this.tableName, Key: clientItemKey(update.clientId), ...change } };
  }

  /**
   * Sends `items` as one TransactWriteItems (all or nothing). Audit entries are append-only:
   * an audit Put that finds its entry already written with the same content (`at` aside) is
   * a replay of a retried step, not a conflict; such Puts are left out and the rest is sent
   * again (nothing left: done), so the first entry and its time stay. An entry with other
   * content under the same key is a conflict like any failed guard.
   *
   * CancellationReasons are ordered like TransactItems, and carry the stored item of a failed
   * Put that asked for ALL_OLD:
   * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html
   * (moto 5.2 returns it too: measured, and asserted in test/aws/key-repository.test.ts).
   */
  private async transact(items: readonly TransactItem[]): Promise<void> {
    let pending = [...items];
    // Each round drops at least one item, so this ends.
    while (pending.length > 0) {
      try {
        const request = pending;
        await classifyTransient(() => this.doc.send(new TransactWriteCommand({ TransactItems: request })));
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        const codes = reasons.map((reason) => reason.Code ?? 'None');
        if (codes.some((code) => TRANSIENT_CANCELLATIONS.has(code))) {
          throw new TransientAwsError(`Transaction cancelled by a transient condition (${codes.join(', ')}).`, { cause: error });
        }
        if (!codes.includes('ConditionalCheckFailed')) throw error;
        const failed = codes.flatMap((code, i) => (code === 'ConditionalCheckFailed' ? [i] : []));
        const replays = new Set(failed.filter((i) => isAuditPut(pending[i]) && isAuditReplay(pending[i], reasons[i]?.Item)));
        if (replays.size < failed.length) {
          const conflicts = failed.filter((i) => !replays.has(i) && isAuditPut(pending[i])).length;
          const note = conflicts ? `; ${conflicts} audit entr${conflicts === 1 ? 'y' : 'ies'} already written with other content` : '';
          throw new ConditionFailedError(`A guarded write found an item in an unexpected state (${codes.join(', ')})${note}.`, { cause: error });
        }
        pending = pending.filter((_, i) => !replays.has(i));
      }
    }
  }
}

function toClientRecord(item: Record<string, unknown>): ClientRecord {
  const { pk: _pk, sk: _sk, gsi1pk: _gpk, gsi1sk: _gsk, ...record } = item;
  return record as unknown as ClientRecord;
}

function toAuditEvent(item: Record<string, unknown>): AuditEvent {
  const { pk: _pk, sk: _sk, ...event } = item;
  return event as unknown as AuditEvent;
}
