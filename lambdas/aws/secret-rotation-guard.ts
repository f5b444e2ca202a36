/**
 * What a rotation start asks Secrets Manager before it takes a client's lock, and what
 * onboarding puts on every client secret so Secrets Manager's own rotation stays off:
 *
 * - whether the secret already has a version with a given id (ListSecretVersionIds with
 *   IncludeDeprecated: real Secrets Manager leaves versions without labels out of
 *   DescribeSecret and out of a plain ListSecretVersionIds). Metadata only: beginRotation never
 *   reads a secret value.
 * - whether Secrets Manager's native rotation is turned on (DescribeSecret RotationEnabled);
 * - a resource policy that denies secretsmanager:RotateSecret to every principal.
 *
 * SecretStore exposes each of them over its own SDK client.
 */
import { DescribeSecretCommand, ListSecretVersionIdsCommand, PutResourcePolicyCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { classifyTransient } from './transient';

/**
 * True when `secretId` has a version `versionId`, labelled or not. Lists with IncludeDeprecated
 * ("versions of secrets that don't have any staging labels attached"):
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecretVersionIds.html
 * False when the secret does not exist.
 */
export async function secretVersionExists(client: SecretsManagerClient, secretId: string, versionId: string): Promise<boolean> {
  let nextToken: string | undefined;
  try {
    do {
      const page = await classifyTransient(() => client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true, MaxResults: 100, ...(nextToken ? { NextToken: nextToken } : {}) })));
      if ((page.Versions ?? []).some((version) => version.VersionId === versionId)) return true;
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return false;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return false;
    throw error;
  }
}

/**
 * True when Secrets Manager's own rotation is turned on for `secretId` (`RotationEnabled`;
 * absent when the secret was never configured for rotation):
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html
 */
export async function nativeRotationEnabled(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  const described = await classifyTransient(() => client.send(new DescribeSecretCommand({ SecretId: secretId })));
  return described.RotationEnabled === true;
}

/**
 * The resource policy of every client secret: nobody may call RotateSecret on it. KeyRoll never
 * calls RotateSecret (its state machine is the rotator), so the deny costs KeyRoll nothing, and
 * it keeps anyone from turning on a rotation that would make a key current the table does not know.
 */
export const DENY_NATIVE_ROTATION_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'KeyRollIsTheOnlyRotator',
      Effect: 'Deny',
      Principal: '*',
      Action: 'secretsmanager:RotateSecret',
      Resource: '*',
    },
  ],
});

/**
 * Attaches {@link DENY_NATIVE_ROTATION_POLICY} to `secretId` (replacing any resource policy the
 * secret has; KeyRoll's client secrets carry no other). Idempotent. BlockPublicPolicy stays on:
 * a deny grants nobody anything.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutResourcePolicy.html
 */
export async function denyNativeRotation(client: SecretsManagerClient, secretId: string): Promise<void> {
  await classifyTransient(() => client.send(new PutResourcePolicyCommand({ SecretId: secretId, ResourcePolicy: DENY_NATIVE_ROTATION_POLICY, BlockPublicPolicy: true })));
}
