/**
 * The shared DynamoDB document client, in its own module so that the authorizer (which
 * needs nothing else) does not load the Secrets Manager and SNS clients at cold start.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

let dynamoDb: DynamoDBDocumentClient | undefined;

/** The shared DynamoDB document client (plain JS values in and out; undefined attributes dropped). */
export function dynamoDbClient(): DynamoDBDocumentClient {
  return (dynamoDb ??= DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  }));
}
