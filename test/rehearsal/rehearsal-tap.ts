/**
 * Feeds a rehearsal into the secret tap without touching the rehearsal's code: the SNS
 * messages published and the SQS messages the callers receive (every SNSClient/SQSClient
 * of the process), the protected API's response bodies (global fetch), and at the end the
 * table items and the keys of every rehearsal secret.
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { scanTable } from '../support/fixtures';
import { SecretTap, SourceKind } from '../support/secret-tap';

/** Where the rehearsal keeps its resources (local/rehearsal/provision.ts). */
const TABLE_PREFIX = 'keyroll-rehearsal-';
const SECRET_PREFIX = 'keyroll-rehearsal/';

type Send = (command: unknown, ...rest: unknown[]) => Promise<unknown>;

/** Wraps `send` on a client class's prototype; returns the undo. */
function wrapSend(clientClass: { prototype: object }, observe: (command: unknown, output: unknown) => void): () => void {
  const proto = clientClass.prototype as { send: Send };
  const hadOwn = Object.prototype.hasOwnProperty.call(proto, 'send');
  const original = proto.send;
  proto.send = async function (this: unknown, command: unknown, ...rest: unknown[]) {
    const output = await original.call(this, command, ...rest);
    observe(command, output);
    return output;
  };
  return () => {
    if (hadOwn) proto.send = original;
    else delete (proto as Partial<{ send: Send }>).send;
  };
}

/** Records the rehearsal's notifications and HTTP answers until the returned function is called. */
export function tapRehearsalTraffic(tap: SecretTap): () => void {
  const undoSns = wrapSend(SNSClient, (command) => {
    if (command instanceof PublishCommand) tap.add(`sns publish ${command.input.TopicArn ?? ''}`, command.input, SourceKind.SNS_MESSAGE);
  });
  const undoSqs = wrapSend(SQSClient, (command, output) => {
    if (!(command instanceof ReceiveMessageCommand)) return;
    for (const message of (output as { Messages?: { Body?: string; MessageAttributes?: unknown }[] }).Messages ?? []) {
      tap.add(`sqs receive ${command.input.QueueUrl ?? ''}`, message, SourceKind.SNS_MESSAGE);
    }
  });
  const originalFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const response = await originalFetch(input, init);
    tap.add(`http ${response.status} ${String(input instanceof Request ? input.url : input)}`, await response.clone().text(), SourceKind.HTTP_BODY);
    return response;
  };
  return () => {
    undoSns();
    undoSqs();
    globalThis.fetch = originalFetch;
  };
}

/** Records every item of the rehearsal tables and learns every key of the rehearsal secrets. */
export async function tapRehearsalStore(tap: SecretTap): Promise<void> {
  const dynamo = new DynamoDBClient({});
  // ListTables answers 100 names a page, and the suite's moto holds more tables than that.
  const names: string[] = [];
  let start: string | undefined;
  do {
    const page = await dynamo.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(page.TableNames ?? []));
    start = page.LastEvaluatedTableName;
  } while (start);
  dynamo.destroy();
  const tables = names.filter((name) => name.startsWith(TABLE_PREFIX));
  if (tables.length === 0) throw new Error(`No table named ${TABLE_PREFIX}*: did the rehearsal run on this moto?`);
  for (const table of tables) tap.addItems(table, await scanTable(table));
  await tap.addKeysUnderPrefix(SECRET_PREFIX);
}
