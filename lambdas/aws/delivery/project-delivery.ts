/**
 * Projects a client's delivery record (ClientRecord.delivery, lambdas/core/delivery.ts) onto
 * AWS: the secret's resource policy (secret-policy.ts), one KMS grant per reader
 * (kms-grants.ts) and one SNS subscription per endpoint (subscriptions.ts).
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../core/clock';
import type { DeliveryProjectionResult, DeliveryProjector } from './delivery-projector';

/** The deployment a projection writes to (the delivery function's environment). */
export interface DeliveryProjectionSettings {
  /** The KMS key that encrypts client secrets (stack output KeyArn): grants are made on it. */
  readonly keyArn: string;
  /** The client topic (stack output ClientTopicArn): subscriptions are made on it. */
  readonly clientTopicArn: string;
  /** KeyRoll's own roles that read client secrets (createSecret's, testSecret's, the pickup function's). */
  readonly keyrollSecretReaderArns: readonly string[];
  /** The delivery function's own role: the only principal that may change a secret's policy. */
  readonly deliveryRoleArn: string;
  /** The deployment's partition (`aws`, `aws-cn`, `aws-us-gov`). */
  readonly partition: string;
}

/** What a projection uses, injected. */
export interface DeliveryProjectionDeps {
  /** A document client with `removeUndefinedValues: true`. */
  readonly dynamoDb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly secretsManager: SecretsManagerClient;
  readonly kms: KMSClient;
  readonly sns: SNSClient;
  readonly clock: Clock;
  readonly settings: DeliveryProjectionSettings;
}

/**
 * Makes AWS match client `clientId`'s delivery record. Idempotent (a re-run on an unchanged
 * record changes nothing), crash-safe (a re-run after a crash anywhere converges) and safe to
 * run twice at once (both converge to the record they end with).
 *
 * @throws UnknownClient when no client has this id
 */
export async function projectDelivery(deps: DeliveryProjectionDeps, clientId: string): Promise<DeliveryProjectionResult> {
  throw new Error(`projectDelivery(${clientId}) over ${deps.tableName}: not implemented yet`);
}

/** {@link DeliveryProjector} over {@link projectDelivery}, in process (tests, local runs, the Lambda handler). */
export class InProcessDeliveryProjector implements DeliveryProjector {
  constructor(private readonly deps: DeliveryProjectionDeps) {}

  project(clientId: string): Promise<DeliveryProjectionResult> {
    return projectDelivery(this.deps, clientId);
  }
}
