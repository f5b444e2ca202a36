/**
 * KeyRepository over moto: records, the per-client lock, guarded transactional changes
 * (all or nothing, named errors, no write on an illegal transition) and the append-only audit.
 */
import { createHash, randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { IllegalKeyTransitionError, RotationInProgressError, UnknownClientError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import type { AuditEvent, ClientRecord, KeyRecord } from '../../lambdas/core/model';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { ConditionFailedError, KeyRepository } from '../../lambdas/aws/key-repository';
import { clientItemKey } from '../../lambdas/aws/table-keys';
import { createKeyRollTable, newRotationId } from '../support/fixtures';
import { sortedItems } from '../support/step-helpers';

const T0 = '2026-11-28T10:00:00.000Z';
const T1 = '2026-11-28T10:05:00.000Z';
const T2 = '2026-11-28T10:10:00.000Z';

function keyRecord(clientId: string, overrides: Partial<KeyRecord> = {}): KeyRecord {
  const seed = randomUUID();
  return {
    keyHash: createHash('sha256').update(seed).digest('hex'),
    keyId: `krt_kid_${seed.replace(/-/g, '').slice(0, 16)}`,
    clientId,
    secretVersionId: 'initial-version-id-000000000000000000',
    rotationId: 'initial',
    state: KeyState.ACTIVE,
    scopes: ['orders:read'],
    createdAt: T0,
    activatedAt: T0,
    ...overrides,
  };
}

function clientRecord(clientId: string, key: KeyRecord): ClientRecord {
  return {
    clientId,
    secretId: `keyroll-test/${clientId}`,
    scopes: ['orders:read'],
    currentKeyHash: key.keyHash,
    currentKeyId: key.keyId,
    currentVersionId: key.secretVersionId,
    createdAt: T0,
    updatedAt: T0,
  };
}

function auditEvent(clientId: string, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return { clientId, at: T0, action: 'client.registered', actor: 'test', reason: 'test setup', ...overrides };
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

let tableName: string;
let repo: KeyRepository;

beforeAll(async () => {
  tableName = await createKeyRollTable();
  repo = new KeyRepository(dynamoDbClient(), tableName);
});

/** A client with one ACTIVE key, written through createClient. */
async function seedClient() {
  const clientId = `client-${randomUUID().slice(0, 8)}`;
  const key = keyRecord(clientId);
  const client = clientRecord(clientId, key);
  await repo.createClient(client, key, auditEvent(clientId, { keyId: key.keyId }));
  return { clientId, key, client };
}

/** Items of one client only (the table is shared by the tests of this file). */
async function itemsOf(clientId: string) {
  return (await sortedItems(tableName)).filter((item) => item.clientId === clientId);
}

describe('records', () => {
  it('createClient writes client, key and audit; the getters read them back', async () => {
    const { clientId, key, client } = await seedClient();
    expect(await repo.getClient(clientId)).toEqual(client);
    expect(await repo.requireClient(clientId)).toEqual(client);
    expect(await repo.getKey(key.keyHash)).toEqual(key);
    expect(await repo.getKey(key.keyHash, false)).toEqual(key);
    expect(await repo.listClientKeys(clientId)).toEqual([key]);
    expect(await repo.listAudit(clientId)).toEqual([auditEvent(clientId, { keyId: key.keyId })]);
  });

  it('returns undefined / empty for what does not exist, and requireClient names the client', async () => {
    expect(await repo.getClient('nobody')).toBeUndefined();
    expect(await repo.getKey('0'.repeat(64))).toBeUndefined();
    expect(await repo.listClientKeys('nobody')).toEqual([]);
    expect(await repo.listAudit('nobody')).toEqual([]);
    const error = await caught(repo.requireClient('nobody'));
    expect(error).toBeInstanceOf(UnknownClientError);
    expect(error.name).toBe('UnknownClient');
    expect((error as UnknownClientError).clientId).toBe('nobody');
  });

  it('createClient refuses to overwrite an existing client and writes nothing', async () => {
    const { clientId, client } = await seedClient();
    const before = await itemsOf(clientId);
    const otherKey = keyRecord(clientId);
    const error = await caught(repo.createClient({ ...client, scopes: ['admin'] }, otherKey, auditEvent(clientId, { at: T1, action: 'client.registered.again' })));
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error.name).toBe('ConditionFailed');
    expect(await itemsOf(clientId)).toEqual(before);
    expect(await repo.getKey(otherKey.keyHash)).toBeUndefined();
  });

  it('listClientKeys returns the keys oldest first; listAudit in time order', async () => {
    const { clientId, key } = await seedClient();
    const newer = keyRecord(clientId, { state: KeyState.PENDING, createdAt: T2, activatedAt: undefined, rotationId: newRotationId() });
    const middle = keyRecord(clientId, { state: KeyState.REVOKED, createdAt: T1, revokedAt: T1 });
    await repo.applyChange({
      insertKeys: [newer, middle],
      audit: [auditEvent(clientId, { at: T2, action: 'b' }), auditEvent(clientId, { at: T1, action: 'a' })],
    });
    expect((await repo.listClientKeys(clientId)).map((k) => k.keyHash)).toEqual([key.keyHash, middle.keyHash, newer.keyHash]);
    expect((await repo.listAudit(clientId)).map((e) => e.action)).toEqual(['client.registered', 'a', 'b']);
  });
});

describe('listClientIds', () => {
  // Its own table: the listing covers every client in the table. Limit counts the items
  // evaluated, before the filter drops offboarded (or untagged) clients, and a page may end on a
  // filtered item (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html).
  let listed: KeyRepository;
  const live = ['c1', 'c3', 'c4', 'c6', 'c7'];
  const blue = ['c3', 'c4', 'c6'];

  beforeAll(async () => {
    listed = new KeyRepository(dynamoDbClient(), await createKeyRollTable());
    for (const clientId of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']) {
      const key = keyRecord(clientId);
      await listed.createClient({ ...clientRecord(clientId, key), ...(blue.includes(clientId) ? { tags: ['blue'] } : {}) }, key, auditEvent(clientId));
    }
    for (const clientId of ['c2', 'c5']) await listed.markOffboarded(clientId, T1);
  });

  /** Every page from the start, following `last`. */
  async function pages(options: { tag?: string; limit: number }) {
    const result: { clientIds: string[]; last?: string }[] = [];
    let after: string | undefined;
    do {
      const page = await listed.listClientIds({ ...options, ...(after ? { after } : {}) });
      result.push(page);
      after = page.last;
    } while (after && result.length < 20);
    return result;
  }

  it('pages through the live clients in id order, at most `limit` a page, each page continuing after the last', async () => {
    expect(await pages({ limit: 2 })).toEqual([{ clientIds: ['c1', 'c3'], last: 'c3' }, { clientIds: ['c4', 'c6'], last: 'c6' }, { clientIds: ['c7'] }]);
    expect((await pages({ limit: 5 })).flatMap((page) => page.clientIds)).toEqual(live);
    expect(await pages({ limit: 10 })).toEqual([{ clientIds: live }]);
  });

  it('with a tag, only the live clients carrying it', async () => {
    expect(await pages({ tag: 'blue', limit: 2 })).toEqual([{ clientIds: ['c3', 'c4'], last: 'c4' }, { clientIds: ['c6'] }]);
    expect(await pages({ tag: 'green', limit: 2 })).toEqual([{ clientIds: [] }]);
  });

  it('starts after `after`, which need not be a live client', async () => {
    expect(await listed.listClientIds({ limit: 2, after: 'c2' })).toEqual({ clientIds: ['c3', 'c4'], last: 'c4' });
    expect(await listed.listClientIds({ limit: 2, after: 'c7' })).toEqual({ clientIds: [] });
  });
});

describe('acquireLock / releaseLock', () => {
  const lockFor = (rotationId: string, acquiredAt = T1, expiresAt = '2026-12-29T10:05:00.000Z') => ({ rotationId, acquiredAt, expiresAt });
  const startedAudit = (clientId: string, rotationId: string) => auditEvent(clientId, { at: T1, action: 'rotation.started.manual', rotationId });

  it('an unknown client gets UnknownClient and no item is created', async () => {
    const clientId = `ghost-${randomUUID().slice(0, 8)}`;
    const rotationId = newRotationId();
    const error = await caught(repo.acquireLock(clientId, lockFor(rotationId), startedAudit(clientId, rotationId)));
    expect(error).toBeInstanceOf(UnknownClientError);
    expect(error.name).toBe('UnknownClient');
    expect(await repo.getClient(clientId)).toBeUndefined();
    expect(await itemsOf(clientId)).toEqual([]);
  });

  it('one rotation at a time: a second rotation gets RotationInProgress naming the holder', async () => {
    const { clientId } = await seedClient();
    const first = newRotationId();
    const second = newRotationId();
    await repo.acquireLock(clientId, lockFor(first), startedAudit(clientId, first));
    expect((await repo.getClient(clientId))?.lock).toEqual(lockFor(first));

    const error = await caught(repo.acquireLock(clientId, lockFor(second, T2), startedAudit(clientId, second)));
    expect(error).toBeInstanceOf(RotationInProgressError);
    expect(error.name).toBe('RotationInProgress');
    expect((error as RotationInProgressError).heldBy).toBe(first);
    expect(error.message).toContain(first);
    expect((await repo.getClient(clientId))?.lock).toEqual(lockFor(first));
    // The refused rotation left no audit entry.
    expect((await repo.listAudit(clientId)).map((e) => e.rotationId)).not.toContain(second);
  });

  it('the same rotation re-acquires its own lock (a retried step), with one audit entry', async () => {
    const { clientId } = await seedClient();
    const rotationId = newRotationId();
    await repo.acquireLock(clientId, lockFor(rotationId), startedAudit(clientId, rotationId));
    await repo.acquireLock(clientId, lockFor(rotationId), startedAudit(clientId, rotationId));
    expect((await repo.getClient(clientId))?.lock).toEqual(lockFor(rotationId));
    expect((await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId)).toHaveLength(1);
  });

  it('an expired lock is taken over; a live one is not', async () => {
    const { clientId } = await seedClient();
    const abandoned = newRotationId();
    // Acquired at T0, expired at T1 (in the past for a rotation starting at T2).
    await repo.acquireLock(clientId, lockFor(abandoned, T0, T1), startedAudit(clientId, abandoned));
    const contender = newRotationId();
    // Still live at T0 + 1 minute.
    const early = await caught(repo.acquireLock(clientId, lockFor(contender, '2026-11-28T10:01:00.000Z'), startedAudit(clientId, contender)));
    expect(early).toBeInstanceOf(RotationInProgressError);

    await repo.acquireLock(clientId, lockFor(contender, T2), startedAudit(clientId, contender));
    expect((await repo.getClient(clientId))?.lock).toEqual(lockFor(contender, T2));
    expect(await repo.releaseLock(clientId, abandoned)).toBe(false);
    expect((await repo.getClient(clientId))?.lock?.rotationId).toBe(contender);
  });

  it('releaseLock releases only for the holder', async () => {
    const { clientId } = await seedClient();
    const holder = newRotationId();
    await repo.acquireLock(clientId, lockFor(holder), startedAudit(clientId, holder));

    expect(await repo.releaseLock(clientId, newRotationId())).toBe(false);
    expect((await repo.getClient(clientId))?.lock?.rotationId).toBe(holder);

    expect(await repo.releaseLock(clientId, holder)).toBe(true);
    expect((await repo.getClient(clientId))?.lock).toBeUndefined();
    expect(await repo.releaseLock(clientId, holder)).toBe(false);
    expect(await repo.releaseLock(`ghost-${randomUUID().slice(0, 8)}`, holder)).toBe(false);

    // Released: another rotation may now take it.
    const next = newRotationId();
    await repo.acquireLock(clientId, lockFor(next, T2), startedAudit(clientId, next));
    expect((await repo.getClient(clientId))?.lock?.rotationId).toBe(next);
  });
});

describe('applyChange', () => {
  it('applies insert, transition, client update and audit together', async () => {
    const { clientId, key } = await seedClient();
    const rotationId = newRotationId();
    const pending = keyRecord(clientId, { state: KeyState.PENDING, activatedAt: undefined, createdAt: T1, rotationId, secretVersionId: rotationId });
    await repo.applyChange({
      insertKeys: [pending],
      transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } }],
      client: { clientId, expect: { currentVersionId: key.secretVersionId, previousKeyHash: null }, set: { previousKeyHash: key.keyHash, updatedAt: T1 } },
      audit: [auditEvent(clientId, { at: T1, action: 'key.created', rotationId, keyId: pending.keyId })],
    });
    expect(await repo.getKey(pending.keyHash)).toEqual(pending);
    expect(await repo.getKey(key.keyHash)).toEqual({ ...key, state: KeyState.RETIRING, notAfter: T2 });
    expect(await repo.getClient(clientId)).toMatchObject({ previousKeyHash: key.keyHash, updatedAt: T1 });

    // A transition that removes attributes (rollback during the overlap: RETIRING → ACTIVE).
    await repo.applyChange({ transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.RETIRING, to: KeyState.ACTIVE, remove: ['notAfter'] }] });
    expect(await repo.getKey(key.keyHash)).toEqual(key);
  });

  it('a transition from the wrong state throws ConditionFailed and changes nothing, not even the valid parts', async () => {
    const { clientId, key } = await seedClient();
    const rotationId = newRotationId();
    const pending = keyRecord(clientId, { state: KeyState.PENDING, activatedAt: undefined, createdAt: T1, rotationId });
    await repo.applyChange({ insertKeys: [pending] });
    const before = await itemsOf(clientId);

    const inserted = keyRecord(clientId, { createdAt: T2 });
    const error = await caught(
      repo.applyChange({
        insertKeys: [inserted],
        transitions: [
          // Valid on its own: the old key is ACTIVE.
          { keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } },
          // Wrong: the pending key is PENDING, not ACTIVE.
          { keyHash: pending.keyHash, keyId: pending.keyId, from: KeyState.ACTIVE, to: KeyState.REVOKED, set: { revokedAt: T2 } },
        ],
        client: { clientId, expect: { currentVersionId: key.secretVersionId }, set: { currentKeyHash: pending.keyHash, updatedAt: T2 } },
        audit: [auditEvent(clientId, { at: T2, action: 'should.not.exist', rotationId })],
      }),
    );
    expect(error).toBeInstanceOf(ConditionFailedError);
    expect(error.name).toBe('ConditionFailed');
    expect(error.message).toContain('ConditionalCheckFailed');
    expect(await itemsOf(clientId)).toEqual(before);
    expect(await repo.getKey(inserted.keyHash)).toBeUndefined();
  });

  it('a client expectation that no longer holds fails the whole change', async () => {
    const { clientId, key } = await seedClient();
    const before = await itemsOf(clientId);
    const error = await caught(
      repo.applyChange({
        transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } }],
        client: { clientId, expect: { 'lock.rotationId': newRotationId() }, set: { updatedAt: T2 } },
      }),
    );
    expect(error.name).toBe('ConditionFailed');
    expect(await itemsOf(clientId)).toEqual(before);
  });

  it('inserting a key that exists throws ConditionFailed', async () => {
    const { clientId, key } = await seedClient();
    const before = await itemsOf(clientId);
    const error = await caught(repo.applyChange({ insertKeys: [{ ...key, state: KeyState.PENDING }] }));
    expect(error.name).toBe('ConditionFailed');
    expect(await itemsOf(clientId)).toEqual(before);
  });

  it('an illegal transition (REVOKED → ACTIVE) throws IllegalKeyTransition before any write', async () => {
    const { clientId, key } = await seedClient();
    const revoked = keyRecord(clientId, { state: KeyState.REVOKED, createdAt: T1, revokedAt: T1 });
    await repo.applyChange({ insertKeys: [revoked] });
    const before = await itemsOf(clientId);

    const inserted = keyRecord(clientId, { createdAt: T2 });
    const error = await caught(
      repo.applyChange({
        insertKeys: [inserted],
        transitions: [
          { keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } },
          { keyHash: revoked.keyHash, keyId: revoked.keyId, from: KeyState.REVOKED, to: KeyState.ACTIVE },
        ],
        audit: [auditEvent(clientId, { at: T2, action: 'should.not.exist' })],
      }),
    );
    expect(error).toBeInstanceOf(IllegalKeyTransitionError);
    expect(error.name).toBe('IllegalKeyTransition');
    expect(error).toMatchObject({ keyId: revoked.keyId, from: 'REVOKED', to: 'ACTIVE' });
    expect(await itemsOf(clientId)).toEqual(before);
    expect(await repo.getKey(inserted.keyHash)).toBeUndefined();

    // Also when the stored state would have matched: the table of transitions decides first.
    const pendingToRetiring = await caught(repo.applyChange({ transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.PENDING, to: KeyState.RETIRING }] }));
    expect(pendingToRetiring.name).toBe('IllegalKeyTransition');
    expect(await itemsOf(clientId)).toEqual(before);
  });

  it('an empty change is a no-op', async () => {
    const { clientId } = await seedClient();
    const before = await itemsOf(clientId);
    await repo.applyChange({});
    await repo.applyChange({ insertKeys: [], transitions: [], audit: [] });
    expect(await itemsOf(clientId)).toEqual(before);
  });
});

/**
 * Audit entries are append-only: a Put conditioned on attribute_not_exists(pk), which asks for
 * the stored item when the condition fails (ReturnValuesOnConditionCheckFailure ALL_OLD,
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Put.html). The item comes
 * back in CancellationReasons, ordered like the request's TransactItems
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CancellationReason.html).
 */
describe('append-only audit', () => {
  const auditKey = (clientId: string, sk: string) => ({ pk: `CLIENT#${clientId}`, sk });
  const storedAudit = async (clientId: string, sk: string) => (await dynamoDbClient().send(new GetCommand({ TableName: tableName, Key: auditKey(clientId, sk), ConsistentRead: true }))).Item;

  it('moto returns the stored item of a failed ALL_OLD Put in CancellationReasons (what replay detection relies on)', async () => {
    const { clientId } = await seedClient();
    const sk = 'AUDIT#measure#x';
    await dynamoDbClient().send(new PutCommand({ TableName: tableName, Item: { ...auditKey(clientId, sk), actor: 'first' } }));
    const error = await caught(
      dynamoDbClient().send(
        new TransactWriteCommand({
          TransactItems: [
            { ConditionCheck: { TableName: tableName, Key: clientItemKey(clientId), ConditionExpression: 'attribute_exists(pk)' } },
            { Put: { TableName: tableName, Item: { ...auditKey(clientId, sk), actor: 'second' }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
          ],
        }),
      ),
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
    // In attribute-value form: the document client does not unmarshall errors.
    expect(reasons[1]).toMatchObject({ Code: 'ConditionalCheckFailed', Item: { pk: { S: `CLIENT#${clientId}` }, sk: { S: sk }, actor: { S: 'first' } } });
    expect(reasons[0]?.Code ?? 'None').toBe('None');
  });

  it('a replayed entry inside a transaction: the other items apply, the entry stays as first written (first `at`)', async () => {
    const { clientId, key } = await seedClient();
    const rotationId = newRotationId();
    const activated = auditEvent(clientId, { at: T1, action: 'key.activated', rotationId, keyId: key.keyId, reason: 'rotation' });
    await repo.applyChange({ audit: [activated] });
    const sk = `AUDIT#${rotationId}#key.activated#${key.keyId}`;
    const first = await storedAudit(clientId, sk);
    expect(first).toMatchObject({ at: T1, actor: 'test', reason: 'rotation' });

    // A retried step: the same entry with a new time, with the change it records and a new entry.
    await repo.applyChange({
      transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } }],
      client: { clientId, expect: { currentVersionId: key.secretVersionId }, set: { updatedAt: T2 } },
      audit: [{ ...activated, at: T2 }, auditEvent(clientId, { at: T2, action: 'key.retiring', rotationId, keyId: key.keyId })],
    });
    expect(await repo.getKey(key.keyHash)).toEqual({ ...key, state: KeyState.RETIRING, notAfter: T2 });
    expect(await repo.getClient(clientId)).toMatchObject({ updatedAt: T2 });
    expect(await storedAudit(clientId, sk)).toEqual(first);
    const entries = (await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId);
    expect(entries.map((e) => [e.action, e.at])).toEqual([
      ['key.activated', T1],
      ['key.retiring', T2],
    ]);
  });

  it('another write under the same key (other actor, reason or detail) fails with ConditionFailed and changes nothing', async () => {
    const { clientId, key } = await seedClient();
    const rotationId = newRotationId();
    const started = auditEvent(clientId, { at: T1, action: 'rotation.started.manual', rotationId, actor: 'alice', reason: 'quarterly' });
    await repo.applyChange({ audit: [started] });
    const before = await itemsOf(clientId);

    for (const other of [{ actor: 'mallory' }, { reason: 'something else' }, { detail: 'added later' }]) {
      const error = await caught(
        repo.applyChange({
          transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: T2 } }],
          audit: [{ ...started, at: T2, ...other }, auditEvent(clientId, { at: T2, action: 'should.not.exist', rotationId })],
        }),
      );
      expect(error).toBeInstanceOf(ConditionFailedError);
      expect(error.message).toContain('1 audit entry already written with other content');
      // Audit-only: the same.
      expect((await caught(repo.applyChange({ audit: [{ ...started, at: T2, ...other }] }))).name).toBe('ConditionFailed');
    }
    expect(await itemsOf(clientId)).toEqual(before);
  });

  it('an audit-only replay is accepted and writes nothing; a new entry beside it is written', async () => {
    const { clientId } = await seedClient();
    const rotationId = newRotationId();
    const first = auditEvent(clientId, { at: T1, action: 'key.created', rotationId, keyId: 'krt_kid_0000000000000001', detail: 'd' });
    await repo.applyChange({ audit: [first] });
    const before = await itemsOf(clientId);
    await repo.applyChange({ audit: [{ ...first, at: T2 }] });
    expect(await itemsOf(clientId)).toEqual(before);

    // The same action for another key of the same rotation is a separate entry, also next to a replay.
    await repo.applyChange({
      audit: [
        { ...first, at: T2 },
        { ...first, at: T2, keyId: 'krt_kid_0000000000000002' },
      ],
    });
    expect((await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId).map((e) => [e.keyId, e.at])).toEqual([
      ['krt_kid_0000000000000001', T1],
      ['krt_kid_0000000000000002', T2],
    ]);
  });

  it('a replayed entry does not excuse a failed guard: ConditionFailed, nothing written', async () => {
    const { clientId, key } = await seedClient();
    const rotationId = newRotationId();
    const first = auditEvent(clientId, { at: T1, action: 'key.revoked', rotationId, keyId: key.keyId });
    await repo.applyChange({ audit: [first] });
    const before = await itemsOf(clientId);
    const error = await caught(
      repo.applyChange({
        transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.RETIRING, to: KeyState.REVOKED, set: { revokedAt: T2 } }],
        audit: [{ ...first, at: T2 }, auditEvent(clientId, { at: T2, action: 'should.not.exist', rotationId })],
      }),
    );
    expect(error.name).toBe('ConditionFailed');
    expect(error.message).not.toContain('audit entr');
    expect(await itemsOf(clientId)).toEqual(before);
  });

  it('the lock audit follows the same rule: a retried acquire is one entry, another request under the same rotation id is refused', async () => {
    const { clientId } = await seedClient();
    const rotationId = newRotationId();
    const lock = { rotationId, acquiredAt: T1, expiresAt: T2 };
    const started = auditEvent(clientId, { at: T1, action: 'rotation.started.manual', rotationId });
    await repo.acquireLock(clientId, lock, started);
    await repo.acquireLock(clientId, lock, { ...started, at: T2 });
    expect((await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId)).toEqual([started]);
    expect((await caught(repo.acquireLock(clientId, lock, { ...started, reason: 'another reason' }))).name).toBe('ConditionFailed');
    expect((await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId)).toEqual([started]);
  });
});
