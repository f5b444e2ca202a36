/**
 * A client holding more keys than one transaction carries: every change that revokes all of
 * a client's keys (offboarding, an emergency rotation with revokeImmediately, an emergency
 * finish) must split its writes, because DynamoDB refuses a TransactWriteItems of more than
 * 100 actions (each revocation is two: the key and its audit entry), and the local moto
 * refuses it too (test/aws/moto-dynamodb-limits.test.ts):
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { offboardClient, onboardClient } from '../../operator/ops';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { newRotationId } from '../support/fixtures';
import { rotationRequest } from '../support/step-helpers';
import { makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

/** Stray live keys on top of the client's own: 120 revocations are 240 actions. */
const STRAY_KEYS = 120;

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

/** Actions of every TransactWriteItems sent while a test runs. */
const transactionSizes: number[] = [];
dynamoDbClient().middlewareStack.add(
  (next, context) => async (args) => {
    const items = (args.input as { TransactItems?: unknown[] }).TransactItems;
    if (context.commandName === 'TransactWriteItemsCommand' && items) transactionSizes.push(items.length);
    return next(args);
  },
  { step: 'initialize', name: 'countTransactItems' },
);

beforeEach(async () => {
  w = await makeOpsWorld();
  transactionSizes.length = 0;
});

/** Onboards a client and gives it STRAY_KEYS more ACTIVE keys (e.g. left by an old bug or import). */
async function clientWithManyKeys(): Promise<string> {
  const { client } = await onboardClient(w.ops, onboarding());
  const now = new Date(w.clock.nowMs()).toISOString();
  for (let i = 0; i < STRAY_KEYS; i++) {
    const apiKey = generateApiKey(w.outputs.KeyPrefix);
    const key: KeyRecord = {
      keyHash: hashApiKey(apiKey),
      keyId: keyIdOf(apiKey),
      clientId: client.clientId,
      secretVersionId: `stray-${i}`,
      rotationId: `stray-${i}`,
      state: KeyState.ACTIVE,
      scopes: [],
      createdAt: now,
    };
    await w.ops.keys.applyChange({ insertKeys: [key] });
  }
  transactionSizes.length = 0;
  return client.clientId;
}

async function liveKeys(clientId: string): Promise<KeyRecord[]> {
  const keys = await Promise.all((await w.ops.keys.listClientKeys(clientId)).map(async (k) => (await w.ops.keys.getKey(k.keyHash))!));
  return keys.filter((key) => key.state !== KeyState.REVOKED);
}

async function emergency(clientId: string, revokeImmediately: boolean): Promise<void> {
  const context = await beginRotation(w.steps, { request: { ...rotationRequest(clientId, RotationMode.EMERGENCY), revokeImmediately }, rotationId: newRotationId() });
  await createSecret(w.steps, context);
  await setSecret(w.steps, context);
  await testSecret(w.steps, context);
  await finishSecret(w.steps, context);
  await w.steps.keys.releaseLock(clientId, context.rotationId);
}

describe(`a client with ${STRAY_KEYS + 1} live keys`, () => {
  it('offboarding revokes every one, in transactions of at most 100 actions', async () => {
    const clientId = await clientWithManyKeys();
    const result = await offboardClient(w.ops, { clientId, requestedBy: 'bob', reason: 'contract ended' });
    expect(result.revokedKeyIds).toHaveLength(STRAY_KEYS + 1);
    expect(await liveKeys(clientId)).toEqual([]);
    expect((await w.ops.keys.listAudit(clientId)).filter((e) => e.action === 'key.revoked')).toHaveLength(STRAY_KEYS + 1);
    expect(Math.max(...transactionSizes)).toBeLessThanOrEqual(100);
    expect(transactionSizes.reduce((a, b) => a + b, 0)).toBeGreaterThan(2 * (STRAY_KEYS + 1));
  });

  it('an emergency with revokeImmediately revokes every old key and leaves only the new one', async () => {
    const clientId = await clientWithManyKeys();
    await emergency(clientId, true);
    const after = await w.ops.keys.requireClient(clientId);
    expect((await liveKeys(clientId)).map((k) => k.keyHash)).toEqual([after.currentKeyHash]);
    expect(after.lastRotation?.revokedKeyIds).toHaveLength(STRAY_KEYS + 1);
    expect(Math.max(...transactionSizes)).toBeLessThanOrEqual(100);
  });

  it('an emergency without revokeImmediately revokes them at finish, the current key in the last transaction', async () => {
    const clientId = await clientWithManyKeys();
    await emergency(clientId, false);
    const after = await w.ops.keys.requireClient(clientId);
    expect((await liveKeys(clientId)).map((k) => k.keyHash)).toEqual([after.currentKeyHash]);
    expect(after.lastRotation?.revokedKeyIds).toHaveLength(STRAY_KEYS + 1);
    expect(Math.max(...transactionSizes)).toBeLessThanOrEqual(100);
  });

  /**
   * Found in review: a step that crashed between its overflow transactions and its commit is
   * retried (invariant 3); the keys the first attempt revoked are REVOKED by then, and the retry
   * must still report them (lastRotation.revokedKeyIds, the emergency notice).
   */
  it.each([
    ['finishSecret', false],
    ['createSecret (revokeImmediately)', true],
  ])('a crash in %s after its overflow transactions: the retry still reports every revoked key', async (_step, revokeImmediately) => {
    const clientId = await clientWithManyKeys();
    const context = await beginRotation(w.steps, { request: { ...rotationRequest(clientId, RotationMode.EMERGENCY), revokeImmediately }, rotationId: newRotationId() });
    const keys = w.steps.keys as unknown as { applyChange: (change: { checks?: unknown[]; insertKeys?: unknown[] }) => Promise<void> };
    const applyChange = keys.applyChange.bind(keys);
    // The step's commit is its transaction that checks (finish) or inserts (create) a key: crash once, before it.
    const isCommit = (change: { checks?: unknown[]; insertKeys?: unknown[] }) => (revokeImmediately ? change.insertKeys !== undefined : change.checks !== undefined);
    let crashed = false;
    keys.applyChange = async (change) => {
      if (!crashed && isCommit(change)) {
        crashed = true;
        throw Object.assign(new Error('Task timed out'), { name: 'Sandbox.Timedout' });
      }
      return applyChange(change);
    };
    try {
      const crashing = revokeImmediately
        ? createSecret(w.steps, context)
        : (async () => {
            await createSecret(w.steps, context);
            await setSecret(w.steps, context);
            await testSecret(w.steps, context);
            await finishSecret(w.steps, context);
          })();
      await expect(crashing).rejects.toThrow('Task timed out');
    } finally {
      keys.applyChange = applyChange;
    }
    if (revokeImmediately) await createSecret(w.steps, context);
    else await finishSecret(w.steps, context);
    if (revokeImmediately) {
      await setSecret(w.steps, context);
      await testSecret(w.steps, context);
      await finishSecret(w.steps, context);
    }
    const after = await w.ops.keys.requireClient(clientId);
    expect((await liveKeys(clientId)).map((k) => k.keyHash)).toEqual([after.currentKeyHash]);
    expect(after.lastRotation?.revokedKeyIds).toHaveLength(STRAY_KEYS + 1);
  });
});
