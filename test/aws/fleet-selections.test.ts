/** A fleet's explicit list in the table (lambdas/aws/fleet/fleet-selections.ts), against moto. */
import { randomUUID } from 'node:crypto';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { FLEET_SELECTION_CHUNK, FleetSelections } from '../../lambdas/aws/fleet/fleet-selections';
import { fleetSelectionKey } from '../../lambdas/aws/table-keys';
import { selectionDigest } from '../../lambdas/core/fleet';
import { createKeyRollTable } from '../support/fixtures';

let tableName: string;
let selections: FleetSelections;

beforeAll(async () => {
  tableName = await createKeyRollTable();
  selections = new FleetSelections(dynamoDbClient(), tableName);
});

const ids = (count: number) => Array.from({ length: count }, (_, i) => `client-${String(i).padStart(5, '0')}`);

describe('fleet selections', () => {
  it('reads back any page of the list, across chunk boundaries, in order', async () => {
    const fleetId = `fleet-${randomUUID()}`;
    const list = ids(2 * FLEET_SELECTION_CHUNK + 7);
    const listed = await selections.write(fleetId, list);
    expect(listed).toEqual({ count: list.length, digest: selectionDigest(list) });
    for (const [start, limit] of [
      [0, 500],
      [450, 100],
      [990, 500],
      [1000, 3],
      [1007, 10],
    ] as const) {
      expect(await selections.read(fleetId, listed, start, limit)).toEqual(list.slice(start, start + limit));
    }
  });

  it('is written once per fleet id: the same list again changes nothing, another list is refused', async () => {
    const fleetId = `fleet-${randomUUID()}`;
    const listed = await selections.write(fleetId, ids(3));
    expect(await selections.write(fleetId, ids(3))).toEqual(listed);
    await expect(selections.write(fleetId, ids(4))).rejects.toMatchObject({ name: 'FleetSelectionConflict' });
    expect(await selections.read(fleetId, listed, 0, 10)).toEqual(ids(3));
  });

  it('refuses to read a list other than the one the fleet was started with, or a chunk that is gone', async () => {
    const fleetId = `fleet-${randomUUID()}`;
    const list = ids(FLEET_SELECTION_CHUNK + 1);
    const listed = await selections.write(fleetId, list);
    await expect(selections.read(fleetId, { ...listed, digest: selectionDigest(['other']) }, 0, 10)).rejects.toMatchObject({ name: 'FleetSelectionConflict' });
    await expect(selections.read(`fleet-${randomUUID()}`, listed, 0, 10)).rejects.toMatchObject({ name: 'FleetSelectionConflict' });
    await dynamoDbClient().send(new DeleteCommand({ TableName: tableName, Key: fleetSelectionKey(fleetId, 1) }));
    await expect(selections.read(fleetId, listed, FLEET_SELECTION_CHUNK - 1, 2)).rejects.toMatchObject({ name: 'FleetSelectionConflict' });
  });
});
