/**
 * SecretStore over moto: the Secrets Manager half of the rotation protocol (create,
 * AWSPENDING with the rotation id as version id, label moves, reads by version and stage).
 */
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { generateApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { RotationStateConflictError } from '../../lambdas/core/errors';
import type { SecretValue } from '../../lambdas/core/secret-value';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { SecretStore, Stage, versionWithStage } from '../../lambdas/aws/secret-store';
import { newRotationId, uniqueName } from '../support/fixtures';
import { allVersionIds, labels } from '../support/step-helpers';

const store = new SecretStore(secretsManagerClient());

function newValue(): SecretValue {
  const apiKey = generateApiKey('krt');
  return { apiKey, keyId: keyIdOf(apiKey) };
}

/** A fresh secret with one AWSCURRENT version whose id is `initialVersion`. */
async function freshSecret() {
  const name = `keyroll-test/${uniqueName('store')}`;
  const initialVersion = newRotationId();
  const initialValue = newValue();
  const created = await store.createClientSecret({ name, value: initialValue, clientRequestToken: initialVersion, description: 'test secret', tags: { 'keyroll:client-id': 'c1' } });
  return { name, initialVersion, initialValue, created };
}

describe('SecretStore.createClientSecret', () => {
  it('creates the secret with its first version as AWSCURRENT, then reports false on re-create', async () => {
    const { name, initialVersion, initialValue, created } = await freshSecret();
    expect(created).toBe(true);
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
    expect(await store.readVersion(name, initialVersion)).toEqual(initialValue);

    // A retried registration generates another key: the existing secret wins and is not changed.
    const again = await store.createClientSecret({ name, value: newValue(), clientRequestToken: initialVersion });
    expect(again).toBe(false);
    const otherToken = await store.createClientSecret({ name, value: newValue(), clientRequestToken: newRotationId() });
    expect(otherToken).toBe(false);
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
    expect(await allVersionIds(name)).toEqual([initialVersion]);
    expect((await store.readStage(name, Stage.CURRENT))?.value).toEqual(initialValue);
  });
});

describe('SecretStore versions and labels', () => {
  it('versionStages lists each version with its labels', async () => {
    const { name, initialVersion } = await freshSecret();
    expect(await store.versionStages(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
  });

  it('putPending stores a version whose id is the rotation id, labelled AWSPENDING only', async () => {
    const { name, initialVersion, initialValue } = await freshSecret();
    const rotationId = newRotationId();
    const pendingValue = newValue();
    await store.putPending(name, rotationId, pendingValue);

    const stages = await store.versionStages(name);
    expect(stages[rotationId]).toEqual([Stage.PENDING]);
    expect(stages[initialVersion]).toEqual([Stage.CURRENT]);
    expect(await store.readVersion(name, rotationId)).toEqual(pendingValue);
    expect(await store.readStage(name, Stage.PENDING)).toEqual({ versionId: rotationId, value: pendingValue });
    // AWSCURRENT is untouched by a pending version.
    expect(await store.readStage(name, Stage.CURRENT)).toEqual({ versionId: initialVersion, value: initialValue });

    // Re-sending the same token with the same value is an idempotent retry: still one version.
    await store.putPending(name, rotationId, pendingValue);
    expect(await allVersionIds(name)).toEqual([initialVersion, rotationId].sort());
    expect(await store.readVersion(name, rotationId)).toEqual(pendingValue);
  });

  it('moveStage AWSCURRENT moves AWSPREVIOUS onto the version that lost AWSCURRENT', async () => {
    const { name, initialVersion, initialValue } = await freshSecret();
    const rotationId = newRotationId();
    const pendingValue = newValue();
    await store.putPending(name, rotationId, pendingValue);
    await store.moveStage(name, Stage.CURRENT, rotationId, initialVersion);

    expect(await labels(name)).toEqual({
      [rotationId]: [Stage.CURRENT, Stage.PENDING].sort(),
      [initialVersion]: [Stage.PREVIOUS],
    });
    expect(await store.readStage(name, Stage.CURRENT)).toEqual({ versionId: rotationId, value: pendingValue });
    expect(await store.readStage(name, Stage.PREVIOUS)).toEqual({ versionId: initialVersion, value: initialValue });

    // A second rotation: AWSPREVIOUS follows AWSCURRENT again and leaves the oldest version.
    await store.removeStage(name, Stage.PENDING, rotationId);
    const secondRotation = newRotationId();
    await store.putPending(name, secondRotation, newValue());
    await store.moveStage(name, Stage.CURRENT, secondRotation, rotationId);
    await store.removeStage(name, Stage.PENDING, secondRotation);
    expect(await labels(name)).toEqual({ [secondRotation]: [Stage.CURRENT], [rotationId]: [Stage.PREVIOUS] });
  });

  it('removeStage removes the label, and is a no-op when the version does not carry it', async () => {
    const { name, initialVersion } = await freshSecret();
    const rotationId = newRotationId();
    await store.putPending(name, rotationId, newValue());

    await store.removeStage(name, Stage.PENDING, rotationId);
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
    // Absent label: the raw API would reject this (InvalidParameterException); the adapter does nothing.
    await expect(store.removeStage(name, Stage.PENDING, rotationId)).resolves.toBeUndefined();
    await expect(store.removeStage(name, Stage.PREVIOUS, initialVersion)).resolves.toBeUndefined();
    await expect(store.removeStage(name, Stage.PENDING, newRotationId())).resolves.toBeUndefined();
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
  });

  it('readVersion and readStage return undefined for what does not exist', async () => {
    const { name } = await freshSecret();
    expect(await store.readVersion(name, newRotationId())).toBeUndefined();
    expect(await store.readStage(name, Stage.PENDING)).toBeUndefined();
    expect(await store.readStage(name, Stage.PREVIOUS)).toBeUndefined();
  });

  it('readStage reads by label, not the stale default version moto keeps', async () => {
    const { name, initialVersion } = await freshSecret();
    const rotationId = newRotationId();
    const pendingValue = newValue();
    await store.putPending(name, rotationId, pendingValue);
    await store.moveStage(name, Stage.CURRENT, rotationId, initialVersion);
    expect((await store.readStage(name, Stage.CURRENT))?.versionId).toBe(rotationId);
    // Documenting the moto 5.2.1 quirk the adapter avoids (real AWS returns the rotation version here).
    const unlabelled = await secretsManagerClient().send(new GetSecretValueCommand({ SecretId: name }));
    expect([initialVersion, rotationId]).toContain(unlabelled.VersionId);
  });
});

describe('versionWithStage', () => {
  const stages = { v1: [Stage.PREVIOUS], v2: [Stage.CURRENT, Stage.PENDING], v3: [] };

  it('finds the version that carries a label', () => {
    expect(versionWithStage(stages, Stage.CURRENT)).toBe('v2');
    expect(versionWithStage(stages, Stage.PENDING)).toBe('v2');
    expect(versionWithStage(stages, Stage.PREVIOUS)).toBe('v1');
    expect(versionWithStage({ v1: [Stage.CURRENT] }, Stage.PENDING)).toBeUndefined();
    expect(versionWithStage({}, Stage.CURRENT)).toBeUndefined();
  });
});

/**
 * Fencing (docs/design.md, "Fencing"): the writes a stopped rotation's step may still send.
 * Relies on Secrets Manager as documented (the test emulator is patched to answer so):
 * UpdateSecretVersionStage fails when RemoveFromVersionId does not name the label's holder
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html),
 * PutSecretValue refuses different data under an existing ClientRequestToken
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
 */
describe('SecretStore fencing and label projection', () => {
  it('a fenced version id cannot be created or relabelled by a late putPending, and is never read as a key', async () => {
    const { name, initialVersion } = await freshSecret();
    const preempted = newRotationId();
    await store.fenceVersion(name, preempted);
    await store.fenceVersion(name, preempted); // idempotent
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
    await expect(store.putPending(name, preempted, newValue())).rejects.toThrow(RotationStateConflictError);
    await expect(store.readVersion(name, preempted)).rejects.toThrow(RotationStateConflictError);
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT] });
  });

  it('fencing an existing version leaves it as it is', async () => {
    const { name, initialVersion } = await freshSecret();
    const rotationId = newRotationId();
    const value = newValue();
    await store.putPending(name, rotationId, value);
    await store.fenceVersion(name, rotationId);
    expect(await store.readVersion(name, rotationId)).toEqual(value);
    expect(await labels(name)).toEqual({ [initialVersion]: [Stage.CURRENT], [rotationId]: [Stage.PENDING] });
  });

  it('putPending after its first attempt landed returns the stored value (a retry converges)', async () => {
    const { name } = await freshSecret();
    const rotationId = newRotationId();
    const first = newValue();
    await store.putPending(name, rotationId, first);
    expect(await store.putPending(name, rotationId, newValue())).toEqual(first);
  });

  it('projectLabels brings scrambled labels to the target, and a stale move sent afterwards fails', async () => {
    const { name, initialVersion } = await freshSecret();
    const [a, b] = [newRotationId(), newRotationId()];
    await store.putPending(name, a, newValue());
    await store.putPending(name, b, newValue());
    // A late finishSecret moved AWSCURRENT to b (AWSPREVIOUS went to the initial version).
    await store.moveStage(name, Stage.CURRENT, b, initialVersion);
    await store.projectLabels(name, async () => ({ current: a, previous: initialVersion }));
    expect(await labels(name)).toEqual({ [a]: [Stage.CURRENT], [initialVersion]: [Stage.PREVIOUS] });
    // The same late move, sent again from its stale read: the compare-and-set refuses it.
    await expect(store.moveStage(name, Stage.CURRENT, b, initialVersion)).rejects.toMatchObject({ name: 'InvalidParameterException' });
    expect(versionWithStage(await store.versionStages(name), Stage.CURRENT)).toBe(a);
    await store.projectLabels(name, async () => ({ current: a, previous: initialVersion })); // nothing left to do
    expect(await labels(name)).toEqual({ [a]: [Stage.CURRENT], [initialVersion]: [Stage.PREVIOUS] });
  });
});
