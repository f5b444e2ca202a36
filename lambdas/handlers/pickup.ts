/**
 * Lambda entry point of the key pickup endpoint (API Gateway REST proxy integration); the logic
 * lives in aws/pickup/pickup-handler.ts. TABLE_NAME and PICKUP_AUDIENCE are set by the stack
 * (lib/keyroll-pickup.ts), read on the first invocation.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { systemClock } from '../core/clock';
import { PICKUP_METRICS_NAMESPACE, PICKUP_METRICS_SERVICE } from '../core/pickup-metric-names';
import { dynamoDbClient, secretsManagerClient } from '../aws/clients';
import { createPickupHandler } from '../aws/pickup/pickup-handler';
import { readPickupEnvironment } from '../aws/pickup/pickup-environment';
import { PickupTable } from '../aws/pickup/pickup-table';
import { SecretStore } from '../aws/secret-store';
import { onFirstCall } from './entry';

const logger = new Logger({ serviceName: PICKUP_METRICS_SERVICE });
const metrics = new Metrics({ namespace: PICKUP_METRICS_NAMESPACE, serviceName: PICKUP_METRICS_SERVICE });

export const handler = onFirstCall<APIGatewayProxyEvent, APIGatewayProxyResult>('pickup', () => {
  const { tableName, audience } = readPickupEnvironment();
  return createPickupHandler({
    clients: new PickupTable(dynamoDbClient(), tableName),
    secrets: new SecretStore(secretsManagerClient()),
    clock: systemClock,
    audience,
    metrics,
    logger,
  });
});
