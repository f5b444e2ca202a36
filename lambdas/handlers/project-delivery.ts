/**
 * Lambda entry point of the delivery function: projects one client's delivery record onto AWS
 * (lambdas/aws/delivery/project-delivery.ts). The operator CLI invokes it with `{"clientId"}`
 * after changing a client's delivery settings or offboarding it; its role is the only principal
 * that may change a client secret's policy or the client topic's subscriptions.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { systemClock } from '../core/clock';
import { InvalidOperationInputError } from '../core/errors';
import { CLIENT_ID_PATTERN } from '../core/rotation-request';
import { dynamoDbClient, secretsManagerClient, snsClient } from '../aws/clients';
import type { DeliveryProjectionResult } from '../aws/delivery/delivery-projector';
import { readDeliveryEnvironment } from '../aws/delivery/delivery-environment';
import { projectDelivery, type DeliveryProjectionDeps } from '../aws/delivery/project-delivery';
import { onFirstCall, step } from './entry';

/** The event the CLI sends. */
export interface ProjectDeliveryEvent {
  readonly clientId: string;
}

/** Validates the event's client id (nothing else is read from it). @throws InvalidOperationInputError */
function clientIdOf(event: unknown): string {
  const clientId = (event as Partial<ProjectDeliveryEvent> | null)?.clientId;
  if (typeof clientId !== 'string' || !CLIENT_ID_PATTERN.test(clientId)) {
    throw new InvalidOperationInputError('Invalid delivery projection request: clientId must be 1-64 characters of [A-Za-z0-9._-]', ['clientId: must be 1-64 characters of [A-Za-z0-9._-]']);
  }
  return clientId;
}

/** The handler over `deps`, with its log lines. */
export function createHandler(deps: DeliveryProjectionDeps): (event: unknown) => Promise<DeliveryProjectionResult> {
  return step('projectDelivery', (event: unknown) => projectDelivery(deps, clientIdOf(event)));
}

export const handler = onFirstCall('projectDelivery', () => {
  const { tableName, ...settings } = readDeliveryEnvironment();
  return createHandler({ dynamoDb: dynamoDbClient(), tableName, secretsManager: secretsManagerClient(), kms: new KMSClient({}), sns: snsClient(), clock: systemClock, settings });
});
