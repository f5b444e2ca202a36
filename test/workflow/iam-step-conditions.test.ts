/**
 * The condition keys the step roles use where AWS offers one that fits (issue 16, "the same
 * review for every step role"), judged by the IAM evaluator on requests built the way the
 * recorder builds them (test/support/iam-requests.ts) from SDK inputs, against the synthesized
 * template. DynamoDB's keys: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html.
 *
 * - The rotation state machine's direct UpdateItem (ReleaseLock*) may only remove a client's
 *   lock: other attributes (dynamodb:Attributes) or other partitions (dynamodb:LeadingKeys) are
 *   explicitly denied, though the DynamoUpdateItem task grants UpdateItem on the whole table.
 * - The fleet page may only Query the byClient index's client list (partition CLIENTS), not the
 *   per-client key listings the same index holds.
 */
import { FleetStates } from '../../lib/fleet-definition';
import { RotationStates } from '../../lib/rotation-definition';
import { evaluatorOf } from '../support/iam-evaluator';
import type { RoleRef } from '../support/iam-principals';
import { iamRequestsOf } from '../support/iam-requests';
import { synthesizedTemplate } from '../support/iam-template';
import type { IamWorld } from '../support/iam-world';

const world: IamWorld = { tableName: 'keyroll-conditions' };
const evaluator = evaluatorOf(synthesizedTemplate());

async function verdict(principal: Parameters<typeof evaluator.principals.roleOf>[0], service: string, command: string, input: Record<string, unknown>): Promise<string[]> {
  const role = evaluator.principals.roleOf(principal) as RoleRef;
  expect(role.role).toBeDefined();
  return Promise.all(iamRequestsOf(service, command, input).map(async (request) => (await evaluator.evaluate(role, request, world)).result));
}

/** ReleaseLock's request as the state sends it (lib/rotation-definition.ts), with `change` applied. */
const release = (change: Record<string, unknown> = {}) => ({
  TableName: world.tableName,
  Key: { pk: { S: 'CLIENT#acme' }, sk: { S: 'CLIENT' } },
  UpdateExpression: 'REMOVE #lock',
  ConditionExpression: '#lock.rotationId = :rid',
  ExpressionAttributeNames: { '#lock': 'lock' },
  ExpressionAttributeValues: { ':rid': { S: 'rot-1' } },
  ...change,
});

describe('the rotation state machine role: lock releases only', () => {
  const asRelease = { machine: 'rotation', state: RotationStates.RELEASE_LOCK } as const;

  test('removing a client lock is allowed', async () => {
    expect(await verdict(asRelease, 'DynamoDB', 'UpdateItem', release())).toEqual(['Allowed']);
  });

  test('touching another attribute of the client item is denied (dynamodb:Attributes)', async () => {
    const unrevoke = release({ UpdateExpression: 'REMOVE #lock, revokedAt', ExpressionAttributeNames: { '#lock': 'lock' } });
    expect(await verdict(asRelease, 'DynamoDB', 'UpdateItem', unrevoke)).toEqual(['ExplicitlyDenied']);
  });

  test('an item outside the client partitions (a key item) is denied (dynamodb:LeadingKeys)', async () => {
    const keyItem = release({ Key: { pk: { S: 'KEY#abc' }, sk: { S: 'KEY' } } });
    expect(await verdict(asRelease, 'DynamoDB', 'UpdateItem', keyItem)).toEqual(['ExplicitlyDenied']);
  });
});

describe('the fleet page role: the client list only', () => {
  const asPage = { machine: 'fleet', state: FleetStates.LIST_CLIENTS } as const;
  const query = (partition: string) => ({
    TableName: world.tableName,
    IndexName: 'byClient',
    KeyConditionExpression: 'gsi1pk = :p',
    ExpressionAttributeValues: { ':p': partition },
  });

  test('a page of the client list is allowed', async () => {
    expect(await verdict(asPage, 'DynamoDBDocument', 'Query', query('CLIENTS'))).toEqual(['Allowed']);
  });

  test("a client's key listing is denied", async () => {
    expect(await verdict(asPage, 'DynamoDBDocument', 'Query', query('CLIENT#acme'))).toEqual(['ImplicitlyDenied']);
  });
});
