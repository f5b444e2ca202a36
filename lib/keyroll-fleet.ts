/**
 * Fleet rotation: one execution rotates every client, a tagged group or a list, paced to
 * the Secrets Manager write quota. See lib/fleet-definition.ts for the workflow and
 * docs/runbook.md for when to use it.
 */
import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DEFAULT_FLEET_WRITES_PER_SECOND, MAX_PAGE_SIZE, SECRETS_MANAGER_WRITES_PER_SECOND } from '../lambdas/core/fleet';
import { buildFleetDefinition } from './fleet-definition';
import { keyRollFunction } from './keyroll-function';
import { BY_CLIENT_INDEX, type KeyRollRotation } from './keyroll-rotation';
import { acknowledgeFleetFindings, acknowledgeTracing } from './nag-acknowledgements';
import { opsAlarm } from './ops-alarm';
import { regionalServiceHost } from './service-endpoints';
import { CLIENT_LIST_PARTITION, TABLE_KEY_ATTRIBUTES } from '../lambdas/aws/table-keys';

/** How a fleet rotation is paced. */
export interface KeyRollFleetProps {
  readonly rotation: KeyRollRotation;
  /**
   * Rotations in flight at once: a cap, not the pace (the starts are paced to
   * `writesPerSecond`). A rotation holds its slot from its start until its new key is
   * current: 2–3 s on AWS, several more when its writes are throttled and retried. By
   * Little's law the cap must exceed the bound (25 rotations/s at 2 writes each; 12.5 when an
   * emergency made 4) × that time, or it, not the quota, sets the rate: 40 held a rehearsal at
   * 87% of the 12.5/s bound, 100 at 93%.
   * @default 100
   */
  readonly maxConcurrency?: number;
  /**
   * How long an item waits for its rotation's report before counting the client as not rotated.
   * @default 15 minutes
   */
  readonly itemTimeout?: Duration;
  /**
   * Clients per Map run: the page's results replace its items in the state, so pageSize × the
   * largest item result must fit Step Functions' 256 KiB state limit (lambdas/core/fleet.ts MAX_PAGE_SIZE).
   * @default 500 (the most)
   */
  readonly pageSize?: number;
  /**
   * Secrets Manager writes per second a fleet paces its starts to (the account has 50, shared
   * by PutSecretValue, UpdateSecretVersionStage and UpdateSecret, not adjustable).
   * @default 48, leaving a little for onboarding and scheduled rotations running meanwhile
   */
  readonly writesPerSecond?: number;
}

/** The fleet rotation state machine and its page function. */
export class KeyRollFleet extends Construct {
  /** Start an execution with `{ mode, reason, requestedBy, all | tag | clientIds, revokeImmediately? }`. */
  readonly stateMachine: sfn.StateMachine;

  private readonly rotation: KeyRollRotation;

  constructor(scope: Construct, id: string, props: KeyRollFleetProps) {
    super(scope, id);
    const { rotation } = props;
    this.rotation = rotation;
    const maxConcurrency = props.maxConcurrency ?? 100;
    const pageSize = props.pageSize ?? MAX_PAGE_SIZE;
    const writesPerSecond = props.writesPerSecond ?? DEFAULT_FLEET_WRITES_PER_SECOND;
    if (!(writesPerSecond > 0 && writesPerSecond <= SECRETS_MANAGER_WRITES_PER_SECOND))
      throw new Error(`writesPerSecond must be more than 0 and at most ${SECRETS_MANAGER_WRITES_PER_SECOND}; got ${writesPerSecond}.`);
    if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 1000) throw new Error(`maxConcurrency must be 1-1000; got ${maxConcurrency}.`);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw new Error(`pageSize must be 1-${MAX_PAGE_SIZE} (the 256 KiB state limit); got ${pageSize}.`);
    const stack = Stack.of(this);

    const { fn: fleetPage, role } = keyRollFunction(this, 'FleetPage', {
      handlerFile: 'fleet-page.ts',
      description: 'KeyRoll fleet rotation: lists the next page of clients and tallies the last',
      environment: { ...rotation.functionEnvironment, FLEET_PAGE_SIZE: String(pageSize), FLEET_WRITES_PER_SECOND: String(writesPerSecond) },
      encryptionKey: rotation.encryptionKey,
      logRetention: rotation.logRetention,
      removalPolicy: rotation.removalPolicy,
    });
    acknowledgeTracing(role);
    // Reads client ids from the byClient index's client list, nothing else: the index also lists
    // each client's keys (partition CLIENT#<id>), which a page never needs (dynamodb:LeadingKeys,
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [`${rotation.table.tableArn}/index/${BY_CLIENT_INDEX}`],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [CLIENT_LIST_PARTITION] } },
      }),
    );
    // Reads a fleet's explicit selection (written by the operator under FLEET#<fleetId>): only those partitions.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [rotation.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [rotation.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );

    const logGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: rotation.logRetention, encryptionKey: rotation.encryptionKey, removalPolicy: rotation.removalPolicy });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: rotation.fleetStateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildFleetDefinition(this, {
          fleetPage,
          tableName: rotation.table.tableName,
          rotationStateMachine: rotation.stateMachine,
          opsTopic: rotation.opsTopic,
          maxConcurrency,
          itemTimeout: props.itemTimeout ?? Duration.minutes(15),
        }),
      ),
      timeout: Duration.days(7),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
    // An item whose start was ambiguous (ExecutionAlreadyExists) reads two attributes of its client's record: nothing else.
    // dynamodb:Attributes must also allow the table's key attributes, which every request names.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [rotation.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, 'currentVersionId', 'lock'] },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [rotation.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );
    // The ops topic is encrypted: publishing needs the key, through SNS only.
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [rotation.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'sns') } },
      }),
    );
    acknowledgeFleetFindings({
      stateMachine: this.stateMachine,
      stateMachineLogicalId: stack.getLogicalId(this.stateMachine.node.defaultChild as CfnElement),
      fleetPageLogicalId: stack.getLogicalId(fleetPage.node.defaultChild as CfnElement),
      distributedMapPolicy: this.stateMachine.node.tryFindChild('DistributedMapPolicy'),
    });
    opsAlarm(
      this,
      'FailedFleetRotationsAlarm',
      rotation.opsTopic,
      this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      'A KeyRoll fleet rotation ended with clients not rotated; see the fleet.finished ops notice.',
    );
  }

  /** Lets `grantee` start fleet rotations (writing an explicit selection under FLEET#<fleetId> first) and read their status. */
  grantStartFleetRotation(grantee: iam.IGrantable): iam.Grant {
    this.stateMachine.grantRead(grantee);
    const { table, encryptionKey } = this.rotation;
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [table.tableArn], conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } } }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );
    return this.stateMachine.grantStartExecution(grantee);
  }
}
