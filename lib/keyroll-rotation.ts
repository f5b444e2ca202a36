/**
 * KeyRollRotation: the rotation pipeline as one reusable construct. A KMS key, the
 * DynamoDB table (key metadata, client records, audit), the client and ops topics, one
 * Lambda function per step with its own least-privilege role, the Standard state machine
 * that runs them, and alarms to the ops topic.
 */
import { Arn, ArnFormat, Duration, Names, RemovalPolicy, Stack, type CfnElement } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeNagFindings } from './nag-acknowledgements';
import { keyRollFunction } from './keyroll-function';
import { opsAlarm } from './ops-alarm';
import { buildRotationDefinition, type RotationFunctions } from './rotation-definition';
import { REQUEST_SLACK_SECONDS } from '../lambdas/core/zombie-window';
import { parseVerifyEndpointUrl } from '../lambdas/core/verify-endpoint';
import { regionalServiceHost } from './service-endpoints';
import { KEY_PREFIX_PATTERN } from '../lambdas/core/api-key';
import { TTL_ATTRIBUTE } from '../lambdas/aws/table-keys';

/** Policy and wiring of a KeyRoll rotation pipeline. */
export interface KeyRollRotationProps {
  /**
   * Prefix of every issued key (`<prefix>_...`): 2-16 lowercase letters or digits,
   * starting with a letter. Pick one that secret scanners can be taught to find.
   * @default 'kr'
   */
  readonly keyPrefix?: string;
  /**
   * How long the previous key stays valid after a rotation, unless the request or the
   * client's policy says otherwise.
   * @default Duration.hours(24)
   */
  readonly defaultOverlap?: Duration;
  /**
   * Smallest overlap a rotation request may ask for.
   * @default Duration.minutes(1)
   */
  readonly minOverlap?: Duration;
  /**
   * Largest overlap a rotation request may ask for; also bounds the state machine's run time.
   * @default Duration.days(30)
   */
  readonly maxOverlap?: Duration;
  /**
   * Client secrets are named `<secretNamePrefix><clientId>`; the functions may touch only those.
   * @default 'keyroll/clients/'
   */
  readonly secretNamePrefix?: string;
  /**
   * KMS key for the table, the topics, the client secrets and the logs.
   * @default a new customer-managed key with yearly rotation
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the table and the key when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the functions' and the state machine's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Usage-aware retirement: the previous key counts as still in use if the auth layer saw
   * it within this long before the check near its not-after. Keep it at least twice the
   * auth layer's usage-record interval.
   * @default Duration.hours(1)
   */
  readonly usageWindow?: Duration;
  /**
   * Usage-aware retirement: how far each key.expiring reminder moves the previous key's
   * not-after while it is still in use (never past the rotation's finish + maxOverlap).
   * At least 10 minutes.
   * @default Duration.hours(6)
   */
  readonly reminderInterval?: Duration;
  /**
   * Name of the state machine. It is fixed at synth time because beginRotation must know the
   * state machine's ARN (emergency preemption stops the execution holding a client's lock) and
   * a reference would make the function and the state machine depend on each other. Changing
   * it replaces the state machine (and ends its running executions).
   * @default a name unique to this construct and stack, e.g. `KeyRoll-Rotation-1A2B3C4D`
   */
  readonly stateMachineName?: string;
  /**
   * Name of the fleet rotation state machine (see KeyRollFleet), fixed at synth so a
   * rotation may answer the fleet's task tokens without a reference cycle.
   * @default `<stateMachineName>-Fleet` (shortened to fit 80 characters)
   */
  readonly fleetStateMachineName?: string;
}

/** How long before the previous key's not-after the usage check runs (at most half the overlap). */
export const USAGE_CHECK_LEAD: Duration = Duration.minutes(5);

/** Which Secrets Manager actions a step needs. Only the steps that move labels get UpdateSecretVersionStage. */
const SECRET_ACTIONS: Record<keyof RotationFunctions, readonly string[]> = {
  // Emergency preemption and orphan takeover undo the stopped rotation: AWSPENDING removed,
  // AWSCURRENT restored (its version is fenced by createSecret, the one step that writes values).
  // DescribeSecret also reads RotationEnabled; ListSecretVersionIds finds a version the rotation id
  // would collide with (ids and labels only: beginRotation never reads or writes a value).
  beginRotation: ['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds', 'secretsmanager:UpdateSecretVersionStage'],
  createSecret: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
  setSecret: [],
  testSecret: ['secretsmanager:GetSecretValue'],
  finishSecret: ['secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecretVersionStage'],
  checkUsage: [],
  retireOldKey: ['secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecretVersionStage'],
  rollbackRotation: ['secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecretVersionStage'],
};

/**
 * Which DynamoDB actions a step needs. Every writer needs PutItem: audit entries are append-only
 * Puts inside its transactions ("Permissions for Put, Update, Delete, and Get actions are governed
 * by the permissions used for the underlying PutItem, UpdateItem, DeleteItem, and GetItem",
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
 */
const TABLE_ACTIONS: Record<keyof RotationFunctions, readonly string[]> = {
  // Query: whether the rotation id already ran (its audit entries, on the table itself).
  beginRotation: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query'],
  // Query: revokeImmediately lists the client's keys (byClient index).
  createSecret: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query'],
  setSecret: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  testSecret: ['dynamodb:GetItem'],
  finishSecret: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem', 'dynamodb:Query'],
  checkUsage: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  retireOldKey: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  rollbackRotation: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
};

/** The steps that Query the byClient index (the others that Query read the table only). */
const INDEX_QUERIES: ReadonlySet<keyof RotationFunctions> = new Set(['createSecret', 'finishSecret']);

/** Slack for a request a step sent just before its function timed out (lambdas/core/zombie-window.ts). */
const REQUEST_SLACK = Duration.seconds(REQUEST_SLACK_SECONDS);

/** Source file of each step's handler. */
const HANDLER_FILES: Record<keyof RotationFunctions, string> = {
  beginRotation: 'begin-rotation.ts',
  createSecret: 'create-secret.ts',
  setSecret: 'set-secret.ts',
  testSecret: 'test-secret.ts',
  finishSecret: 'finish-secret.ts',
  checkUsage: 'check-usage.ts',
  retireOldKey: 'retire-old-key.ts',
  rollbackRotation: 'rollback-rotation.ts',
};

/** Name of the table's index that lists a client's keys. Matches lambdas/aws/table-keys.ts. */
export const BY_CLIENT_INDEX = 'byClient';

/** The rotation pipeline. Construct ids are a public contract: renaming one replaces the resource. */
export class KeyRollRotation extends Construct {
  /** Encrypts the table, topics, client secrets and logs. */
  readonly encryptionKey: kms.IKey;
  /** Key metadata, client records and the audit trail. */
  readonly table: dynamodb.Table;
  /** Client-facing events (key.rotated, key.retired, key.emergency), with clientId/eventType attributes. */
  readonly clientTopic: sns.Topic;
  /** Alarms and failed rotations. */
  readonly opsTopic: sns.Topic;
  /** The rotator. Start an execution whose name is the rotation id (32-64 characters). */
  readonly stateMachine: sfn.StateMachine;
  /** One function per step. */
  readonly functions: RotationFunctions;
  /** The same functions as built (environment can still be added). */
  private readonly builtFunctions: Record<keyof RotationFunctions, lambda.Function>;
  /** The policy the construct was built with, resolved. */
  readonly keyPrefix: string;
  readonly secretNamePrefix: string;
  /** The usage window of usage-aware retirement (the auth layer must record use more often). */
  readonly usageWindow: Duration;
  /** Smallest and largest overlap a request or a client policy may ask for. */
  readonly minOverlap: Duration;
  readonly maxOverlap: Duration;
  /** Name and ARN of the fleet state machine whose task tokens rotations answer. */
  readonly fleetStateMachineName: string;
  readonly fleetStateMachineArn: string;
  /** Settings every rotation and fleet function reads from its environment. */
  readonly functionEnvironment: Readonly<Record<string, string>>;
  /**
   * How long after a rotation's execution ended one of its steps may still write: the longest
   * step function timeout + 30 s for a request already sent. A lock whose holder ended longer
   * ago than this (or is gone) is taken over by the next rotation or released by `keyroll unlock`.
   */
  readonly zombieWindow: Duration;
  /** Log retention and removal policy, for companion constructs (KeyRollFleet). */
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: KeyRollRotationProps = {}) {
    super(scope, id);
    this.keyPrefix = props.keyPrefix ?? 'kr';
    this.secretNamePrefix = props.secretNamePrefix ?? 'keyroll/clients/';
    const defaultOverlap = props.defaultOverlap ?? Duration.hours(24);
    const minOverlap = props.minOverlap ?? Duration.minutes(1);
    const maxOverlap = props.maxOverlap ?? Duration.days(30);
    validateProps(this.keyPrefix, this.secretNamePrefix, defaultOverlap, minOverlap, maxOverlap);
    this.minOverlap = minOverlap;
    this.maxOverlap = maxOverlap;
    const stateMachineName = props.stateMachineName ?? Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(stateMachineName)) {
      throw new Error(`stateMachineName must be 1-80 characters of [A-Za-z0-9_-]; got '${stateMachineName}'.`);
    }
    this.fleetStateMachineName = props.fleetStateMachineName ?? `${stateMachineName.slice(0, 74)}-Fleet`;
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(this.fleetStateMachineName)) {
      throw new Error(`fleetStateMachineName must be 1-80 characters of [A-Za-z0-9_-]; got '${this.fleetStateMachineName}'.`);
    }
    this.usageWindow = props.usageWindow ?? Duration.hours(1);
    const reminderInterval = props.reminderInterval ?? Duration.hours(6);
    if (reminderInterval.toSeconds() < 2 * USAGE_CHECK_LEAD.toSeconds()) {
      throw new Error(`reminderInterval must be at least ${2 * USAGE_CHECK_LEAD.toMinutes()} minutes; got ${reminderInterval.toSeconds()} seconds.`);
    }
    if (this.usageWindow.toSeconds() < 60) throw new Error(`usageWindow must be at least 1 minute; got ${this.usageWindow.toSeconds()} seconds.`);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const stack = Stack.of(this);
    this.logRetention = logRetention;
    this.removalPolicy = removalPolicy;
    this.fleetStateMachineArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: this.fleetStateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: 'KeyRoll: encrypts client secrets, key metadata, notifications and logs',
        enableKeyRotation: true,
        removalPolicy,
      });
    if (this.encryptionKey instanceof kms.Key) {
      // CloudWatch alarms publish to the encrypted ops topic; CloudWatch Logs encrypts the log groups.
      this.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
        }),
      );
      this.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(regionalServiceHost(this, 'logs'))],
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
          resources: ['*'],
          conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` } },
        }),
      );
    }

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      // Only pickup jti items carry it (lambdas/aws/table-keys.ts): spent assertion ids expire.
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: BY_CLIENT_INDEX,
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
    });

    this.clientTopic = new sns.Topic(this, 'ClientTopic', { masterKey: this.encryptionKey, enforceSSL: true, displayName: 'KeyRoll client key events' });
    this.opsTopic = new sns.Topic(this, 'OpsTopic', { masterKey: this.encryptionKey, enforceSSL: true, displayName: 'KeyRoll operations' });

    const environment = {
      TABLE_NAME: this.table.tableName,
      KEY_PREFIX: this.keyPrefix,
      DEFAULT_OVERLAP_SECONDS: String(defaultOverlap.toSeconds()),
      MIN_OVERLAP_SECONDS: String(minOverlap.toSeconds()),
      MAX_OVERLAP_SECONDS: String(maxOverlap.toSeconds()),
      // The lock outlives the longest execution, so only an abandoned lock can be taken over.
      LOCK_TTL_SECONDS: String(maxOverlap.plus(Duration.hours(2)).toSeconds()),
      USAGE_WINDOW_SECONDS: String(this.usageWindow.toSeconds()),
      REMINDER_INTERVAL_SECONDS: String(reminderInterval.toSeconds()),
      USAGE_CHECK_LEAD_SECONDS: String(USAGE_CHECK_LEAD.toSeconds()),
      POWERTOOLS_SERVICE_NAME: 'keyroll',
      POWERTOOLS_LOG_LEVEL: 'INFO',
    };
    this.functionEnvironment = environment;
    const functions = {} as Record<keyof RotationFunctions, lambda.Function>;
    for (const [step, file] of Object.entries(HANDLER_FILES) as [keyof RotationFunctions, string][]) {
      functions[step] = this.stepFunction(step, file, environment, logRetention, removalPolicy);
    }
    this.functions = functions;
    this.builtFunctions = functions;
    // A Lambda invocation cannot outlive its function timeout, and the SDK retries inside it: a
    // stopped execution's step can send a request until the longest timeout, plus slack for one in flight.
    const longestStep = Math.max(...Object.values(functions).map((fn) => fn.timeout?.toSeconds() ?? 3));
    this.zombieWindow = Duration.seconds(longestStep).plus(REQUEST_SLACK);
    for (const fn of Object.values(functions)) fn.addEnvironment('ZOMBIE_WINDOW_SECONDS', String(this.zombieWindow.toSeconds()));
    // beginRotation asks how the execution that holds a client's lock stands and stops it
    // (orphan takeover, emergency preemption). The ARN is built from the fixed name: a reference
    // would be a cycle (the definition refers to the function).
    const stateMachineArn = stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: stateMachineName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const executionArns = stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    functions.beginRotation.addEnvironment('STATE_MACHINE_ARN', stateMachineArn);
    functions.beginRotation.role!.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [executionArns] }));

    const stateMachineLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logRetention,
      encryptionKey: this.encryptionKey,
      removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildRotationDefinition(this, { functions, table: this.table, clientTopic: this.clientTopic, opsTopic: this.opsTopic, fleetStateMachineArn: this.fleetStateMachineArn }),
      ),
      // Longest legitimate run: the overlap plus retries; the lock TTL is longer still.
      timeout: maxOverlap.plus(Duration.hours(1)),
      tracingEnabled: true,
      // Execution data holds ids only, but logs never carry it anyway (invariant 5).
      logs: { destination: stateMachineLogs, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // The SnsPublish and DynamoUpdateItem tasks grant only sns:Publish / dynamodb:UpdateItem, but the
    // topics and the table are encrypted with this key: SNS and DynamoDB use it with the caller's
    // permissions, so without these statements every Notify* and ReleaseLock* state is denied.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'sns') } },
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );
    // The state machine's own table writes (the ReleaseLock* states) only remove a client's lock
    // (`REMOVE #lock` on `CLIENT#<id>`), but the DynamoUpdateItem task grants UpdateItem on the
    // whole table. These Denies narrow it with DynamoDB's condition keys: no other attribute
    // (dynamodb:Attributes), no other partition than a client's (dynamodb:LeadingKeys); see
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html.
    // Two statements: conditions within one are ANDed, and either breach must be denied.
    for (const condition of [{ 'ForAnyValue:StringNotEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'lock'] } }, { 'ForAnyValue:StringNotLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] } }]) {
      this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ effect: iam.Effect.DENY, actions: ['dynamodb:UpdateItem'], resources: [this.table.tableArn], conditions: condition }));
    }
    this.createAlarms();
    acknowledgeNagFindings(this, {
      stepRoles: Object.entries(functions).map(([step, fn]) => ({
        role: fn.role!,
        readsSecrets: SECRET_ACTIONS[step as keyof RotationFunctions].length > 0,
      })),
      stateMachineRole: this.stateMachine.role,
      functionLogicalIds: Object.values(functions).map((fn) => stack.getLogicalId(fn.node.defaultChild as CfnElement)),
      secretNamePrefix: this.secretNamePrefix,
      preemptingRole: { role: functions.beginRotation.role!, stateMachineName },
    });
  }

  /**
   * Makes testSecret also call `url` (an endpoint behind the KeyRoll authorizer) with the new
   * key and require a 2xx, proving the key end to end before it becomes current. Redirects are
   * refused, never followed.
   *
   * @throws InvalidVerifyEndpointError when `url` is not an https URL or carries userinfo
   * (a URL that starts with a token is checked when testSecret runs instead).
   */
  proveKeysAgainst(url: string): void {
    checkVerifyEndpointUrl(url);
    this.builtFunctions.testSecret.addEnvironment('VERIFY_ENDPOINT_URL', url);
  }

  /** Lets `grantee` start rotations (StartExecution) and read their status. */
  grantStartRotation(grantee: iam.IGrantable): iam.Grant {
    const executions = Arn.format(
      { service: 'states', resource: 'execution', resourceName: `${Arn.split(this.stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME },
      Stack.of(this),
    );
    this.stateMachine.grantRead(grantee);
    return iam.Grant.addToPrincipal({ grantee, actions: ['states:StartExecution'], resourceArns: [this.stateMachine.stateMachineArn] }).combine(
      iam.Grant.addToPrincipal({ grantee, actions: ['states:DescribeExecution', 'states:StopExecution'], resourceArns: [executions] }),
    );
  }

  /** Executions that failed (rolled back or not). */
  metricFailedRotations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum', ...props });
  }

  /** Executions that ran out of time. */
  metricTimedOutRotations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum', ...props });
  }

  /** Executions stopped by an operator or by an emergency preemption. */
  metricAbortedRotations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stateMachine.metricAborted({ period: Duration.minutes(5), statistic: 'Sum', ...props });
  }

  private createAlarms(): void {
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => opsAlarm(this, id, this.opsTopic, metric, description);
    alarm('FailedRotationsAlarm', this.metricFailedRotations(), 'A KeyRoll rotation failed; see the ops topic message and the execution history.');
    alarm('TimedOutRotationsAlarm', this.metricTimedOutRotations(), 'A KeyRoll rotation timed out; its client lock expires on its own, but look first.');
    for (const [step, fn] of stepFunctionsOf(this.functions)) {
      alarm(`${capitalize(step)}ErrorsAlarm`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), `The KeyRoll ${step} function reported errors.`);
    }
  }

  private stepFunction(step: keyof RotationFunctions, file: string, environment: Record<string, string>, logRetention: logs.RetentionDays, removalPolicy: RemovalPolicy): lambda.Function {
    const id = capitalize(step);
    const { fn, role } = keyRollFunction(this, id, {
      handlerFile: file,
      description: `KeyRoll rotation step: ${step}`,
      environment,
      encryptionKey: this.encryptionKey,
      logRetention,
      removalPolicy,
    });
    const stack = Stack.of(this);
    const secretArns = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${this.secretNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const secretActions = SECRET_ACTIONS[step];
    if (secretActions.length > 0) {
      role.addToPolicy(new iam.PolicyStatement({ actions: [...secretActions], resources: [secretArns] }));
    }
    // The key only for steps that read or write a value: moving labels (UpdateSecretVersionStage)
    // and DescribeSecret never touch the ciphertext.
    const writes = secretActions.includes('secretsmanager:PutSecretValue');
    if (writes || secretActions.includes('secretsmanager:GetSecretValue')) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: writes ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
          resources: [this.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'secretsmanager') } },
        }),
      );
    }
    const tableActions = TABLE_ACTIONS[step];
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...tableActions],
        resources: INDEX_QUERIES.has(step) ? [this.table.tableArn, `${this.table.tableArn}/index/${BY_CLIENT_INDEX}`] : [this.table.tableArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [this.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );
    return fn;
  }
}

/** The step functions with their step names, typed (Object.entries of an interface gives `any`). */
export function stepFunctionsOf(functions: RotationFunctions): [keyof RotationFunctions, lambda.IFunction][] {
  return Object.entries(functions) as [keyof RotationFunctions, lambda.IFunction][];
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function validateProps(keyPrefix: string, secretNamePrefix: string, defaultOverlap: Duration, minOverlap: Duration, maxOverlap: Duration): void {
  if (!KEY_PREFIX_PATTERN.test(keyPrefix)) {
    throw new Error(`keyPrefix must be 2-16 lowercase letters or digits starting with a letter; got '${keyPrefix}'.`);
  }
  if (!/^[A-Za-z0-9/_+=.@-]{1,256}$/.test(secretNamePrefix)) {
    throw new Error(`secretNamePrefix must use only the characters Secrets Manager allows in names; got '${secretNamePrefix}'.`);
  }
  const [min, def, max] = [minOverlap.toSeconds(), defaultOverlap.toSeconds(), maxOverlap.toSeconds()];
  if (min < 60) throw new Error(`minOverlap must be at least 1 minute; got ${min} seconds.`);
  if (max > 365 * 24 * 3600 - 2 * 3600) throw new Error(`maxOverlap must leave the state machine under its 1-year limit; got ${max} seconds.`);
  if (!(min <= def && def <= max)) {
    throw new Error(`Expected minOverlap <= defaultOverlap <= maxOverlap; got ${min} s, ${def} s, ${max} s.`);
  }
}

/**
 * Synth-time check of a verification endpoint. Tokens inside the URL (the example API's id,
 * the region, the URL suffix) stand in as a plain label; a URL that starts with a token (a
 * parameter) has no scheme to check yet, and the probe checks it before sending anything.
 */
function checkVerifyEndpointUrl(url: string): void {
  if (url.startsWith('${Token[')) return;
  parseVerifyEndpointUrl(url.replace(/\$\{Token\[[^\]]+\]\}/g, 'token'));
}
