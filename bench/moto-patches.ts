/**
 * `npx tsx bench/moto-patches.ts`: what each of KeyRoll's moto speed patches earns
 * (local/moto-patches/sitecustomize.py). One moto per variant (all patches, each speed patch
 * left out with KEYROLL_MOTO_SKIP, none), each behind its serialising proxy, each holding the same
 * table of BENCH_MOTO_CLIENTS clients (KeyRoll's shape: pk/sk and the gsi1 index, 4 items a
 * client). The operations a rotation sends are timed round-robin across the variants, so every
 * variant sees the same machine load; the median per operation is printed in ms.
 * BENCH_MOTO_CLIENTS (default 1000), BENCH_MOTO_ROUNDS (default 30), BENCH_MOTO_VARIANTS (a comma
 * list of variant names to run, e.g. `all patches,without module-list-once`; default all).
 */
import { BatchWriteItemCommand, CreateTableCommand, DynamoDBClient, GetItemCommand, QueryCommand, TransactWriteItemsCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startMoto, type MotoHandle } from '../local/moto';

const CLIENTS = Number(process.env.BENCH_MOTO_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_MOTO_ROUNDS ?? 30);
const SPEED_PATCHES = ['transaction-undo-log', 'query-prefilter', 'module-list-once'] as const;
const VARIANTS: { name: string; skip: string }[] = [
  { name: 'all patches', skip: '' },
  ...SPEED_PATCHES.map((patch) => ({ name: `without ${patch}`, skip: patch })),
  { name: 'no speed patch', skip: SPEED_PATCHES.join(',') },
].filter((variant) => !process.env.BENCH_MOTO_VARIANTS || process.env.BENCH_MOTO_VARIANTS.split(',').includes(variant.name));
const TABLE = 'bench-moto';

const s = (value: string): AttributeValue => ({ S: value });
const clientKey = (n: number) => `client-${String(n).padStart(5, '0')}`;

async function fill(ddb: DynamoDBClient): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: ['pk', 'sk', 'gsi1pk', 'gsi1sk'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'gsi1',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  const items: Record<string, AttributeValue>[] = [];
  for (let n = 0; n < CLIENTS; n++) {
    const pk = s(clientKey(n));
    items.push({ pk, sk: s('CLIENT'), status: s('ACTIVE') });
    for (const key of ['KEY#1', 'KEY#2', 'LOCK']) items.push({ pk, sk: s(key), gsi1pk: s(`${clientKey(n)}#keys`), gsi1sk: s(key), state: s('ACTIVE') });
  }
  for (let i = 0; i < items.length; i += 25) {
    await ddb.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
  }
}

/** The operations timed, one call each per round. */
const OPERATIONS: Record<string, (ddb: DynamoDBClient, round: number, sm: SecretsManagerClient) => Promise<unknown>> = {
  DescribeSecret: (_, __, sm) => sm.send(new DescribeSecretCommand({ SecretId: 'bench-secret' })),
  GetItem: (ddb, round) => ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: s(clientKey(round)), sk: s('CLIENT') } })),
  'Query (table)': (ddb, round) => ddb.send(new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': s(clientKey(round)) } })),
  'Query (index)': (ddb, round) => ddb.send(new QueryCommand({ TableName: TABLE, IndexName: 'gsi1', KeyConditionExpression: 'gsi1pk = :p', ExpressionAttributeValues: { ':p': s(`${clientKey(round)}#keys`) } })),
  'TransactWriteItems (2 items)': (ddb, round) =>
    ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Update: { TableName: TABLE, Key: { pk: s(clientKey(round)), sk: s('LOCK') }, UpdateExpression: 'SET holder = :h', ExpressionAttributeValues: { ':h': s(`r${round}`) } } },
          { Put: { TableName: TABLE, Item: { pk: s(clientKey(round)), sk: s(`AUDIT#${round}`), what: s('bench') } } },
        ],
      }),
    ),
  'TransactWriteItems (cancelled)': (ddb, round) =>
    ddb
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { TableName: TABLE, Key: { pk: s(clientKey(round)), sk: s('KEY#1') }, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': s('x') } } },
            { ConditionCheck: { TableName: TABLE, Key: { pk: s(clientKey(round)), sk: s('CLIENT') }, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      )
      .catch((error: Error) => {
        if (error.name !== 'TransactionCanceledException') throw error;
      }),
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  const servers: { name: string; handle: MotoHandle; ddb: DynamoDBClient; sm: SecretsManagerClient }[] = [];
  try {
    for (const variant of VARIANTS) {
      const handle = await startMoto({ env: { ...process.env, KEYROLL_MOTO_SKIP: variant.skip, KEYROLL_EXTERNAL_ENDPOINT: '' } });
      const config = { endpoint: handle.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
      servers.push({ name: variant.name, handle, ddb: new DynamoDBClient(config), sm: new SecretsManagerClient(config) });
    }
    process.stderr.write(`filling ${servers.length} motos with ${CLIENTS} clients (${CLIENTS * 4} items)...\n`);
    await Promise.all(servers.map((server) => fill(server.ddb)));
    await Promise.all(servers.map((server) => server.sm.send(new CreateSecretCommand({ Name: 'bench-secret', SecretString: 'x' }))));
    const times = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [operation, run] of Object.entries(OPERATIONS)) {
        for (const server of servers) {
          const started = performance.now();
          await run(server.ddb, round, server.sm);
          const key = `${server.name}\t${operation}`;
          times.set(key, [...(times.get(key) ?? []), performance.now() - started]);
        }
      }
    }
    const load = (await import('node:os')).loadavg()[0].toFixed(1);
    console.log(`moto speed patches, ${CLIENTS} clients (${CLIENTS * 4} items), median of ${ROUNDS} rounds in ms, load ${load}`);
    console.log(['operation', ...servers.map((server) => server.name)].join(' | '));
    for (const operation of Object.keys(OPERATIONS)) {
      console.log([operation, ...servers.map((server) => median(times.get(`${server.name}\t${operation}`)!).toFixed(1))].join(' | '));
    }
  } finally {
    for (const server of servers) {
      server.ddb.destroy();
      server.sm.destroy();
      await server.handle.stop();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
