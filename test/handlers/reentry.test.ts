/**
 * Re-entered and repeated steps over moto (docs/design.md, invariants 3 and 7): a step run again
 * with the id of a rotation that already finished changes nothing; createSecret retried after its
 * version lost its label (real Secrets Manager no longer lists it) reads it by id instead of putting
 * other data under the same ClientRequestToken; an emergency with more keys than one transaction
 * carries revokes them all.
 */
import { ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { REVOCATIONS_PER_TRANSACTION } from '../../lambdas/aws/rotation/client-keys';
import { beginRotation, createSecret, finishSecret, rollbackRotation, setSecret, testSecret } from '../support/judged-steps';
import type { RotationContext } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { labelsAndTableViolations } from '../support/crash-invariants';
import { crashAfterCommand, labels, rotationRequest, snapshot, type TestDeps } from '../support/step-helpers';

const START = Date.parse('2026-11-28T10:00:00Z');
let clock: ManualClock;
let deps: TestDeps;

beforeEach(async () => {
  clock = new ManualClock(START);
  deps = await makeTestDeps(clock);
});

async function begin(clientId: string, mode: RotationMode, rotationId = newRotationId()): Promise<RotationContext> {
  return beginRotation(deps, { request: rotationRequest(clientId, mode, mode === RotationMode.EMERGENCY ? {} : { overlapSeconds: 3600 }), rotationId });
}

async function throughFinish(context: RotationContext): Promise<void> {
  await createSecret(deps, context);
  await setSecret(deps, context);
  await testSecret(deps, context);
  await finishSecret(deps, context);
}

describe('a finished rotation run again with its id (issue 15, item 9)', () => {
  it('in its overlap: every step before finish changes nothing, and a failure never makes the old key current', async () => {
    const client = await registerTestClient(deps);
    const context = await begin(client.clientId, RotationMode.MANUAL);
    await throughFinish(context);
    const before = await snapshot(deps.tableName, client.secretId);

    // The resumed run, step by step; then its failure path (the Rollback state).
    expect(await createSecret(deps, context)).toEqual({ pendingKeyId: (await deps.keys.requireClient(client.clientId)).currentKeyId });
    await setSecret(deps, context);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
    await rollbackRotation(deps, context, { Error: 'ConditionFailed' });
    expect(await snapshot(deps.tableName, client.secretId)).toEqual(before);
  });

  it('with the retiring key revoked by the kill switch in between: the revoked key never becomes current', async () => {
    const client = await registerTestClient(deps);
    const context = await begin(client.clientId, RotationMode.MANUAL);
    await throughFinish(context);
    const previous = (await deps.keys.getKey(client.currentKeyHash))!;
    await deps.keys.applyChange({
      transitions: [{ keyHash: previous.keyHash, keyId: previous.keyId, from: KeyState.RETIRING, to: KeyState.REVOKED, set: { revokedAt: new Date(clock.nowMs()).toISOString() } }],
    });

    await createSecret(deps, context);
    await rollbackRotation(deps, context, { Error: 'ConditionFailed' });
    const after = await deps.keys.requireClient(client.clientId);
    expect(after.currentVersionId).toBe(context.rotationId);
    expect((await deps.keys.getKey(after.currentKeyHash))?.state).toBe(KeyState.ACTIVE);
    expect(Object.entries(await labels(client.secretId)).find(([, l]) => l.includes(Stage.CURRENT))?.[0]).toBe(context.rotationId);
  });
});

describe('createSecret retried after its version lost its label (issue 15, item 6)', () => {
  it('reads the version by id (DescribeSecret omits unlabelled versions on AWS) and records that key', async () => {
    const client = await registerTestClient(deps);
    const context = await begin(client.clientId, RotationMode.SCHEDULED);
    const restore = crashAfterCommand('PutSecretValueCommand');
    await createSecret(deps, context).catch(() => undefined);
    restore();
    // Someone (a stale clean-up) removed AWSPENDING: the version is unlabelled, hence not listed
    // (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
    await deps.secrets.removeStage(client.secretId, Stage.PENDING, context.rotationId);
    expect(Object.keys(await deps.secrets.versionStages(client.secretId))).toEqual([client.currentVersionId]);
    const listed = await secretsManagerClient().send(new ListSecretVersionIdsCommand({ SecretId: client.secretId, IncludeDeprecated: true }));
    expect(listed.Versions?.map((v) => v.VersionId)).toContain(context.rotationId);
    const stored = (await deps.secrets.readVersion(client.secretId, context.rotationId))!;

    expect(await createSecret(deps, context)).toEqual({ pendingKeyId: stored.keyId });
    expect((await deps.keys.requireClient(client.clientId)) as { pendingKeyHash?: string }).toMatchObject({ pendingKeyHash: hashApiKey(stored.apiKey) });
    expect(Object.entries(await labels(client.secretId)).find(([, l]) => l.includes(Stage.PENDING))?.[0]).toBe(context.rotationId);
  });
});

describe('an emergency with more keys than one transaction carries (issue 15, item 7)', () => {
  it('revokes every one of them (DynamoDB: at most 100 items per TransactWriteItems)', async () => {
    // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
    const client = await registerTestClient(deps);
    const extra = REVOCATIONS_PER_TRANSACTION + 15; // 55 stray live keys + the current one: 56 revocations, 112+ items in one transaction
    const now = new Date(clock.nowMs()).toISOString();
    for (let i = 0; i < extra; i++) {
      const apiKey = generateApiKey(deps.settings.keyPrefix);
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
      await deps.keys.applyChange({ insertKeys: [key] });
    }
    const context = await begin(client.clientId, RotationMode.EMERGENCY);
    await throughFinish(context);
    await deps.keys.releaseLock(client.clientId, context.rotationId);

    const after = await deps.keys.requireClient(client.clientId);
    const keys = await Promise.all((await deps.keys.listClientKeys(client.clientId)).map(async (k) => (await deps.keys.getKey(k.keyHash))!));
    expect(keys).toHaveLength(extra + 2);
    expect(keys.filter((k) => k.state !== KeyState.REVOKED).map((k) => k.keyHash)).toEqual([after.currentKeyHash]);
    expect(after.lastRotation?.revokedKeyIds).toHaveLength(extra + 1);
    expect(await labelsAndTableViolations(deps, client.clientId, context.rotationId)).toEqual([]);
  });
});
