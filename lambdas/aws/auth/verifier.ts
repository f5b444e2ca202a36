/**
 * The verifier wired to DynamoDB: what an API (Lambda authorizer or any Node service) needs
 * to check presented keys against KeyRoll's table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KeyVerifier, KeyVerifierOptions } from '../../core/key-verifier';
import { dynamoDbClient } from '../dynamodb-client';
import { KeyRepository } from '../key-repository';
import { createTableKeyVerifier } from './table-verifier';

/** Where the keys live and how to cache them. */
export interface DynamoKeyVerifierOptions extends Partial<Omit<KeyVerifierOptions, 'lookup'>> {
  /** The KeyRoll table (stack output `TableName`). */
  readonly tableName: string;
  /** @default a client built from the environment (region, credentials, AWS_ENDPOINT_URL) */
  readonly client?: DynamoDBDocumentClient;
}

/**
 * A {@link KeyVerifier} that reads key records strongly consistent from the KeyRoll table
 * through the AWS SDK. Create one per process and reuse it: the cache lives in it. (The
 * Lambda authorizer uses the same verifier over a lean client instead: `table-verifier.ts`.)
 */
export function createDynamoKeyVerifier(options: DynamoKeyVerifierOptions): KeyVerifier {
  const { tableName, client, ...tuning } = options;
  return createTableKeyVerifier({ ...tuning, reader: new KeyRepository(client ?? dynamoDbClient(), tableName) });
}
