/**
 * The rotation functions' dependencies as deployed: SDK clients built once per container, the
 * table and settings read from the environment the stack sets (aws/rotation/rotation-environment.ts).
 * Tests and local runners build handlers over their own dependencies instead (step-handlers.ts).
 */
import { systemClock } from '../core/clock';
import type { Environment } from '../core/configuration';
import { dynamoDbClient, secretsManagerClient } from '../aws/clients';
import { KeyRepository } from '../aws/key-repository';
import type { RotationDeps } from '../aws/rotation/context';
import { readRotationEnvironment } from '../aws/rotation/rotation-environment';
import { SecretStore } from '../aws/secret-store';

export { logger, onFirstCall, step } from './entry';

/** A rotation function's dependencies, from its environment. @throws InvalidConfigurationError */
export function rotationDepsFromEnvironment(environment: Environment = process.env): RotationDeps {
  const { tableName, settings } = readRotationEnvironment(environment);
  return { secrets: new SecretStore(secretsManagerClient()), keys: new KeyRepository(dynamoDbClient(), tableName), clock: systemClock, settings };
}
