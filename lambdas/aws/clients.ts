/**
 * SDK clients, built once per container (not per invocation) and shared by the adapters.
 * Endpoints come from the standard AWS_ENDPOINT_URL variable, so the same code talks to
 * AWS, LocalStack or moto.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { QuotaRetryStrategy, SECRETS_MANAGER_RETRY } from './quota-retry-strategy';

let secretsManager: SecretsManagerClient | undefined;
let sns: SNSClient | undefined;

/**
 * The shared Secrets Manager client. Its write quota (50/s per account and Region) is shared
 * by every rotation, so a fleet rotation expects throttling: throttled calls are retried
 * with full jitter and enough attempts that a throttled write does not fail the step (which
 * Step Functions would run again whole), without the SDK modes' retry quota or rate
 * limiter (see {@link QuotaRetryStrategy} for why).
 */
export function secretsManagerClient(): SecretsManagerClient {
  if (secretsManager) return secretsManager;
  const retryStrategy = new QuotaRetryStrategy(SECRETS_MANAGER_RETRY);
  return (secretsManager = new SecretsManagerClient({ retryStrategy, maxAttempts: retryStrategy.maxAttempts() }));
}

export { dynamoDbClient } from './dynamodb-client';

/** The shared SNS client. */
export function snsClient(): SNSClient {
  return (sns ??= new SNSClient({}));
}
