/**
 * A reader AWS refuses does not keep a removed reader's access (lambdas/aws/delivery/
 * project-delivery.ts, projectSecretPolicy; docs/design.md, invariant 9).
 *
 * IAM refuses a resource policy that names a principal that does not exist
 * (MalformedPolicyDocumentException: "the policy contains an invalid principal"); moto accepts any
 * principal, so that one answer is played by a stub in front of moto's Secrets Manager. Every
 * other call, and what AWS holds afterwards, is moto's.
 */
import { CreateKeyCommand, KMSClient, ListGrantsCommand } from '@aws-sdk/client-kms';
import { GetResourcePolicyCommand, PutResourcePolicyCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ManualClock } from '../../lambdas/core/clock';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import { grantNameFor } from '../../lambdas/aws/delivery/kms-grants';
import { projectDelivery, type DeliveryProjectionDeps } from '../../lambdas/aws/delivery/project-delivery';
import { clientItemKey } from '../../lambdas/aws/table-keys';
import { makeTestDeps, registerTestClient, uniqueName } from '../support/fixtures';
import { TEST_ACCOUNT } from '../support/iam-world';

jest.setTimeout(120_000);

const reader = (name: string) => `arn:aws:iam::210987654321:role/${name}`;
const OLD = reader('acme-app');
const KEPT = reader('acme-batch');
const MISSPELT = reader('acme-ap');

describe('a reader AWS refuses', () => {
  it('fails closed: the removed reader loses its statement and grant, the kept one stays, and the refusal is reported', async () => {
    const rotationDeps = await makeTestDeps(new ManualClock(Date.parse('2026-12-03T10:00:00Z')));
    const kms = new KMSClient({});
    const keyArn = (await kms.send(new CreateKeyCommand({ Description: 'fail-closed test' }))).KeyMetadata!.Arn!;
    const topicArn = (await new SNSClient({}).send(new CreateTopicCommand({ Name: uniqueName('clients') }))).TopicArn!;
    const moto = secretsManagerClient();
    // IAM's answer to a principal that does not exist; everything else goes to moto.
    const secretsManager = {
      send: (command: unknown) => {
        if (command instanceof PutResourcePolicyCommand && command.input.ResourcePolicy!.includes(`"${MISSPELT}"`)) {
          return Promise.reject(Object.assign(new Error('This resource policy contains an unsupported principal.'), { name: 'MalformedPolicyDocumentException' }));
        }
        return moto.send(command as PutResourcePolicyCommand);
      },
    } as unknown as SecretsManagerClient;
    const deps: DeliveryProjectionDeps = {
      dynamoDb: dynamoDbClient(),
      tableName: rotationDeps.tableName,
      secretsManager,
      kms,
      sns: new SNSClient({}),
      clock: rotationDeps.clock,
      settings: {
        keyArn,
        clientTopicArn: topicArn,
        keyrollSecretReaderArns: [`arn:aws:iam::${TEST_ACCOUNT}:role/create-secret`],
        deliveryRoleArn: `arn:aws:iam::${TEST_ACCOUNT}:role/delivery`,
        partition: 'aws',
      },
    };
    const client = await registerTestClient(rotationDeps, uniqueName('acme'));
    const setReaders = (readers: string[]) =>
      deps.dynamoDb.send(
        new UpdateCommand({
          TableName: deps.tableName,
          Key: clientItemKey(client.clientId),
          UpdateExpression: 'SET delivery = :d',
          ExpressionAttributeValues: { ':d': { readers, endpoints: [], pickupKeys: [] } },
        }),
      );
    const held = async () => {
      const policy = (await moto.send(new GetResourcePolicyCommand({ SecretId: client.secretId }))).ResourcePolicy ?? '';
      const grants = ((await kms.send(new ListGrantsCommand({ KeyId: keyArn }))).Grants ?? []).map((grant) => grant.Name);
      return { policy, grants };
    };

    await setReaders([OLD, KEPT]);
    await projectDelivery(deps, client.clientId);
    expect((await held()).grants.sort()).toEqual([grantNameFor(client.clientId, OLD), grantNameFor(client.clientId, KEPT)].sort());

    // The operator replaces OLD by a misspelt ARN.
    await setReaders([KEPT, MISSPELT]);
    await expect(projectDelivery(deps, client.clientId)).rejects.toMatchObject({ name: 'DeliveryTargetRejected', target: 'secretPolicy' });
    const after = await held();
    expect(after.policy).toContain(KEPT);
    expect(after.policy).not.toContain(`"${OLD}"`);
    expect(after.policy).not.toContain(`"${MISSPELT}"`);
    expect(after.grants).toEqual([grantNameFor(client.clientId, KEPT)]);

    // Corrected, it converges.
    await setReaders([KEPT, reader('acme-app-v2')]);
    await projectDelivery(deps, client.clientId);
    expect((await held()).policy).toContain(reader('acme-app-v2'));
  });
});
