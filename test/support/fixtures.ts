/**
 * Test fixtures over moto: a KeyRoll table with the construct's schema, topics, a queue
 * that records what each topic published, and rotation dependencies wired to them.
 * Every call uses fresh names, so test files can share one moto server.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ManualClock, type Clock } from '../../lambdas/core/clock';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import type { RotationDeps, RotationSettings } from '../../lambdas/aws/rotation/context';
import { SecretStore } from '../../lambdas/aws/secret-store';
import { BY_CLIENT_INDEX } from '../../lambdas/aws/table-keys';
import { registerIamWorld } from './iam-guard';

/** Settings the tests rotate with: short default overlap within the production bounds. */
export const TEST_SETTINGS: RotationSettings = {
  keyPrefix: 'krt',
  defaultOverlapSeconds: 3600,
  overlapBounds: { minSeconds: 60, maxSeconds: 30 * 24 * 3600 },
  lockTtlSeconds: 31 * 24 * 3600,
  usageWindowSeconds: 3600,
  reminderIntervalSeconds: 6 * 3600,
  usageCheckLeadSeconds: 300,
};

/** A unique suffix for resource names. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A rotation id of the length Secrets Manager accepts as ClientRequestToken. */
export function newRotationId(): string {
  return `rot-${randomUUID()}`;
}

/** Creates a table with the same keys and index as the KeyRollRotation construct. */
export async function createKeyRollTable(name = uniqueName('keyroll')): Promise<string> {
  const client = new DynamoDBClient({});
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: BY_CLIENT_INDEX,
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  client.destroy();
  return name;
}

/** Every item of a table, unmarshalled (for invariant and plaintext checks). */
export async function scanTable(tableName: string): Promise<Record<string, unknown>[]> {
  const client = new DynamoDBClient({});
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []).map((item) => unmarshall(item)));
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  client.destroy();
  return items;
}

/** A topic with an SQS queue subscribed (raw delivery off), so tests can read what was published. */
export interface RecordedTopic {
  readonly topicArn: string;
  /** Messages published so far: the SNS envelope's Message and MessageAttributes. */
  drain(): Promise<{ message: string; attributes: Record<string, string> }[]>;
}

export async function createRecordedTopic(name = uniqueName('topic')): Promise<RecordedTopic> {
  const sns = new SNSClient({});
  const sqs = new SQSClient({});
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-q` }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
  return {
    topicArn: TopicArn!,
    async drain() {
      const out: { message: string; attributes: Record<string, string> }[] = [];
      for (;;) {
        const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!Messages?.length) break;
        for (const m of Messages) {
          const envelope = JSON.parse(m.Body!) as { Message: string; MessageAttributes?: Record<string, { Value: string }> };
          const attributes = Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value]));
          out.push({ message: envelope.Message, attributes });
        }
        const { DeleteMessageBatchCommand } = await import('@aws-sdk/client-sqs');
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      }
      return out;
    },
  };
}

/** Rotation dependencies over moto with a fresh table and a manual clock. */
export async function makeTestDeps(clock: Clock = new ManualClock(Date.parse('2026-11-28T10:00:00Z'))): Promise<RotationDeps & { tableName: string; secretNamePrefix: string }> {
  const tableName = await createKeyRollTable();
  const secretNamePrefix = `keyroll-test/${randomUUID().slice(0, 8)}/`;
  // The IAM check resolves the stack's table and secret prefix into these (runners add topics).
  registerIamWorld({ tableName, secretNamePrefix });
  return {
    tableName,
    secretNamePrefix,
    secrets: new SecretStore(secretsManagerClient()),
    keys: new KeyRepository(dynamoDbClient(), tableName),
    clock,
    settings: TEST_SETTINGS,
  };
}

/** Registers a client through the project's own provisioning code. */
export async function registerTestClient(deps: RotationDeps & { secretNamePrefix: string }, clientId = uniqueName('client'), options: { scopes?: string[]; overlapSeconds?: number } = {}) {
  return registerClient(
    { secrets: deps.secrets, keys: deps.keys, clock: deps.clock, settings: { keyPrefix: deps.settings.keyPrefix, secretNamePrefix: deps.secretNamePrefix } },
    { clientId, scopes: options.scopes ?? ['orders:read'], overlapSeconds: options.overlapSeconds, requestedBy: 'test', reason: 'test setup' },
  );
}
