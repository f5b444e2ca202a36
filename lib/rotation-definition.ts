/**
 * The rotation workflow as Step Functions states (JSONPath, so the local interpreter can
 * run the synthesized definition in tests). State names are a contract: tests, alarms
 * and runbooks refer to them.
 *
 *   ValidateAndLock → CreateSecret → SetSecret → TestSecret → FinishSecret → NotifyRotated
 *     → AfterRotated? ─ started by a fleet → ReportRotatedToFleet → AfterFleetReport (the two choices below)
 *                     ├ emergency → ReleaseLock
 *                     └ otherwise → CheckPreviousKeyUsage → PreviousKeyDecision?
 *                                     ├ wait   → WaitForUsageCheck → CheckPreviousKeyUsage
 *                                     ├ remind → NotifyExpiring (deadline extended) → WaitForUsageCheck → CheckPreviousKeyUsage
 *                                     └ retire → WaitOverlap (until the not-after) → RetireOldKey → NotifyRetired → ReleaseLock
 *   Each reminder cycle costs 4 state transitions (check, choice, notify, wait).
 *   a failure in Create/Set/Test/Finish → Rollback → NotifyOpsFailure → ReleaseLockAfterFailure → RotationFailed
 *   Every failed end first tells a waiting fleet (FleetCallbackOn* → Report*ToFleet) when the input carries its token.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/** The Lambda functions the workflow calls, by step. */
export interface RotationFunctions {
  readonly beginRotation: lambda.IFunction;
  readonly createSecret: lambda.IFunction;
  readonly setSecret: lambda.IFunction;
  readonly testSecret: lambda.IFunction;
  readonly finishSecret: lambda.IFunction;
  readonly checkUsage: lambda.IFunction;
  readonly retireOldKey: lambda.IFunction;
  readonly rollbackRotation: lambda.IFunction;
}

/** What the workflow definition is built from. */
export interface RotationDefinitionProps {
  readonly functions: RotationFunctions;
  readonly table: dynamodb.ITable;
  readonly clientTopic: sns.ITopic;
  readonly opsTopic: sns.ITopic;
  /**
   * ARN of the fleet state machine whose task tokens a rotation may answer
   * (states:SendTaskSuccess/Failure); absent when the deployment has no fleet rotation.
   */
  readonly fleetStateMachineArn?: string;
}

/** State names, exported so tests and docs use the same strings. */
export const RotationStates = {
  VALIDATE_AND_LOCK: 'ValidateAndLock',
  CREATE_SECRET: 'CreateSecret',
  SET_SECRET: 'SetSecret',
  TEST_SECRET: 'TestSecret',
  FINISH_SECRET: 'FinishSecret',
  NOTIFY_ROTATED: 'NotifyRotated',
  AFTER_ROTATED: 'AfterRotated',
  CHECK_USAGE: 'CheckPreviousKeyUsage',
  USAGE_DECISION: 'PreviousKeyDecision',
  WAIT_FOR_USAGE_CHECK: 'WaitForUsageCheck',
  NOTIFY_EXPIRING: 'NotifyExpiring',
  WAIT_OVERLAP: 'WaitOverlap',
  RETIRE_OLD_KEY: 'RetireOldKey',
  NOTIFY_RETIRED: 'NotifyRetired',
  RELEASE_LOCK: 'ReleaseLock',
  ROTATED: 'Rotated',
  REJECTED: 'RotationRejected',
  ROLLBACK: 'Rollback',
  NOTIFY_OPS_FAILURE: 'NotifyOpsFailure',
  RELEASE_LOCK_AFTER_FAILURE: 'ReleaseLockAfterFailure',
  RELEASE_LOCK_AFTER_REJECTION: 'ReleaseLockAfterRejection',
  FAILED: 'RotationFailed',
  DESCRIBE_UNROLLED_FAILURE: 'DescribeUnrolledFailure',
  NOTIFY_ROLLBACK_FAILED: 'NotifyRollbackFailed',
  ROLLBACK_FAILED: 'RollbackFailed',
  DESCRIBE_LATE_FAILURE: 'DescribeLateFailure',
  AFTER_FLEET_REPORT: 'AfterFleetReport',
  REPORT_ROTATED_TO_FLEET: 'ReportRotatedToFleet',
  FLEET_CALLBACK_ON_FAILURE: 'FleetCallbackOnFailure',
  REPORT_FAILURE_TO_FLEET: 'ReportFailureToFleet',
  FLEET_CALLBACK_ON_ROLLBACK_FAILURE: 'FleetCallbackOnRollbackFailure',
  REPORT_ROLLBACK_FAILURE_TO_FLEET: 'ReportRollbackFailureToFleet',
  FLEET_CALLBACK_ON_REJECTION: 'FleetCallbackOnRejection',
  REPORT_REJECTION_TO_FLEET: 'ReportRejectionToFleet',
} as const;

/** Errors worth retrying: Lambda service faults, crashes/time-outs of a step, and throttling inside a step. */
export const TRANSIENT_STEP_ERRORS: string[] = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
  'Lambda.ClientExecutionTimeoutException',
  // A function that ran out of time: every step is idempotent, so running it again is safe.
  'Sandbox.Timedout',
  'States.Timeout',
  'TransientError',
];

/**
 * beginRotation's refusals: the request is wrong, the rotation id used, native rotation on, or
 * the client busy; the lock was not taken by this execution (RotationAlreadyRan may be raised
 * while an earlier run of the same id holds it: that lock must stay, so nothing is released).
 */
export const BEGIN_ROTATION_REFUSALS = [
  'InvalidRotationInput',
  'InvalidRotationId',
  'UnknownClient',
  'ClientOffboarded',
  'RotationInProgress',
  'RotationAlreadyRan',
  'RotationIdCollision',
  'NativeRotationEnabled',
] as const;

const S = RotationStates;

function retryTransient(state: sfn.TaskStateBase, errors: string[]): void {
  state.addRetry({
    errors,
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  });
}

/** What a Lambda state reads and where its result goes. */
type InvokeIo = Pick<tasks.LambdaInvokeProps, 'inputPath' | 'payload' | 'resultPath' | 'resultSelector'>;

/** A Lambda state with the workflow's time-out and retries (every step is idempotent, invariant 3). */
function invoke(scope: Construct, id: string, fn: lambda.IFunction, io: InvokeIo): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    stateName: id,
    lambdaFunction: fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    ...io,
  });
  retryTransient(task, TRANSIENT_STEP_ERRORS);
  return task;
}

/** A step that reads the rotation context and adds its result at `resultPath`. */
function rotationStep(scope: Construct, id: string, fn: lambda.IFunction, resultPath: string): tasks.LambdaInvoke {
  // InputPath, not payload: TaskInput.fromJsonPathAt with payloadResponseOnly renders
  // `"Parameters": "$.rotation"`, a literal string the function would receive (aws-cdk#34260).
  return invoke(scope, id, fn, { inputPath: '$.rotation', resultPath });
}

function publish(scope: Construct, id: string, topic: sns.ITopic, noticePath: string): tasks.SnsPublish {
  const task = new tasks.SnsPublish(scope, id, {
    stateName: id,
    topic,
    message: sfn.TaskInput.fromText(sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt(noticePath))),
    messageAttributes: {
      clientId: { value: sfn.JsonPath.stringAt('$.rotation.clientId') },
      eventType: { value: sfn.JsonPath.stringAt(`${noticePath}.eventType`) },
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  retryTransient(task, ['SNS.ThrottledException', 'SNS.InternalErrorException', 'SNS.KMSThrottlingException', 'SNS.SdkClientException']);
  return task;
}

/** Where a state finds the lock it releases: the client and the rotation id that holds it. */
interface LockHolder {
  readonly clientIdPath: string;
  readonly rotationIdPath: string;
}

/** The lock of this rotation, once ValidateAndLock has built the rotation context. */
const ROTATION_LOCK: LockHolder = { clientIdPath: '$.rotation.clientId', rotationIdPath: '$.rotation.rotationId' };

/** Removes the client's lock if `holder` holds it (a conditional write: invariant 7). */
function releaseLock(scope: Construct, id: string, table: dynamodb.ITable, holder: LockHolder = ROTATION_LOCK): tasks.DynamoUpdateItem {
  const task = new tasks.DynamoUpdateItem(scope, id, {
    stateName: id,
    table,
    key: {
      pk: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.format('CLIENT#{}', sfn.JsonPath.stringAt(holder.clientIdPath))),
      sk: tasks.DynamoAttributeValue.fromString('CLIENT'),
    },
    updateExpression: 'REMOVE #lock',
    conditionExpression: '#lock.rotationId = :rid',
    expressionAttributeNames: { '#lock': 'lock' },
    expressionAttributeValues: { ':rid': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt(holder.rotationIdPath)) },
    resultPath: sfn.JsonPath.DISCARD,
  });
  retryTransient(task, [
    'DynamoDB.ProvisionedThroughputExceededException',
    'DynamoDB.ThrottlingException',
    'DynamoDB.RequestLimitExceeded',
    'DynamoDB.InternalServerErrorException',
    'DynamoDB.SdkClientException',
  ]);
  return task;
}

/** Errors of the sfn:sendTask* calls worth retrying (the parent's task may also be gone: not retried). */
const CALLBACK_RETRY_ERRORS = ['Sfn.SfnException', 'Sfn.ThrottlingException', 'Sfn.SdkClientException', 'States.Timeout'];

/** One answer to a waiting fleet item's task token. */
interface FleetCall {
  readonly action: 'sendTaskSuccess' | 'sendTaskFailure';
  readonly parameters: Record<string, unknown>;
  /** The fleet state machine, if the deployment has one. */
  readonly fleetArn: string | undefined;
}

function callFleet(scope: Construct, id: string, { action, parameters, fleetArn }: FleetCall): tasks.CallAwsService {
  const task = new tasks.CallAwsService(scope, id, {
    stateName: id,
    service: 'sfn',
    action,
    iamAction: action === 'sendTaskSuccess' ? 'states:SendTaskSuccess' : 'states:SendTaskFailure',
    // The Service Authorization Reference lists no resource type for SendTaskSuccess/Failure
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html):
    // IAM authorizes them on "*" only, so a grant on the fleet's ARN never matches (and the
    // token is a Distributed Map child execution's, not the fleet's). No fleet: no grant.
    iamResources: [fleetArn ? '*' : `arn:${Aws.PARTITION}:states:::no-fleet`],
    parameters,
    resultPath: sfn.JsonPath.DISCARD,
  });
  task.addRetry({ errors: CALLBACK_RETRY_ERRORS, interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 4, jitterStrategy: sfn.JitterType.FULL });
  return task;
}

/** A failed end of the workflow, and the fleet report in front of it. */
interface FailedEnd {
  /** The Fail state's name. */
  readonly name: string;
  /** The Choice that asks whether a fleet waits, and the state that tells it. */
  readonly fleetStates: { readonly choice: string; readonly report: string };
  /** Where the fleet item's task token is, if a fleet started this rotation. */
  readonly tokenPath: string;
  /** The error the execution (and the fleet's item) fails with. */
  readonly error: { readonly errorPath: string } | { readonly error: string };
  readonly causePath: string;
  readonly fleetArn: string | undefined;
}

/**
 * A Fail state, preceded by a report to the fleet item (sendTaskFailure, the same error and
 * cause) when the input carries its token, so the fleet moves on at once. A report that cannot
 * be delivered (the fleet is gone, the token expired) does not change how this rotation ends.
 */
function failTellingFleet(scope: Construct, end: FailedEnd): sfn.Choice {
  const fail = new sfn.Fail(scope, end.name, { stateName: end.name, ...end.error, causePath: end.causePath });
  const report = callFleet(scope, end.fleetStates.report, {
    action: 'sendTaskFailure',
    parameters: {
      TaskToken: sfn.JsonPath.stringAt(end.tokenPath),
      Error: 'errorPath' in end.error ? sfn.JsonPath.stringAt(end.error.errorPath) : end.error.error,
      Cause: sfn.JsonPath.stringAt(end.causePath),
    },
    fleetArn: end.fleetArn,
  });
  report.addCatch(fail, { resultPath: sfn.JsonPath.DISCARD });
  report.next(fail);
  const choice = end.fleetStates.choice;
  return new sfn.Choice(scope, choice, { stateName: choice }).when(sfn.Condition.isPresent(end.tokenPath), report).otherwise(fail);
}

/**
 * A Pass state that turns a failure the workflow did not roll back into `$.failure`: the error
 * the execution ends with, and the ops notice. `rollbackErrorPath`: the rollback failed too, and
 * the execution ends with the rollback's error (the notice names both).
 */
function describeUnrolledBackFailure(scope: Construct, id: string, options: { summary: string; rollbackErrorPath?: string }): sfn.Pass {
  const endingError = options.rollbackErrorPath ?? '$.error';
  return new sfn.Pass(scope, id, {
    stateName: id,
    parameters: {
      'rotation.$': '$.rotation',
      failure: {
        'error.$': `${endingError}.Error`,
        'cause.$': `${endingError}.Cause`,
        notice: {
          eventType: 'rotation.failed',
          rolledBack: false,
          'clientId.$': '$.rotation.clientId',
          'rotationId.$': '$.rotation.rotationId',
          'error.$': '$.error.Error',
          ...(options.rollbackErrorPath ? { 'rollbackError.$': `${options.rollbackErrorPath}.Error` } : {}),
          summary: options.summary,
        },
      },
    },
  });
}

/**
 * Where ValidateAndLock's errors go. A refusal happens before the lock is taken (or is the lock
 * refusing): nothing to undo, fail. Anything else (retries exhausted after the lock was written)
 * releases the lock if this execution holds it, then fails with the original error.
 */
function rejectionPaths(scope: Construct, props: RotationDefinitionProps): { refused: sfn.Choice; unlockThenRefused: sfn.TaskStateBase } {
  // A rejected request never got a rotation context: the token is the raw input's.
  const refused = failTellingFleet(scope, {
    name: S.REJECTED,
    fleetStates: { choice: S.FLEET_CALLBACK_ON_REJECTION, report: S.REPORT_REJECTION_TO_FLEET },
    tokenPath: '$.callbackToken',
    error: { errorPath: '$.error.Error' },
    causePath: '$.error.Cause',
    fleetArn: props.fleetStateMachineArn,
  });
  const unlockThenRefused = releaseLock(scope, S.RELEASE_LOCK_AFTER_REJECTION, props.table, { clientIdPath: '$.clientId', rotationIdPath: '$$.Execution.Name' });
  unlockThenRefused.addCatch(refused, { resultPath: sfn.JsonPath.DISCARD });
  unlockThenRefused.next(refused);
  return { refused, unlockThenRefused };
}

/**
 * Where a failure of Create/Set/Test/Finish goes: roll back, tell ops, release the lock, fail
 * with the original error's name. If the rollback itself fails, keep the lock (a human must
 * look), tell ops, fail. Returns the Rollback state and the ops notice the late failures share.
 */
function rollbackPaths(scope: Construct, props: RotationDefinitionProps): { rollback: sfn.TaskStateBase; notifyOpsFailure: sfn.TaskStateBase } {
  const rollback = invoke(scope, S.ROLLBACK, props.functions.rollbackRotation, {
    payload: sfn.TaskInput.fromObject({ rotation: sfn.JsonPath.objectAt('$.rotation'), error: sfn.JsonPath.objectAt('$.error') }),
    resultPath: '$.failure',
  });
  const failed = failTellingFleet(scope, {
    name: S.FAILED,
    fleetStates: { choice: S.FLEET_CALLBACK_ON_FAILURE, report: S.REPORT_FAILURE_TO_FLEET },
    tokenPath: '$.rotation.callbackToken',
    error: { errorPath: '$.failure.error' },
    causePath: '$.failure.cause',
    fleetArn: props.fleetStateMachineArn,
  });
  const releaseAfterFailure = releaseLock(scope, S.RELEASE_LOCK_AFTER_FAILURE, props.table);
  // Whatever stops the release (not holding the lock, KMS, throttling), fail with the original error.
  releaseAfterFailure.addCatch(failed, { resultPath: sfn.JsonPath.DISCARD });
  const notifyOpsFailure = publish(scope, S.NOTIFY_OPS_FAILURE, props.opsTopic, '$.failure.notice');
  notifyOpsFailure.addCatch(releaseAfterFailure, { resultPath: sfn.JsonPath.DISCARD });
  rollback.next(notifyOpsFailure).next(releaseAfterFailure).next(failed);

  const rollbackFailed = failTellingFleet(scope, {
    name: S.ROLLBACK_FAILED,
    fleetStates: { choice: S.FLEET_CALLBACK_ON_ROLLBACK_FAILURE, report: S.REPORT_ROLLBACK_FAILURE_TO_FLEET },
    tokenPath: '$.rotation.callbackToken',
    error: { error: 'RollbackFailed' },
    causePath: '$.failure.cause',
    fleetArn: props.fleetStateMachineArn,
  });
  const describeUnrolled = describeUnrolledBackFailure(scope, S.DESCRIBE_UNROLLED_FAILURE, {
    rollbackErrorPath: '$.rollbackError',
    summary: 'The rotation failed and could NOT be rolled back; the client lock is kept until an operator intervenes.',
  });
  const notifyRollbackFailed = publish(scope, S.NOTIFY_ROLLBACK_FAILED, props.opsTopic, '$.failure.notice');
  notifyRollbackFailed.addCatch(rollbackFailed, { resultPath: sfn.JsonPath.DISCARD });
  rollback.addCatch(describeUnrolled, { resultPath: '$.rollbackError' });
  describeUnrolled.next(notifyRollbackFailed).next(rollbackFailed);
  return { rollback, notifyOpsFailure };
}

/** After FinishSecret the new key is current: a later failure is described to ops, never rolled back. */
function lateFailurePath(scope: Construct, notifyOpsFailure: sfn.IChainable): sfn.Pass {
  const describeLateFailure = describeUnrolledBackFailure(scope, S.DESCRIBE_LATE_FAILURE, {
    summary: 'The new key is current, but a step after finishSecret failed; the previous key expires at its not-after regardless.',
  });
  describeLateFailure.next(notifyOpsFailure);
  return describeLateFailure;
}

/** The successful end: release this rotation's lock and succeed (also when the lock is no longer this rotation's). */
function releaseThenRotated(scope: Construct, table: dynamodb.ITable): tasks.DynamoUpdateItem {
  const release = releaseLock(scope, S.RELEASE_LOCK, table);
  const rotated = new sfn.Succeed(scope, S.ROTATED, { stateName: S.ROTATED });
  release.addCatch(rotated, { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: sfn.JsonPath.DISCARD });
  release.next(rotated);
  return release;
}

/**
 * Usage-aware retirement of the previous key: look shortly before the not-after; extend and
 * remind while the old key is still used (up to the hard deadline), else wait out the not-after,
 * retire and go to `end`. Returns the loop's entry, CheckPreviousKeyUsage.
 */
function retirementLoop(scope: Construct, props: RotationDefinitionProps, next: { end: sfn.IChainable; lateFailure: sfn.IChainable }): sfn.TaskStateBase {
  const { functions, clientTopic } = props;
  const checkUsage = rotationStep(scope, S.CHECK_USAGE, functions.checkUsage, '$.usage');
  const waitForCheck = new sfn.Wait(scope, S.WAIT_FOR_USAGE_CHECK, {
    stateName: S.WAIT_FOR_USAGE_CHECK,
    time: sfn.WaitTime.timestampPath('$.usage.checkAt'),
  });
  const notifyExpiring = publish(scope, S.NOTIFY_EXPIRING, clientTopic, '$.usage.notice');
  const waitOverlap = new sfn.Wait(scope, S.WAIT_OVERLAP, {
    stateName: S.WAIT_OVERLAP,
    time: sfn.WaitTime.timestampPath('$.usage.notAfter'),
  });
  const retireOldKey = rotationStep(scope, S.RETIRE_OLD_KEY, functions.retireOldKey, '$.retired');
  // The Wait may end a moment before the not-after (clock skew): retire refuses, and we try again shortly.
  retireOldKey.addRetry({ errors: ['OverlapNotElapsed'], interval: Duration.seconds(15), backoffRate: 2, maxAttempts: 5 });
  const notifyRetired = publish(scope, S.NOTIFY_RETIRED, clientTopic, '$.retired.notice');
  for (const state of [checkUsage, notifyExpiring, retireOldKey, notifyRetired]) state.addCatch(next.lateFailure, { resultPath: '$.error' });

  waitOverlap.next(retireOldKey).next(notifyRetired).next(next.end);
  waitForCheck.next(checkUsage);
  notifyExpiring.next(waitForCheck);
  const decision = new sfn.Choice(scope, S.USAGE_DECISION, { stateName: S.USAGE_DECISION })
    .when(sfn.Condition.stringEquals('$.usage.decision', 'remind'), notifyExpiring)
    .when(sfn.Condition.stringEquals('$.usage.decision', 'wait'), waitForCheck)
    .otherwise(waitOverlap);
  checkUsage.next(decision);
  return checkUsage;
}

/**
 * What follows NotifyRotated: a fleet rotation's item waits for a report, sent as soon as the new
 * key is current (it frees the fleet's slot while this execution goes on); then an emergency has
 * no previous key left to retire (FinishSecret revoked it) and ends, any other rotation retires it.
 * The fleet check rides on the same Choice, so a rotation outside a fleet pays no extra transition.
 */
function afterRotated(scope: Construct, fleetArn: string | undefined, next: { end: sfn.IChainable; retirement: sfn.IChainable }): sfn.Choice {
  const isEmergency = sfn.Condition.stringEquals('$.rotation.mode', 'emergency');
  const afterFleetReport = new sfn.Choice(scope, S.AFTER_FLEET_REPORT, { stateName: S.AFTER_FLEET_REPORT }).when(isEmergency, next.end).otherwise(next.retirement);
  const reportRotated = callFleet(scope, S.REPORT_ROTATED_TO_FLEET, {
    action: 'sendTaskSuccess',
    parameters: { TaskToken: sfn.JsonPath.stringAt('$.rotation.callbackToken'), Output: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.finish.notice')) },
    fleetArn,
  });
  reportRotated.addCatch(afterFleetReport, { resultPath: sfn.JsonPath.DISCARD });
  reportRotated.next(afterFleetReport);
  return new sfn.Choice(scope, S.AFTER_ROTATED, { stateName: S.AFTER_ROTATED }).when(sfn.Condition.isPresent('$.rotation.callbackToken'), reportRotated).when(isEmergency, next.end).otherwise(next.retirement);
}

/** The steps that rotate the key, ValidateAndLock to NotifyRotated, each catching into its failure path; returns the chain. */
function rotationPath(scope: Construct, props: RotationDefinitionProps, failures: { rejection: ReturnType<typeof rejectionPaths>; rollback: sfn.IChainable; lateFailure: sfn.IChainable }): sfn.Chain {
  const { functions } = props;
  // The output is { rotation }. No `ResultPath: "$"` (the default anyway): aws-local-stepfunctions
  // 3.0 stores the result under a key named "$" instead of replacing the input.
  const validateAndLock = invoke(scope, S.VALIDATE_AND_LOCK, functions.beginRotation, {
    payload: sfn.TaskInput.fromObject({ request: sfn.JsonPath.entirePayload, rotationId: sfn.JsonPath.executionName }),
    resultSelector: { 'rotation.$': '$' },
  });
  validateAndLock.addCatch(failures.rejection.refused, { errors: [...BEGIN_ROTATION_REFUSALS], resultPath: '$.error' });
  validateAndLock.addCatch(failures.rejection.unlockThenRefused, { resultPath: '$.error' });
  const createSecret = rotationStep(scope, S.CREATE_SECRET, functions.createSecret, '$.created');
  const setSecret = rotationStep(scope, S.SET_SECRET, functions.setSecret, '$.set');
  const testSecret = rotationStep(scope, S.TEST_SECRET, functions.testSecret, '$.tested');
  const finishSecret = rotationStep(scope, S.FINISH_SECRET, functions.finishSecret, '$.finish');
  for (const state of [createSecret, setSecret, testSecret, finishSecret]) state.addCatch(failures.rollback, { resultPath: '$.error' });
  const notifyRotated = publish(scope, S.NOTIFY_ROTATED, props.clientTopic, '$.finish.notice');
  notifyRotated.addCatch(failures.lateFailure, { resultPath: '$.error' });
  return validateAndLock.next(createSecret).next(setSecret).next(testSecret).next(finishSecret).next(notifyRotated);
}

/** Builds the workflow's states and returns its start. */
export function buildRotationDefinition(scope: Construct, props: RotationDefinitionProps): sfn.IChainable {
  const rejection = rejectionPaths(scope, props);
  const { rollback, notifyOpsFailure } = rollbackPaths(scope, props);
  const lateFailure = lateFailurePath(scope, notifyOpsFailure);
  const end = releaseThenRotated(scope, props.table);
  const retirement = retirementLoop(scope, props, { end, lateFailure });
  return rotationPath(scope, props, { rejection, rollback, lateFailure }).next(afterRotated(scope, props.fleetStateMachineArn, { end, retirement }));
}
