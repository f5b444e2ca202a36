/**
 * The local DynamoDB refuses what DynamoDB refuses, so a test cannot pass on a transaction AWS
 * would reject (local/moto-patches/sitecustomize.py, transact-get-100-actions and transaction-4mb):
 * - TransactWriteItems and TransactGetItems take up to 100 actions; the aggregate size of the
 *   items in the transaction cannot exceed 4 MB (1 MB = 1024 KB):
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 *   https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactGetItems.html
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
 * - an item is at most 400 KB, attribute names included (same quotas page).
 * Unpatched moto 5.2 refused TransactGetItems over 25 actions and had no 4 MB check.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';

const ddb = new DynamoDBClient({});
const table = `moto-limits-${Date.now().toString(36)}`;
const KB = 1024;

/** An item of about `bytes` bytes (attribute names and values, as DynamoDB counts them). */
const item = (pk: string, bytes = 0) => ({ pk: { S: pk }, data: { S: 'x'.repeat(Math.max(0, bytes - 'pk'.length - pk.length - 'data'.length)) } });
const put = (pk: string, bytes = 0): TransactWriteItem => ({ Put: { TableName: table, Item: item(pk, bytes) } });

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected DynamoDB to refuse the request');
}

/** Items whose key starts with `prefix` (a Scan reads 1 MB a page: the big items take several). */
async function count(prefix: string): Promise<number> {
  let n = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await ddb.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, FilterExpression: 'begins_with(pk, :p)', ExpressionAttributeValues: { ':p': { S: prefix } } }));
    n += page.Items?.length ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return n;
}

beforeAll(async () => {
  await ddb.send(
    new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }),
  );
});

afterAll(() => ddb.destroy());

describe('100 actions per transaction', () => {
  it('TransactWriteItems: 100 actions are written, 101 are refused and nothing is written', async () => {
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 100 }, (_, i) => put(`w100-${i}`)) }));
    expect(await count('w100-')).toBe(100);
    const error = await refusal(ddb.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 101 }, (_, i) => put(`w101-${i}`)) })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/Member must have length less than or equal to 100/);
    expect(await count('w101-')).toBe(0);
  });

  it('TransactGetItems: 100 actions are served (moto refused over 25), 101 are refused', async () => {
    const gets = (n: number) => Array.from({ length: n }, (_, i) => ({ Get: { TableName: table, Key: { pk: { S: i < 100 ? `w100-${i}` : 'w100-extra' } } } }));
    const { Responses } = await ddb.send(new TransactGetItemsCommand({ TransactItems: gets(100) }));
    expect(Responses?.filter((r) => r.Item)).toHaveLength(100);
    const error = await refusal(ddb.send(new TransactGetItemsCommand({ TransactItems: gets(101) })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/Member must have length less than or equal to 100/);
  });
});

describe('4 MB per transaction', () => {
  it('TransactWriteItems: 10 items of 390 KB are written, 11 (4.19 MB) are refused and nothing is written', async () => {
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 10 }, (_, i) => put(`big10-${i}`, 390 * KB)) }));
    expect(await count('big10-')).toBe(10);
    const error = await refusal(ddb.send(new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 11 }, (_, i) => put(`big11-${i}`, 390 * KB)) })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/4 MB/);
    expect(await count('big11-')).toBe(0);
  });

  it('TransactWriteItems: updates and condition checks count the items they touch', async () => {
    const touch: TransactWriteItem[] = Array.from({ length: 10 }, (_, i) => ({
      Update: { TableName: table, Key: { pk: { S: `big10-${i}` } }, UpdateExpression: 'SET touched = :t', ExpressionAttributeValues: { ':t': { BOOL: true } } },
    }));
    await ddb.send(new TransactWriteItemsCommand({ TransactItems: touch }));
    const error = await refusal(ddb.send(new TransactWriteItemsCommand({ TransactItems: [...touch, put('big-extra', 390 * KB)] })));
    expect(error.name).toBe('ValidationException');
    const check: TransactWriteItem = { ConditionCheck: { TableName: table, Key: { pk: { S: 'big10-0' } }, ConditionExpression: 'attribute_exists(pk)' } };
    const checked = await refusal(ddb.send(new TransactWriteItemsCommand({ TransactItems: [check, ...Array.from({ length: 10 }, (_, i) => put(`big-c-${i}`, 390 * KB))] })));
    expect(checked.name).toBe('ValidationException');
    expect(await count('big-c-')).toBe(0);
  });

  it('TransactGetItems: reading 10 items of 390 KB is served, 11 are refused', async () => {
    await ddb.send(new PutItemCommand({ TableName: table, Item: item('big-get-extra', 390 * KB) }));
    const gets = (n: number) => Array.from({ length: n }, (_, i) => ({ Get: { TableName: table, Key: { pk: { S: i < 10 ? `big10-${i}` : 'big-get-extra' } } } }));
    const { Responses } = await ddb.send(new TransactGetItemsCommand({ TransactItems: gets(10) }));
    expect(Responses?.filter((r) => r.Item)).toHaveLength(10);
    const error = await refusal(ddb.send(new TransactGetItemsCommand({ TransactItems: gets(11) })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/4 MB/);
  });
});

describe('400 KB per item (moto enforces it already)', () => {
  it('PutItem and a transaction refuse an item over 400 KB', async () => {
    const error = await refusal(ddb.send(new PutItemCommand({ TableName: table, Item: item('huge', 401 * KB) })));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(/Item size has exceeded the maximum allowed size/);
    await refusal(ddb.send(new TransactWriteItemsCommand({ TransactItems: [put('huge-t', 401 * KB)] })));
    expect((await ddb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'huge-t' } } }))).Item).toBeUndefined();
  });
});
