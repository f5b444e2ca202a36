/**
 * Puts a secret in the state "someone turned on Secrets Manager's own rotation"
 * (DescribeSecret reports `RotationEnabled: true`) on moto, without moving a label.
 */
import { DescribeSecretCommand, RotateSecretCommand, UpdateSecretVersionStageCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lambdas/aws/clients';

/** A rotation function that does not exist: moto records the rotation config, then cannot invoke it. */
const MISSING_ROTATION_LAMBDA = 'arn:aws:lambda:us-east-1:123456789012:function:keyroll-test-native-rotation';

/** Labelled versions with sorted labels, in a stable order: unlabelled ones are deprecated and not compared. */
function labelsOf(stages: Record<string, string[]>): string {
  return JSON.stringify(
    Object.entries(stages)
      .filter(([, labels]) => labels.length > 0)
      .map(([id, labels]) => [id, [...labels].sort()])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
  );
}

function carrierOf(stages: Record<string, string[]>, label: string): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels.includes(label))?.[0];
}

/**
 * Turns on native rotation for `secretId` on moto; the labels end as they were.
 *
 * Moto-only (measured on moto 5.2.1; real AWS would refuse the missing function and change
 * nothing): RotateSecret with a rotation function moto does not know sets RotationEnabled,
 * moves AWSPENDING onto a new version, then fails with ResourceNotFoundException. AWSPENDING
 * is then put back where it was (or removed), which leaves the new version unlabelled, so
 * deprecated (out of DescribeSecret with KeyRoll's moto patches). Throws if moto did not end in that state.
 */
export async function enableNativeRotation(secretId: string, client: SecretsManagerClient = secretsManagerClient()): Promise<void> {
  const describe = () => client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const before = (await describe()).VersionIdsToStages ?? {};
  const pendingBefore = carrierOf(before, 'AWSPENDING');
  await client
    .send(
      new RotateSecretCommand({
        SecretId: secretId,
        RotationLambdaARN: MISSING_ROTATION_LAMBDA,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: false,
      }),
    )
    .catch((error: Error) => {
      if (error.name !== 'ResourceNotFoundException') throw error;
    });
  const stray = carrierOf((await describe()).VersionIdsToStages ?? {}, 'AWSPENDING');
  if (stray !== undefined && stray !== pendingBefore) {
    await client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: stray, MoveToVersionId: pendingBefore }));
  }
  const after = await describe();
  if (after.RotationEnabled !== true || labelsOf(after.VersionIdsToStages ?? {}) !== labelsOf(before)) {
    throw new Error(`enableNativeRotation: moto did not end with RotationEnabled and the labels unchanged: ${JSON.stringify(after)}`);
  }
}
