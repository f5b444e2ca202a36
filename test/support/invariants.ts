/** Checks of the design's invariants over moto state, shared by the workflow tests. */
import { GetSecretValueCommand, ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import type { RotationDeps } from '../../lambdas/aws/rotation/context';
import { isFenceValue, Stage } from '../../lambdas/aws/secret-store';
import { parseSecretValue } from '../../lambdas/core/secret-value';
import { scanTable } from './fixtures';
import { restingLabelViolations } from './resting-labels';

/** Every plaintext key a client's secret has ever held (all versions, deprecated ones too). */
export async function allPlaintextKeys(secretId: string): Promise<string[]> {
  const client = secretsManagerClient();
  const { Versions } = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }));
  const keys: string[] = [];
  for (const version of Versions ?? []) {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: version.VersionId }));
    if (isFenceValue(SecretString)) continue; // a fence holds no key
    keys.push(parseSecretValue(SecretString).apiKey);
  }
  return keys;
}

/** A snapshot of everything a client's rotation can change: labels and table items. */
export async function snapshot(deps: RotationDeps & { tableName: string }, secretId: string) {
  const stages = await deps.secrets.versionStages(secretId);
  const items = await scanTable(deps.tableName);
  const sorted = items.map((item) => JSON.stringify(item, Object.keys(item).sort())).sort();
  return { stages: JSON.parse(JSON.stringify(stages)) as Record<string, string[]>, items: sorted };
}

/**
 * Invariant 1: exactly one AWSCURRENT version, and DynamoDB agrees with it (the client's
 * current pointer is that version, its hash is the hash of that value, and the key is ACTIVE).
 * Also: once no rotation is in flight, AWSPENDING on no version but the current one.
 */
export async function expectConsistent(deps: RotationDeps, clientId: string, options: { rotationInFlight?: boolean } = {}): Promise<void> {
  const client = await deps.keys.requireClient(clientId);
  const stages = await deps.secrets.versionStages(client.secretId);
  const current = Object.entries(stages).filter(([, labels]) => labels.includes(Stage.CURRENT));
  expect(current).toHaveLength(1);
  const [currentVersionId] = current[0];
  expect(client.currentVersionId).toBe(currentVersionId);
  const value = await deps.secrets.readStage(client.secretId, Stage.CURRENT);
  expect(value?.versionId).toBe(currentVersionId);
  expect(hashApiKey(value!.value.apiKey)).toBe(client.currentKeyHash);
  const record = await deps.keys.getKey(client.currentKeyHash);
  expect(record?.state).toBe(KeyState.ACTIVE);
  if (!options.rotationInFlight) {
    // AWSPENDING at rest: nowhere, or left on the current version by the rotation that finished.
    expect(restingLabelViolations(stages, client, []).pending).toBeUndefined();
    expect(client.lock).toBeUndefined();
  }
}
