/**
 * SDK clients, built once per container (not per invocation) and shared by the adapters.
 * Endpoints come from the standard AWS_ENDPOINT_URL variable, so the same code talks to
 * AWS, LocalStack or moto.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';

let secretsManager: SecretsManagerClient | undefined;
let sns: SNSClient | undefined;

/**
 * The shared Secrets Manager client. Its write quota (50/s per account and Region) is shared
 * by every rotation, so a fleet rotation expects throttling: adaptive retries add a
 * client-side rate limiter that slows this container down on throttling, and more attempts
 * keep a throttled write from failing the step (which Step Functions would run again whole).
 */
export function secretsManagerClient(): SecretsManagerClient {
  return (secretsManager ??= new SecretsManagerClient({ retryMode: 'adaptive', maxAttempts: 6 }));
}

export { dynamoDbClient } from './dynamodb-client';

/** The shared SNS client. */
export function snsClient(): SNSClient {
  return (sns ??= new SNSClient({}));
}
