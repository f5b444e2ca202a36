/**
 * The pickup function's two table requests: the client record (only the attributes a pickup
 * needs, so IAM's `dynamodb:Attributes` can say exactly which), and spending an assertion's
 * `jti` with a conditional put (single use: a replay, even a concurrent one, fails the
 * condition). lib/keyroll-pickup.ts grants these two requests and nothing else.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { PickupPublicKey } from '../../core/delivery';
import { classifyTransient } from '../transient';
import { clientItemKey, PICKUP_CLIENT_ATTRIBUTES, pickupJtiKey, TTL_ATTRIBUTE } from '../table-keys';

/** What a pickup knows of a client. */
export interface PickupClient {
  readonly clientId: string;
  readonly secretId: string;
  readonly currentKeyId: string;
  readonly currentKeyHash: string;
  readonly currentVersionId: string;
  readonly offboardedAt?: string;
  readonly pickupKeys: readonly PickupPublicKey[];
}

/** The table as the pickup handler uses it (an interface, so the handler's tests may script it). */
export interface PickupClients {
  /** The client's pickup view (strongly consistent: a pickup right after a rotation gets the new key), or undefined. */
  getClient(clientId: string): Promise<PickupClient | undefined>;
  /** Spends `jti` for `clientId`; false when it was spent before (a replay). `expiresAtEpoch`: when DynamoDB may delete the record. */
  spendJti(clientId: string, jti: string, expiresAtEpoch: number): Promise<boolean>;
}

/** {@link PickupClients} over the KeyRoll table. */
export class PickupTable implements PickupClients {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async getClient(clientId: string): Promise<PickupClient | undefined> {
    const names = Object.fromEntries(PICKUP_CLIENT_ATTRIBUTES.map((name, i) => [`#a${i}`, name]));
    const result = await classifyTransient(() =>
      this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: clientItemKey(clientId),
          ConsistentRead: true,
          ProjectionExpression: Object.keys(names).join(', '),
          ExpressionAttributeNames: names,
        }),
      ),
    );
    const item = result.Item as Record<string, unknown> | undefined;
    if (!item || typeof item.secretId !== 'string') return undefined;
    const delivery = item.delivery as { pickupKeys?: PickupPublicKey[] } | undefined;
    return {
      clientId: String(item.clientId),
      secretId: item.secretId,
      currentKeyId: String(item.currentKeyId),
      currentKeyHash: String(item.currentKeyHash),
      currentVersionId: String(item.currentVersionId),
      ...(typeof item.offboardedAt === 'string' ? { offboardedAt: item.offboardedAt } : {}),
      pickupKeys: Array.isArray(delivery?.pickupKeys) ? delivery.pickupKeys : [],
    };
  }

  async spendJti(clientId: string, jti: string, expiresAtEpoch: number): Promise<boolean> {
    try {
      await classifyTransient(() =>
        this.doc.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...pickupJtiKey(clientId, jti), [TTL_ATTRIBUTE]: expiresAtEpoch },
            ConditionExpression: 'attribute_not_exists(pk)',
            // Sent explicitly: the role's policy requires dynamodb:ReturnValues = NONE.
            ReturnValues: 'NONE',
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
