/**
 * KeyRoll's patches to moto (local/moto-patches/sitecustomize.py) must not change what
 * moto answers: Query (base table and index) returns the same items in DynamoDB's order and
 * pages the same way with other partitions interleaved; a failed transaction leaves every
 * item as it was, and writes other requests made meanwhile survive.
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, TransactWriteItemsCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';

const ddb = new DynamoDBClient({});
const table = `moto-patches-${Date.now().toString(36)}`;

beforeAll(async () => {
  await ddb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'gpk', AttributeType: 'S' },
        { AttributeName: 'gsk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byG',
          KeySchema: [
            { AttributeName: 'gpk', KeyType: 'HASH' },
            { AttributeName: 'gsk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  // 5 partitions × 12 items written in a scrambled order; index partitions cut across them, and some items are not indexed.
  const writes: Record<string, AttributeValue>[] = [];
  for (let i = 0; i < 60; i++) {
    const n = (i * 37) % 60;
    const item: Record<string, AttributeValue> = { pk: { S: `P${n % 5}` }, sk: { S: `s${String(n).padStart(3, '0')}` }, n: { N: String(n) } };
    if (n % 4 !== 3) Object.assign(item, { gpk: { S: `G${n % 3}` }, gsk: { S: `g${String(60 - n).padStart(3, '0')}` } });
    writes.push(item);
  }
  for (const item of writes) await ddb.send(new PutItemCommand({ TableName: table, Item: item }));
});

async function pages(input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName' | 'ExclusiveStartKey'>): Promise<number[][]> {
  const out: number[][] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new QueryCommand({ ...input, TableName: table, ExclusiveStartKey: start }));
    out.push((page.Items ?? []).map((item) => Number(item.n.N)));
    start = page.LastEvaluatedKey;
  } while (start);
  return out;
}

const range = (predicate: (n: number) => boolean) => Array.from({ length: 60 }, (_, n) => n).filter(predicate);

describe('moto patches', () => {
  it('a base-table Query returns its partition only, in sort-key order, paged by Limit', async () => {
    const got = await pages({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'P2' } }, Limit: 5 });
    expect(got.flat()).toEqual(range((n) => n % 5 === 2));
    expect(got.map((p) => p.length)).toEqual([5, 5, 2]);
    const backwards = await pages({ KeyConditionExpression: 'pk = :p AND sk > :s', ExpressionAttributeValues: { ':p': { S: 'P2' }, ':s': { S: 's030' } }, ScanIndexForward: false });
    expect(backwards.flat()).toEqual(range((n) => n % 5 === 2 && n > 30).reverse());
  });

  it('an index Query returns the indexed items of its partition only, in the index key order, paged by Limit', async () => {
    const got = await pages({ IndexName: 'byG', KeyConditionExpression: 'gpk = :g', ExpressionAttributeValues: { ':g': { S: 'G1' } }, Limit: 4 });
    // gsk descends as n rises, so index order is n descending.
    expect(got.flat()).toEqual(range((n) => n % 3 === 1 && n % 4 !== 3).reverse());
    expect(got.slice(0, -1).every((p) => p.length === 4)).toBe(true);
  });

  it('a Query for a partition that does not exist finds nothing', async () => {
    expect((await pages({ KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'P9' } } })).flat()).toEqual([]);
  });

  it('a failed transaction changes no item, and a write made before it survives', async () => {
    const key = (n: number) => ({ pk: { S: `P${n % 5}` }, sk: { S: `s${String(n).padStart(3, '0')}` } });
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(7), n: { N: '7' }, note: { S: 'before' } } }));
    await expect(
      ddb.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Update: { TableName: table, Key: key(8), UpdateExpression: 'SET note = :x', ExpressionAttributeValues: { ':x': { S: 'lost' } } } },
            { Put: { TableName: table, Item: { pk: { S: 'P9' }, sk: { S: 'new' }, n: { N: '99' } } } },
            { ConditionCheck: { TableName: table, Key: key(7), ConditionExpression: 'note = :y', ExpressionAttributeValues: { ':y': { S: 'other' } } } },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: 'TransactionCanceledException' });
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key(8) }))).Item?.note).toBeUndefined();
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'P9' }, sk: { S: 'new' } } }))).Item).toBeUndefined();
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: key(7) }))).Item?.note).toEqual({ S: 'before' });
  });
});
