/**
 * KeyRepository over moto: records, the per-client lock, and guarded transactional changes
 * (all or nothing, named errors, no write on an illegal transition).
 */
import { createHash, randomUUID } from 'node:crypto';
import { IllegalKeyTransitionError, RotationInProgressError, UnknownClientError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import type { AuditEvent, ClientRecord, KeyRecord } from '../../lambdas/core/model';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { ConditionFailedError, KeyRepository } from '../../lambdas/aws/key-repository';
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
  return (await sortedItems(tableName)).filter((item) => item['clientId'] === clientId);
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
      client: { clientId, expect: { currentVersionId: key.secretVersionId, previousKeyHash: null }, set: { previousKeyHash: key.keyHash, 'updatedAt': T1 } },
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
    const pendingToRetiring = await caught(
      repo.applyChange({ transitions: [{ keyHash: key.keyHash, keyId: key.keyId, from: KeyState.PENDING, to: KeyState.RETIRING }] }),
    );
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

  it('an audit event re-written by a retried step keeps its first `at` (one entry, not two)', async () => {
    const { clientId } = await seedClient();
    const rotationId = newRotationId();
    const first = auditEvent(clientId, { at: T1, action: 'key.created', rotationId, keyId: 'krt_kid_0000000000000001', reason: 'first try' });
    await repo.applyChange({ audit: [first] });
    await repo.applyChange({ audit: [{ ...first, at: T2, reason: 'retry' }] });

    const entries = (await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ at: T1, action: 'key.created', keyId: first.keyId });

    // The same action for another key of the same rotation is a separate entry.
    await repo.applyChange({ audit: [{ ...first, at: T2, keyId: 'krt_kid_0000000000000002' }] });
    expect((await repo.listAudit(clientId)).filter((e) => e.rotationId === rotationId)).toHaveLength(2);
  });
});
