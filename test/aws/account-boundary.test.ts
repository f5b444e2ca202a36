/**
 * local/account-boundary.ts: a consumer in a second emulated account reads the owner's secret
 * through an endpoint that judges each GetSecretValue as AWS would (identity policy + the secret's
 * resource policy from moto + kms:Decrypt via Secrets Manager: the synthesized key policy or a
 * grant from moto's ListGrants), where moto alone would look the ARN up in the consumer's own
 * account and evaluate nothing.
 */
import { CreateGrantCommand, CreateKeyCommand, KMSClient, RevokeGrantCommand } from '@aws-sdk/client-kms';
import { CreateSecretCommand, GetSecretValueCommand, PutResourcePolicyCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startAccountBoundary, type AccountBoundary } from '../../local/account-boundary';
import { matchingGrant } from '../../local/access-evaluation';
import { assumeRoleIn, CLIENT_ACCOUNT, type EmulatedIdentity } from '../../local/emulated-accounts';
import { secretPolicyFor } from '../../lambdas/aws/delivery/secret-policy';
import { newRotationId, uniqueName } from '../support/fixtures';
import { synthesizedTemplate } from '../support/iam-template';
import { worldResolver } from '../support/iam-world';

const GRANTS_DOC = 'https://docs.aws.amazon.com/kms/latest/developerguide/grants.html';
const CROSS_ACCOUNT_DOC = 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples_cross.html';

const sm = new SecretsManagerClient({ maxAttempts: 1 });
const kms = new KMSClient({ maxAttempts: 1 });
const KEYROLL_ROLE = 'arn:aws:iam::123456789012:role/RotationCreateSecretRoleABEA52ED';
const DELIVERY_ROLE = 'arn:aws:iam::123456789012:role/KeyRollDeliveryRole';
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** The stack's key policy as synthesized, resolved for the test world. */
function keyPolicy(): Record<string, unknown> {
  const template = synthesizedTemplate();
  const [, key] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::KMS::Key')!;
  return worldResolver(template, { tableName: 'unused' }).resolve(key.Properties!.KeyPolicy) as Record<string, unknown>;
}

interface OwnerSecret {
  arn: string;
  current: string;
  pending: string;
}

let boundary: AccountBoundary;
let reader: EmulatedIdentity;
let keyId: string;
let clientA: OwnerSecret;
let clientB: OwnerSecret;
let grantA: string;

/** A client secret of the owner, encrypted with `keyId`, with AWSCURRENT and AWSPENDING and the projection's policy for `readers`. */
async function ownerSecret(readers: string[]): Promise<OwnerSecret> {
  const current = newRotationId();
  const pending = newRotationId();
  const { ARN } = await sm.send(new CreateSecretCommand({ Name: `keyroll/${uniqueName('boundary')}`, SecretString: 'current-key', ClientRequestToken: current, KmsKeyId: keyId }));
  await sm.send(new PutSecretValueCommand({ SecretId: ARN, SecretString: 'pending-key', ClientRequestToken: pending, VersionStages: ['AWSPENDING'] }));
  const policy = secretPolicyFor({ readers, keyrollSecretReaderArns: [KEYROLL_ROLE], deliveryRoleArn: DELIVERY_ROLE, partition: 'aws' });
  await sm.send(new PutResourcePolicyCommand({ SecretId: ARN, ResourcePolicy: policy }));
  return { arn: ARN!, current, pending };
}

async function grantTo(grantee: string, secretArn: string): Promise<string> {
  const { GrantId } = await kms.send(new CreateGrantCommand({ KeyId: keyId, GranteePrincipal: grantee, Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { SecretARN: secretArn } } }));
  return GrantId!;
}

beforeAll(async () => {
  const policy = keyPolicy();
  keyId = (await kms.send(new CreateKeyCommand({ Description: 'keyroll boundary test' }))).KeyMetadata!.KeyId!;
  boundary = await startAccountBoundary({ keyPolicyOf: () => policy });
  reader = await assumeRoleIn(CLIENT_ACCOUNT, 'client-a-reader');
  boundary.register(reader.credentials.accessKeyId, { principalArn: reader.roleArn, identityPolicies: [ALLOW_ALL] });
  clientA = await ownerSecret([reader.roleArn]);
  clientB = await ownerSecret([`arn:aws:iam::${CLIENT_ACCOUNT}:role/client-b-reader`]);
  grantA = await grantTo(reader.roleArn, clientA.arn);
});
afterAll(() => boundary.close());

const consumer = () => new SecretsManagerClient({ endpoint: boundary.endpoint, credentials: reader.credentials, maxAttempts: 1 });

describe('a consumer in another account, through the boundary', () => {
  it(`reads its client's AWSCURRENT by ARN (${CROSS_ACCOUNT_DOC})`, async () => {
    const read = await consumer().send(new GetSecretValueCommand({ SecretId: clientA.arn, VersionStage: 'AWSCURRENT' }));
    expect(read).toMatchObject({ SecretString: 'current-key', VersionId: clientA.current, ARN: clientA.arn });
    expect(boundary.decisions.at(-1)).toMatchObject({ allowed: true, reason: expect.stringMatching(/^kms: Grant /) });
  });

  it.each([
    ['AWSPENDING', 'stage'],
    ['a VersionId (even the current one)', 'version'],
  ])('is denied %s', async (_, how) => {
    const input = how === 'stage' ? { VersionStage: 'AWSPENDING' } : { VersionId: clientA.current };
    await expect(consumer().send(new GetSecretValueCommand({ SecretId: clientA.arn, ...input }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(boundary.decisions.at(-1)).toMatchObject({ allowed: false, reason: 'secretsmanager: ExplicitlyDenied' });
  });

  it("is denied another client's secret, although its identity policy allows everything", async () => {
    await expect(consumer().send(new GetSecretValueCommand({ SecretId: clientB.arn, VersionStage: 'AWSCURRENT' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect(boundary.decisions.at(-1)).toMatchObject({ allowed: false, reason: 'secretsmanager: ExplicitlyDenied' });
  });

  it(`is denied its own AWSCURRENT once the KMS grant is gone: the key policy trusts only the owner's account (${GRANTS_DOC})`, async () => {
    await kms.send(new RevokeGrantCommand({ KeyId: keyId, GrantId: grantA }));
    try {
      await expect(consumer().send(new GetSecretValueCommand({ SecretId: clientA.arn, VersionStage: 'AWSCURRENT' }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(boundary.decisions.at(-1)).toMatchObject({ allowed: false, reason: 'kms: ImplicitlyDenied' });
    } finally {
      grantA = await grantTo(reader.roleArn, clientA.arn);
    }
  });

  it('without the boundary, moto looks the ARN up in the consumer account and never reaches the owner (the gap it closes)', async () => {
    const direct = new SecretsManagerClient({ credentials: reader.credentials, maxAttempts: 1 });
    await expect(direct.send(new GetSecretValueCommand({ SecretId: clientA.arn, VersionStage: 'AWSCURRENT' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe(`the grant match (${GRANTS_DOC}, https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html)`, () => {
  const grant = { GrantId: 'g', GranteePrincipal: 'arn:aws:iam::210987654321:role/r', Operations: ['Decrypt'], Constraints: { EncryptionContextSubset: { SecretARN: 'arn:a' } } };
  it.each([
    ['the grantee, the operation, a context holding the subset', grant.GranteePrincipal, 'Decrypt', { SecretARN: 'arn:a', SecretVersionId: 'v' }, true],
    ['another principal', 'arn:aws:iam::210987654321:role/other', 'Decrypt', { SecretARN: 'arn:a' }, false],
    ['an operation not granted', grant.GranteePrincipal, 'Encrypt', { SecretARN: 'arn:a' }, false],
    ["another secret's context", grant.GranteePrincipal, 'Decrypt', { SecretARN: 'arn:b' }, false],
    ['no context', grant.GranteePrincipal, 'Decrypt', {}, false],
  ])('%s (%s)', (_, grantee, operation, context, matches) => {
    expect(matchingGrant([grant], grantee, operation, context) !== undefined).toBe(matches);
  });

  it('EncryptionContextEquals needs exactly that context', () => {
    const equals = { ...grant, Constraints: { EncryptionContextEquals: { SecretARN: 'arn:a' } } };
    expect(matchingGrant([equals], grant.GranteePrincipal, 'Decrypt', { SecretARN: 'arn:a' })).toBeDefined();
    expect(matchingGrant([equals], grant.GranteePrincipal, 'Decrypt', { SecretARN: 'arn:a', SecretVersionId: 'v' })).toBeUndefined();
  });
});
