/**
 * Credentials of another emulated AWS account. moto keeps one backend per account and maps each
 * access key to an account: STS AssumeRole into a role ARN of account B returns credentials whose
 * requests land in B's backends (moto's `assume_role`: "The ARN can point to another account,
 * providing an opportunity to switch accounts"; test/aws/account-boundary.test.ts checks it with
 * GetCallerIdentity and the ARN of a queue made with them).
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';

/** The account the tests and the stack run in (moto's default account). */
export const HOME_ACCOUNT = '123456789012';
/** The second emulated account: a client's own AWS account. */
export const CLIENT_ACCOUNT = '210987654321';

/** An identity in an emulated account: the role's ARN and credentials that act as it. */
export interface EmulatedIdentity {
  readonly account: string;
  readonly roleArn: string;
  readonly credentials: AwsCredentialIdentity;
}

/** Credentials acting as `role` of `account` (the role need not exist in moto). */
export async function assumeRoleIn(account: string, role: string, sts = new STSClient({})): Promise<EmulatedIdentity> {
  const roleArn = `arn:aws:iam::${account}:role/${role}`;
  const { Credentials } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: `keyroll-${role}`.slice(0, 64) }));
  if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error(`AssumeRole ${roleArn} returned no credentials`);
  return {
    account,
    roleArn,
    credentials: { accessKeyId: Credentials.AccessKeyId, secretAccessKey: Credentials.SecretAccessKey, sessionToken: Credentials.SessionToken },
  };
}
