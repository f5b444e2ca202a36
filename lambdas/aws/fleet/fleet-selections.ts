/**
 * A fleet's explicit list of clients, kept in the table instead of the fleet's state: the
 * operator writes it under the fleet id before StartExecution, the execution input names it by
 * count and digest, and the fleet page reads one page of it at a time. A list of 10,000 ids of
 * 64 characters is ~670 KB of JSON: over Step Functions' 256 KiB limit for an execution input
 * or a state (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 *
 * Written once per fleet id: each chunk is a Put conditioned on the chunk not existing or
 * holding the same list (same digest), so re-running the same command with the same fleet id
 * rewrites identical chunks and changes nothing, and a different list under that id is refused
 * ({@link FleetSelectionConflictError}) before anything starts (docs/design.md invariant 7).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FleetSelectionConflictError } from '../../core/errors';
import { selectionDigest, type ListedSelection } from '../../core/fleet';
import { fleetPartition, fleetSelectionKey } from '../table-keys';
import { classifyTransient } from '../transient';

/** Client ids per chunk item: 500 ids of at most 64 characters stay far below DynamoDB's 400 KB item limit. */
export const FLEET_SELECTION_CHUNK = 500;

/** Reads and writes fleet selections in the KeyRoll table. */
export class FleetSelections {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Writes `clientIds` as the selection of `fleetId` (idempotent for the same list).
   *
   * @throws FleetSelectionConflictError when the fleet id already holds a different list.
   */
  async write(fleetId: string, clientIds: readonly string[]): Promise<ListedSelection> {
    const digest = selectionDigest(clientIds);
    const chunks = Math.ceil(clientIds.length / FLEET_SELECTION_CHUNK);
    for (let chunk = 0; chunk < chunks; chunk++) {
      const ids = clientIds.slice(chunk * FLEET_SELECTION_CHUNK, (chunk + 1) * FLEET_SELECTION_CHUNK);
      try {
        await classifyTransient(() =>
          this.doc.send(
            new PutCommand({
              TableName: this.tableName,
              Item: { ...fleetSelectionKey(fleetId, chunk), fleetId, chunk, clientIds: ids, count: clientIds.length, digest },
              ConditionExpression: 'attribute_not_exists(pk) OR digest = :digest',
              ExpressionAttributeValues: { ':digest': digest },
            }),
          ),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new FleetSelectionConflictError(fleetId, 'this fleet id already holds a different list of clients');
        throw error;
      }
    }
    return { count: clientIds.length, digest };
  }

  /**
   * Up to `limit` client ids of the selection from position `start` (strongly consistent).
   *
   * @throws FleetSelectionConflictError when the table's chunks are missing or do not hold the list `listed` names.
   */
  async read(fleetId: string, listed: ListedSelection, start: number, limit: number): Promise<string[]> {
    const end = Math.min(listed.count, start + limit);
    if (start >= end) return [];
    const first = Math.floor(start / FLEET_SELECTION_CHUNK);
    const last = Math.floor((end - 1) / FLEET_SELECTION_CHUNK);
    const result = await classifyTransient(() =>
      this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          ExpressionAttributeValues: { ':pk': fleetPartition(fleetId), ':first': fleetSelectionKey(fleetId, first).sk, ':last': fleetSelectionKey(fleetId, last).sk },
          ConsistentRead: true,
        }),
      ),
    );
    const items = result.Items ?? [];
    if (items.length !== last - first + 1) throw new FleetSelectionConflictError(fleetId, `its selection has ${items.length} of the chunks ${first}-${last} it needs`);
    for (const item of items) {
      if (item.digest !== listed.digest || item.count !== listed.count) throw new FleetSelectionConflictError(fleetId, 'its selection in the table is not the list the fleet was started with');
    }
    const ids = items.flatMap((item) => item.clientIds as string[]);
    const offset = start - first * FLEET_SELECTION_CHUNK;
    return ids.slice(offset, offset + (end - start));
  }
}
