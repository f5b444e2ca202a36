/**
 * What IAM evaluates for one AWS call: its action(s), the resource ARN each is checked on,
 * and the request context keys the call sets. One SDK call can be several requests: a
 * DynamoDB transaction is authorized item by item, and a call on data encrypted with a
 * customer managed key makes the service use the key with the caller's permissions (implied
 * KMS requests, with kms:ViaService, aws:CalledVia and the encryption context).
 *
 * Sources:
 * - Transactions: "Permissions for Put, Update, Delete, and Get actions are governed by the
 *   permissions used for the underlying PutItem, UpdateItem, DeleteItem, and GetItem operations.
 *   For the ConditionCheck action, you can use the dynamodb:ConditionCheckItem permission"
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 * - DynamoDB condition keys (dynamodb:LeadingKeys: the partition key values; dynamodb:Attributes:
 *   the top-level attribute names a request accesses; dynamodb:ReturnValues; dynamodb:Select),
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html.
 *   Modelled strictly: every top-level name an expression, a key or an item names counts.
 * - Secrets Manager "acts on behalf of the user": kms:Decrypt to read a value, kms:GenerateDataKey
 *   and kms:Decrypt to write one, with encryption context SecretARN and SecretVersionId
 *   (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz).
 * - An SNS publisher to a topic under a customer managed key needs kms:GenerateDataKey* and
 *   kms:Decrypt (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
 * - DynamoDB's use of the table key is not per request (DynamoDB caches table keys and checks
 *   the key through the table's grant), so it is not modelled here.
 */
import { DOCUMENT_COMMANDS, iamActionsOf } from './call-recorder';
import { TEST_ACCOUNT, TEST_KEY_ARN, TEST_REGION, tableArn } from './iam-world';

/** One request IAM evaluates. */
export interface IamRequest {
  readonly action: string;
  /** The ARN the request is about (for wildcard-only actions the evaluator checks `*`). */
  readonly resource: string;
  readonly context: Readonly<Record<string, string | string[]>>;
  /** The service that made this request for the caller (an implied KMS request), if any. */
  readonly via?: string;
}

/** What a call is about, as far as choosing the test's world goes. */
export interface CallSubject {
  readonly tableName?: string;
  readonly secretId?: string;
  readonly topicArn?: string;
}

type Input = Record<string, unknown>;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** An attribute value in either form (document client: plain; low-level: `{S: ...}`) as a string. */
function scalar(value: unknown): string | undefined {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    return str(v.S) ?? str(v.N) ?? str(v.B);
  }
  return undefined;
}

/** The table's key and index key attribute names KeyRoll uses (lib/keyroll-rotation.ts, test/support/fixtures.ts). */
const PARTITION_KEYS: Record<string, string> = { '': 'pk', byClient: 'gsi1pk' };

/** The top-level attribute names an expression mentions (`#name` resolved; `a.b[0]` → `a`). */
function namesIn(expression: string | undefined, names: Record<string, string> | undefined): string[] {
  if (!expression) return [];
  const withoutValues = expression.replace(/:[A-Za-z0-9_]+/g, ' ');
  const tokens = withoutValues.match(/#?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_#]+|\[\d+\])*/g) ?? [];
  const reserved = /^(SET|REMOVE|ADD|DELETE|AND|OR|NOT|BETWEEN|IN|attribute_exists|attribute_not_exists|attribute_type|begins_with|contains|size|if_not_exists|list_append)$/i;
  return tokens
    .map((token) => token.split(/[.[]/)[0])
    .filter((token) => !reserved.test(token))
    .map((token) => (token.startsWith('#') ? (names?.[token] ?? token) : token));
}

/** The partition key value a KeyConditionExpression pins (`pk = :pk` / `#pk = :v`). */
function queriedPartition(input: Input, index: string | undefined): string | undefined {
  const key = PARTITION_KEYS[index ?? ''] ?? 'pk';
  const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
  const values = input.ExpressionAttributeValues as Record<string, unknown> | undefined;
  const expression = str(input.KeyConditionExpression) ?? '';
  for (const match of expression.matchAll(/(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)/g)) {
    const name = match[1].startsWith('#') ? names?.[match[1]] : match[1];
    if (name === key) return scalar(values?.[match[2]]);
  }
  return undefined;
}

const unique = (values: (string | undefined)[]) => [...new Set(values.filter((v): v is string => v !== undefined))].sort();

/** DynamoDB context of one item-level request (GetItem/PutItem/UpdateItem/DeleteItem/ConditionCheckItem/Query). */
function dynamoContext(input: Input, index?: string): Record<string, string | string[]> {
  const names = input.ExpressionAttributeNames as Record<string, string> | undefined;
  const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  const leading = key ? scalar(key[PARTITION_KEYS['']]) : queriedPartition(input, index);
  const attributes = unique([
    ...Object.keys(key ?? {}),
    ...namesIn(str(input.UpdateExpression), names),
    ...namesIn(str(input.ConditionExpression), names),
    ...namesIn(str(input.ProjectionExpression), names),
    ...namesIn(str(input.FilterExpression), names),
    ...namesIn(str(input.KeyConditionExpression), names),
  ]);
  const context: Record<string, string | string[]> = {};
  if (leading !== undefined) context['dynamodb:LeadingKeys'] = [leading];
  if (attributes.length > 0) context['dynamodb:Attributes'] = attributes;
  for (const [param, contextKey] of [
    ['ReturnValues', 'dynamodb:ReturnValues'],
    ['Select', 'dynamodb:Select'],
    ['ReturnConsumedCapacity', 'dynamodb:ReturnConsumedCapacity'],
  ] as const) {
    const value = str(input[param]);
    if (value) context[contextKey] = value;
  }
  return context;
}

function dynamoRequests(command: string, input: Input): IamRequest[] {
  const action = `dynamodb:${DOCUMENT_COMMANDS[command] ?? command}`;
  if (action === 'dynamodb:TransactWriteItems' || action === 'dynamodb:TransactGetItems') {
    const kinds: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };
    return ((input.TransactItems as Record<string, Input>[] | undefined) ?? []).flatMap((item) =>
      Object.entries(item).map(([kind, request]) => ({ action: `dynamodb:${kinds[kind] ?? kind}`, resource: tableArn(String(request.TableName)), context: dynamoContext(request) })),
    );
  }
  if (action === 'dynamodb:BatchGetItem' || action === 'dynamodb:BatchWriteItem') {
    const byTable = (input.RequestItems as Record<string, unknown> | undefined) ?? {};
    return Object.entries(byTable).flatMap(([table, requests]) => {
      if (action === 'dynamodb:BatchGetItem') {
        const { Keys, ...rest } = requests as Input & { Keys: Record<string, unknown>[] };
        return Keys.map((Key) => ({ action, resource: tableArn(table), context: dynamoContext({ ...rest, Key }) }));
      }
      return (requests as { PutRequest?: { Item: Input }; DeleteRequest?: { Key: Input } }[]).map((r) => ({
        action,
        resource: tableArn(table),
        context: dynamoContext(r.PutRequest ? { Item: r.PutRequest.Item } : { Key: r.DeleteRequest?.Key }),
      }));
    });
  }
  const index = str(input.IndexName);
  const table = tableArn(String(input.TableName));
  return [{ action, resource: index ? `${table}/index/${index}` : table, context: dynamoContext(input, index) }];
}

/** A secret's ARN from a SecretId (a name gets the 6-character suffix Secrets Manager appends). */
export function secretArn(secretId: string): string {
  return secretId.startsWith('arn:') ? secretId : `arn:aws:secretsmanager:${TEST_REGION}:${TEST_ACCOUNT}:secret:${secretId}-AbCdEf`;
}

/** KMS requests a service makes with the caller's permissions (kms:ViaService, aws:CalledVia). */
function implied(service: 'secretsmanager' | 'sns', actions: string[], encryptionContext: Record<string, string>): IamRequest[] {
  return actions.map((action) => ({
    action,
    resource: TEST_KEY_ARN,
    via: service,
    context: {
      'kms:ViaService': `${service}.${TEST_REGION}.amazonaws.com`,
      'kms:CallerAccount': TEST_ACCOUNT,
      'aws:CalledVia': [`${service}.amazonaws.com`],
      'aws:ViaAWSService': 'true',
      ...Object.fromEntries(Object.entries(encryptionContext).map(([k, v]) => [`kms:EncryptionContext:${k}`, v])),
      'kms:EncryptionContextKeys': Object.keys(encryptionContext),
    },
  }));
}

function secretsRequests(command: string, input: Input): IamRequest[] {
  const id = str(input.SecretId) ?? str(input.Name);
  const resource = id ? secretArn(id) : '*';
  const context: Record<string, string | string[]> = { 'secretsmanager:SecretId': resource };
  const stage = str(input.VersionStage);
  if (stage) context['secretsmanager:VersionStage'] = stage;
  const stages = input.VersionStages;
  if (Array.isArray(stages)) context['secretsmanager:VersionStage'] = stages.map(String);
  // PutResourcePolicy's secretsmanager:BlockPublicPolicy is the request's flag (absent when not sent).
  if (typeof input.BlockPublicPolicy === 'boolean') context['secretsmanager:BlockPublicPolicy'] = String(input.BlockPublicPolicy);
  const versionId = str(input.VersionId) ?? str(input.ClientRequestToken);
  if (versionId) context['secretsmanager:VersionId'] = versionId;
  const primary: IamRequest = { action: `secretsmanager:${command}`, resource, context };
  const encryption = { SecretARN: resource, ...(versionId ? { SecretVersionId: versionId } : {}) };
  if (command === 'GetSecretValue') return [primary, ...implied('secretsmanager', ['kms:Decrypt'], encryption)];
  if (command === 'PutSecretValue') return [primary, ...implied('secretsmanager', ['kms:GenerateDataKey', 'kms:Decrypt'], encryption)];
  return [primary];
}

/**
 * KMS calls on the stack's key (the world has one key; moto's key id stands for it). CreateGrant
 * sets the grant condition keys: kms:GrantOperations (the grant's operations), kms:GrantConstraintType
 * (EncryptionContextSubset or EncryptionContextEquals), kms:GranteePrincipal, kms:GrantIsForAWSResource
 * (false: KeyRoll calls it, not an integrated service) and, per constraint pair,
 * kms:EncryptionContext:<key> and kms:EncryptionContextKeys
 * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html).
 */
function kmsRequests(command: string, input: Input): IamRequest[] {
  const context: Record<string, string | string[]> = { 'kms:CallerAccount': TEST_ACCOUNT };
  if (command === 'CreateGrant') {
    const operations = input.Operations;
    if (Array.isArray(operations)) context['kms:GrantOperations'] = operations.map(String);
    const grantee = str(input.GranteePrincipal);
    if (grantee) context['kms:GranteePrincipal'] = grantee;
    context['kms:GrantIsForAWSResource'] = 'false';
    const constraints = (input.Constraints ?? {}) as Record<string, Record<string, string> | undefined>;
    for (const type of ['EncryptionContextSubset', 'EncryptionContextEquals']) {
      const pairs = constraints[type];
      if (!pairs) continue;
      context['kms:GrantConstraintType'] = type;
      for (const [key, value] of Object.entries(pairs)) context[`kms:EncryptionContext:${key}`] = value;
      context['kms:EncryptionContextKeys'] = Object.keys(pairs);
    }
  }
  return [{ action: `kms:${command}`, resource: TEST_KEY_ARN, context }];
}

/**
 * SNS calls: on the topic they name, or (Unsubscribe, Get/SetSubscriptionAttributes) on the
 * topic of the subscription (its ARN is the topic's plus an id); Subscribe sets sns:Protocol and
 * sns:Endpoint (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html).
 */
function snsRequests(command: string, input: Input): IamRequest[] {
  const subscription = str(input.SubscriptionArn);
  const topic = str(input.TopicArn) ?? (subscription ? subscription.split(':').slice(0, 6).join(':') : '*');
  const context: Record<string, string> = {};
  if (command === 'Subscribe') {
    const [protocol, endpoint] = [str(input.Protocol), str(input.Endpoint)];
    if (protocol) context['sns:Protocol'] = protocol;
    if (endpoint) context['sns:Endpoint'] = endpoint;
  }
  const primary: IamRequest = { action: `sns:${command}`, resource: topic, context };
  return command === 'Publish' ? [primary, ...implied('sns', ['kms:GenerateDataKey', 'kms:Decrypt'], { 'aws:sns:topicArn': topic })] : [primary];
}

function sfnRequests(command: string, input: Input): IamRequest[] {
  const action = `states:${command}`;
  const resource = str(input.executionArn) ?? str(input.stateMachineArn) ?? '*';
  return [{ action, resource, context: {} }];
}

/**
 * The IAM requests of one call: `service` is the SDK client's name without `Client`
 * (DynamoDB, DynamoDBDocument, SecretsManager, SNS, SFN), `command` its command without `Command`.
 */
export function iamRequestsOf(service: string, command: string, input: Input): IamRequest[] {
  switch (service) {
    case 'DynamoDB':
    case 'DynamoDBDocument':
      return dynamoRequests(command, input);
    case 'SecretsManager':
      return secretsRequests(command, input);
    case 'SNS':
      return snsRequests(command, input);
    case 'KMS':
      return kmsRequests(command, input);
    case 'SFN':
      return sfnRequests(command, input);
    default:
      return iamActionsOf(service, command, input).map((action) => ({ action, resource: '*', context: {} }));
  }
}

/** What the call names (to find the test world it belongs to). */
export function subjectOf(input: Input): CallSubject {
  const transact = (input.TransactItems as Record<string, Input>[] | undefined)?.flatMap((item) => Object.values(item))[0];
  const batch = Object.keys((input.RequestItems as Input | undefined) ?? {})[0];
  const tableName = str(input.TableName) ?? str(transact?.TableName) ?? batch;
  const subscription = str(input.SubscriptionArn);
  return { tableName, secretId: str(input.SecretId) ?? str(input.Name), topicArn: str(input.TopicArn) ?? (subscription ? subscription.split(':').slice(0, 6).join(':') : undefined) };
}
