/**
 * SDK clients, built once per container (not per invocation) and shared by the adapters.
 * Endpoints come from the standard AWS_ENDPOINT_URL variable, so the same code talks to
 * AWS, LocalStack or moto.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';

let secretsManager: SecretsManagerClient | undefined;
let sns: SNSClient | undefined;

/** The shared Secrets Manager client. */
export function secretsManagerClient(): SecretsManagerClient {
  return (secretsManager ??= new SecretsManagerClient({}));
}

export { dynamoDbClient } from './dynamodb-client';

/** The shared SNS client. */
export function snsClient(): SNSClient {
  return (sns ??= new SNSClient({}));
}
