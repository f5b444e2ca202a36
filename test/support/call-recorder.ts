/**
 * Records the AWS SDK calls made inside a scope (service + command, in order) and lets the
 * scope's observer turn a call into a crash after it reached the server. The scope travels
 * with the async context (AsyncLocalStorage), so concurrent runs each see only their own
 * calls, and calls made outside any scope (test set-up, invariant checks) are not seen.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** One SDK call as the recorder saw it. */
export interface AwsCall {
  /** Client name without `Client`, e.g. `SecretsManager`, `DynamoDB`, `SNS`. */
  readonly service: string;
  /** Command name without `Command`, e.g. `PutSecretValue`, `TransactWriteItems`. */
  readonly command: string;
  /** False when the call returned an error (e.g. a failed condition). */
  readonly ok: boolean;
  /** The IAM actions the call needs (see {@link iamActionsOf}); set by the recorder, absent on hand-made calls. */
  readonly actions?: readonly string[];
  /** The DynamoDB index the call reads (its `IndexName`), if any: IAM governs it as `<table>/index/<name>`. */
  readonly index?: string;
}

/**
 * Sees every call of its scope after the service answered; throwing replaces the call's
 * outcome (a crash). `admit`, if set, runs before a call is sent and may throw to keep it
 * from the server (a process that crashed makes no more calls, even if the code caught the
 * crash), or return a promise: the call is held until it settles and sent then (a write
 * that lands late, the zombie matrix); a rejection keeps it from the server like a throw.
 */
export interface CallObserver {
  (call: AwsCall): void;
  admit?: (call: Omit<AwsCall, 'ok'>) => void | Promise<void>;
}

const scope = new AsyncLocalStorage<CallObserver>();

/** Runs `body` with `observer` seeing the SDK calls it makes (on clients passed to {@link recordCallsOf}). */
export function observeCalls<T>(observer: CallObserver, body: () => Promise<T>): Promise<T> {
  return scope.run(observer, body);
}

/** Commands that only read: a crash after them has no effect to repeat. */
export function isReadOnly(command: string): boolean {
  return /^(Get|Describe|List|Query|Scan|BatchGet)/.test(command);
}

/** The writes that change KeyRoll's stores (Secrets Manager, DynamoDB): what the zombie matrix holds back. */
export function isStoreWrite(call: Pick<AwsCall, 'service' | 'command'>): boolean {
  return (call.service === 'SecretsManager' || call.service === 'DynamoDB') && !isReadOnly(call.command);
}

/** `service:command` of a call, as the crash matrix names it. */
export const callName = (call: Pick<AwsCall, 'service' | 'command'>): string => `${call.service}:${call.command}`;

/** IAM action prefix of each client (the recorder's `service`). */
const IAM_PREFIXES: Record<string, string> = {
  SecretsManager: 'secretsmanager',
  DynamoDB: 'dynamodb',
  DynamoDBDocument: 'dynamodb',
  SNS: 'sns',
  SQS: 'sqs',
  SFN: 'states',
  KMS: 'kms',
  Lambda: 'lambda',
  CloudWatch: 'cloudwatch',
};

/** The document client's command names (lib-dynamodb) → the DynamoDB API they send. */
export const DOCUMENT_COMMANDS: Readonly<Record<string, string>> = {
  Get: 'GetItem',
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  BatchGet: 'BatchGetItem',
  BatchWrite: 'BatchWriteItem',
  TransactGet: 'TransactGetItems',
  TransactWrite: 'TransactWriteItems',
  BatchExecuteStatement: 'BatchExecuteStatement',
  ExecuteStatement: 'ExecuteStatement',
  ExecuteTransaction: 'ExecuteTransaction',
};

/** A transaction item's kind → the action IAM checks for it. */
const TRANSACT_ITEM_ACTIONS: Record<string, string> = {
  Put: 'dynamodb:PutItem',
  Update: 'dynamodb:UpdateItem',
  Delete: 'dynamodb:DeleteItem',
  ConditionCheck: 'dynamodb:ConditionCheckItem',
  Get: 'dynamodb:GetItem',
};

/**
 * The IAM actions a call needs: `<prefix>:<Command>`, except DynamoDB transactions, which IAM
 * governs item by item ("Permissions for Put, Update, Delete, and Get actions are governed by
 * the permissions used for the underlying PutItem, UpdateItem, DeleteItem, and GetItem
 * operations. For the ConditionCheck action, you can use the dynamodb:ConditionCheckItem
 * permission", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 */
export function iamActionsOf(service: string, command: string, input: unknown): string[] {
  const prefix = IAM_PREFIXES[service] ?? service.toLowerCase();
  const api = prefix === 'dynamodb' ? (DOCUMENT_COMMANDS[command] ?? command) : command;
  if (prefix === 'dynamodb' && (api === 'TransactWriteItems' || api === 'TransactGetItems')) {
    const items = ((input as { TransactItems?: Record<string, unknown>[] } | undefined)?.TransactItems ?? []).flatMap((item) => Object.keys(item));
    return [...new Set(items.map((kind) => TRANSACT_ITEM_ACTIONS[kind] ?? `dynamodb:${kind}`))].sort();
  }
  return [`${prefix}:${api}`];
}

/**
 * Records a call made without the SDK (a local stand-in for an AWS client, e.g. the local
 * executions' StopExecution) in the current scope, as the middleware would. Outside a scope, nothing.
 */
export function noteCall(call: AwsCall): void {
  scope.getStore()?.(call);
}

interface MiddlewareStackLike {
  add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
  remove(name: string): boolean;
}

const MIDDLEWARE_NAME = 'keyrollTestCallRecorder';
const instrumented = new WeakSet<object>();

/**
 * Installs the recording middleware on each client's stack (once per stack; a document
 * client shares its base client's stack). Outside an {@link observeCalls} scope it does nothing.
 */
export function recordCallsOf(...clients: { middlewareStack: unknown }[]): void {
  for (const client of clients) {
    const stack = client.middlewareStack as MiddlewareStackLike;
    if (instrumented.has(stack)) continue;
    instrumented.add(stack);
    stack.add(
      (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: unknown) => {
        const observer = scope.getStore();
        if (!observer) return next(args);
        const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
        const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const input = (args as { input?: Record<string, unknown> }).input;
        const index = typeof input?.IndexName === 'string' ? { index: input.IndexName } : {};
        const call = { service, command, actions: iamActionsOf(service, command, input), ...index };
        const held = observer.admit?.(call);
        // Only a returned promise is awaited: a synchronous admit adds no tick before the call.
        if (held) await held;
        let result: unknown;
        try {
          result = await next(args);
        } catch (error) {
          observer({ ...call, ok: false });
          throw error;
        }
        observer({ ...call, ok: true });
        return result;
      },
      // initialize: outside the SDK's own retries, so one logical call is one record.
      { step: 'initialize', name: MIDDLEWARE_NAME, priority: 'high' },
    );
  }
}
