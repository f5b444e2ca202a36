/**
 * Sets up the emulated AWS for a rehearsal through the project's own code: the table as the
 * synthesized template defines it, the client and ops topics, one notification queue per
 * prompt caller (subscribed with a clientId filter, as a real consumer would), and the
 * clients themselves through registerClient (first key into each client's secret).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { SecretStore } from '../../lambdas/aws/secret-store';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import type { Clock } from '../../lambdas/core/clock';
import { tableDefinition, type SynthesizedKeyRoll } from '../synthesized-workflow';

/** The emulated resources of one rehearsal. */
export interface RehearsalResources {
  readonly tableName: string;
  readonly clientTopicArn: string;
  readonly opsTopicArn: string;
  readonly secretNamePrefix: string;
}

/** Creates the table and the two topics. */
export async function provisionStack(synth: SynthesizedKeyRoll, runId: string): Promise<RehearsalResources> {
  const dynamo = new DynamoDBClient({});
  const sns = new SNSClient({});
  const tableName = `keyroll-rehearsal-${runId}`;
  await dynamo.send(new CreateTableCommand(tableDefinition(synth, tableName) as never));
  const [client, ops] = await Promise.all([sns.send(new CreateTopicCommand({ Name: `keyroll-rehearsal-${runId}-clients` })), sns.send(new CreateTopicCommand({ Name: `keyroll-rehearsal-${runId}-ops` }))]);
  dynamo.destroy();
  sns.destroy();
  return { tableName, clientTopicArn: client.TopicArn!, opsTopicArn: ops.TopicArn!, secretNamePrefix: `keyroll-rehearsal/${runId}/` };
}

/** Registers a client with its first key. */
export async function provisionClient(resources: RehearsalResources, clock: Clock, keyPrefix: string, clientId: string): Promise<void> {
  await registerClient(
    {
      secrets: new SecretStore(secretsManagerClient()),
      keys: new KeyRepository(dynamoDbClient(), resources.tableName),
      clock,
      settings: { keyPrefix, secretNamePrefix: resources.secretNamePrefix },
    },
    { clientId, scopes: ['orders:read'], requestedBy: 'rehearsal', reason: 'rehearsal set-up' },
  );
}

/** A queue subscribed to the client topic, filtered to one client (or all when clientId is undefined). */
export async function subscribeQueue(resources: RehearsalResources, name: string, clientId?: string): Promise<string> {
  const sqs = new SQSClient({});
  const sns = new SNSClient({});
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(
    new SubscribeCommand({
      TopicArn: resources.clientTopicArn,
      Protocol: 'sqs',
      Endpoint: Attributes!.QueueArn,
      Attributes: clientId ? { FilterPolicy: JSON.stringify({ clientId: [clientId] }) } : undefined,
    }),
  );
  sqs.destroy();
  sns.destroy();
  return QueueUrl!;
}
