/**
 * The rotation workflow as Step Functions states (JSONPath, so the local interpreter can
 * run the synthesized definition in tests). State names are a contract: tests, alarms
 * and runbooks refer to them.
 *
 *   ValidateAndLock → CreateSecret → SetSecret → TestSecret → FinishSecret → NotifyRotated
 *     → IsEmergency? ─ started by a fleet → ReportRotatedToFleet → AfterFleetReport (the same choice below)
 *                    ├ yes → ReleaseLock
 *                    └ no  → CheckPreviousKeyUsage → PreviousKeyDecision?
 *                              ├ wait   → WaitForUsageCheck → CheckPreviousKeyUsage
 *                              ├ remind → NotifyExpiring (deadline extended) → WaitForUsageCheck → CheckPreviousKeyUsage
 *                              └ retire → WaitOverlap (until the not-after) → RetireOldKey → NotifyRetired → ReleaseLock
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
  IS_EMERGENCY: 'IsEmergency',
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
export const TRANSIENT_STEP_ERRORS = [
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

function step(scope: Construct, id: string, fn: lambda.IFunction, payloadPath: string, resultPath: string): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    stateName: id,
    lambdaFunction: fn,
    // InputPath, not payload: TaskInput.fromJsonPathAt with payloadResponseOnly renders
    // `"Parameters": "$.rotation"`, a literal string the function would receive (aws-cdk#34260).
    inputPath: payloadPath,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath,
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
  });
  retryTransient(task, TRANSIENT_STEP_ERRORS);
  return task;
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

function releaseLock(scope: Construct, id: string, table: dynamodb.ITable, clientIdPath = '$.rotation.clientId', rotationIdPath = '$.rotation.rotationId'): tasks.DynamoUpdateItem {
  const task = new tasks.DynamoUpdateItem(scope, id, {
    stateName: id,
    table,
    key: {
      pk: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.format('CLIENT#{}', sfn.JsonPath.stringAt(clientIdPath))),
      sk: tasks.DynamoAttributeValue.fromString('CLIENT'),
    },
    updateExpression: 'REMOVE #lock',
    conditionExpression: '#lock.rotationId = :rid',
    expressionAttributeNames: { '#lock': 'lock' },
    expressionAttributeValues: { ':rid': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt(rotationIdPath)) },
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

function callFleet(scope: Construct, id: string, action: 'sendTaskSuccess' | 'sendTaskFailure', parameters: Record<string, unknown>, fleetArn: string | undefined): tasks.CallAwsService {
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

/**
 * Before a failed end: if a fleet rotation started this one, tell its item (sendTaskFailure)
 * so the fleet moves on at once; then fail. A report that cannot be delivered (the fleet is
 * gone, the token expired) does not change how this rotation ends.
 */
function reportedFailure(
  scope: Construct,
  ids: { choice: string; report: string },
  end: sfn.Fail,
  tokenPath: string,
  error: { errorPath: string } | { error: string },
  causePath: string,
  fleetArn: string | undefined,
): sfn.Choice {
  const report = callFleet(
    scope,
    ids.report,
    'sendTaskFailure',
    {
      TaskToken: sfn.JsonPath.stringAt(tokenPath),
      Error: 'errorPath' in error ? sfn.JsonPath.stringAt(error.errorPath) : error.error,
      Cause: sfn.JsonPath.stringAt(causePath),
    },
    fleetArn,
  );
  report.addCatch(end, { resultPath: sfn.JsonPath.DISCARD });
  report.next(end);
  return new sfn.Choice(scope, ids.choice, { stateName: ids.choice }).when(sfn.Condition.isPresent(tokenPath), report).otherwise(end);
}

/** Builds the workflow's states and returns its start. */
export function buildRotationDefinition(scope: Construct, props: RotationDefinitionProps): sfn.IChainable {
  const { functions, table, clientTopic, opsTopic, fleetStateMachineArn } = props;

  const validateAndLock = new tasks.LambdaInvoke(scope, S.VALIDATE_AND_LOCK, {
    stateName: S.VALIDATE_AND_LOCK,
    lambdaFunction: functions.beginRotation,
    payload: sfn.TaskInput.fromObject({ request: sfn.JsonPath.entirePayload, rotationId: sfn.JsonPath.executionName }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    // The output is { rotation }. No `ResultPath: "$"` (the default anyway): aws-local-stepfunctions
    // 3.0 stores the result under a key named "$" instead of replacing the input.
    resultSelector: { 'rotation.$': '$' },
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
  });
  retryTransient(validateAndLock, TRANSIENT_STEP_ERRORS);
  const rejectedEnd = new sfn.Fail(scope, S.REJECTED, { stateName: S.REJECTED, errorPath: '$.error.Error', causePath: '$.error.Cause' });
  // A rejected request never got a rotation context: the token is the raw input's.
  const rejected = reportedFailure(
    scope,
    { choice: S.FLEET_CALLBACK_ON_REJECTION, report: S.REPORT_REJECTION_TO_FLEET },
    rejectedEnd,
    '$.callbackToken',
    { errorPath: '$.error.Error' },
    '$.error.Cause',
    fleetStateMachineArn,
  );
  // Refusals happen before the lock is taken (or are the lock refusing): nothing to undo.
  validateAndLock.addCatch(rejected, { errors: [...BEGIN_ROTATION_REFUSALS], resultPath: '$.error' });
  // Anything else (retries exhausted after the lock was written) releases the lock if this
  // execution holds it, then fails with the original error.
  const releaseAfterRejection = releaseLock(scope, S.RELEASE_LOCK_AFTER_REJECTION, table, '$.clientId', '$$.Execution.Name');
  releaseAfterRejection.addCatch(rejected, { resultPath: sfn.JsonPath.DISCARD });
  releaseAfterRejection.next(rejected);
  validateAndLock.addCatch(releaseAfterRejection, { resultPath: '$.error' });

  const createSecret = step(scope, S.CREATE_SECRET, functions.createSecret, '$.rotation', '$.created');
  const setSecret = step(scope, S.SET_SECRET, functions.setSecret, '$.rotation', '$.set');
  const testSecret = step(scope, S.TEST_SECRET, functions.testSecret, '$.rotation', '$.tested');
  const finishSecret = step(scope, S.FINISH_SECRET, functions.finishSecret, '$.rotation', '$.finish');

  // Failure path: roll back, tell ops, release the lock, fail with the original error's name.
  const rollback = new tasks.LambdaInvoke(scope, S.ROLLBACK, {
    stateName: S.ROLLBACK,
    lambdaFunction: functions.rollbackRotation,
    payload: sfn.TaskInput.fromObject({ rotation: sfn.JsonPath.objectAt('$.rotation'), error: sfn.JsonPath.objectAt('$.error') }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath: '$.failure',
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
  });
  retryTransient(rollback, TRANSIENT_STEP_ERRORS);
  const failedEnd = new sfn.Fail(scope, S.FAILED, { stateName: S.FAILED, errorPath: '$.failure.error', causePath: '$.failure.cause' });
  const failed = reportedFailure(
    scope,
    { choice: S.FLEET_CALLBACK_ON_FAILURE, report: S.REPORT_FAILURE_TO_FLEET },
    failedEnd,
    '$.rotation.callbackToken',
    { errorPath: '$.failure.error' },
    '$.failure.cause',
    fleetStateMachineArn,
  );
  const releaseAfterFailure = releaseLock(scope, S.RELEASE_LOCK_AFTER_FAILURE, table);
  // Whatever stops the release (not holding the lock, KMS, throttling), fail with the original error.
  releaseAfterFailure.addCatch(failed, { resultPath: sfn.JsonPath.DISCARD });
  const notifyOpsFailure = publish(scope, S.NOTIFY_OPS_FAILURE, opsTopic, '$.failure.notice');
  notifyOpsFailure.addCatch(releaseAfterFailure, { resultPath: sfn.JsonPath.DISCARD });
  rollback.next(notifyOpsFailure).next(releaseAfterFailure).next(failed);

  // Rollback itself failed: keep the lock (a human must look), tell ops, fail.
  const rollbackFailedEnd = new sfn.Fail(scope, S.ROLLBACK_FAILED, { stateName: S.ROLLBACK_FAILED, error: 'RollbackFailed', causePath: '$.failure.cause' });
  const rollbackFailed = reportedFailure(
    scope,
    { choice: S.FLEET_CALLBACK_ON_ROLLBACK_FAILURE, report: S.REPORT_ROLLBACK_FAILURE_TO_FLEET },
    rollbackFailedEnd,
    '$.rotation.callbackToken',
    { error: 'RollbackFailed' },
    '$.failure.cause',
    fleetStateMachineArn,
  );
  const describeUnrolled = new sfn.Pass(scope, S.DESCRIBE_UNROLLED_FAILURE, {
    stateName: S.DESCRIBE_UNROLLED_FAILURE,
    parameters: {
      'rotation.$': '$.rotation',
      failure: {
        'error.$': '$.rollbackError.Error',
        'cause.$': '$.rollbackError.Cause',
        notice: {
          eventType: 'rotation.failed',
          rolledBack: false,
          'clientId.$': '$.rotation.clientId',
          'rotationId.$': '$.rotation.rotationId',
          'error.$': '$.error.Error',
          'rollbackError.$': '$.rollbackError.Error',
          summary: 'The rotation failed and could NOT be rolled back; the client lock is kept until an operator intervenes.',
        },
      },
    },
  });
  const notifyRollbackFailed = publish(scope, S.NOTIFY_ROLLBACK_FAILED, opsTopic, '$.failure.notice');
  notifyRollbackFailed.addCatch(rollbackFailed, { resultPath: sfn.JsonPath.DISCARD });
  rollback.addCatch(describeUnrolled, { resultPath: '$.rollbackError' });
  describeUnrolled.next(notifyRollbackFailed).next(rollbackFailed);

  for (const state of [createSecret, setSecret, testSecret, finishSecret]) state.addCatch(rollback, { resultPath: '$.error' });

  // After finishSecret the new key is current: a later failure is reported, never rolled back.
  const describeLateFailure = new sfn.Pass(scope, S.DESCRIBE_LATE_FAILURE, {
    stateName: S.DESCRIBE_LATE_FAILURE,
    parameters: {
      'rotation.$': '$.rotation',
      failure: {
        'error.$': '$.error.Error',
        'cause.$': '$.error.Cause',
        notice: {
          eventType: 'rotation.failed',
          rolledBack: false,
          'clientId.$': '$.rotation.clientId',
          'rotationId.$': '$.rotation.rotationId',
          'error.$': '$.error.Error',
          summary: 'The new key is current, but a step after finishSecret failed; the previous key expires at its not-after regardless.',
        },
      },
    },
  });
  describeLateFailure.next(notifyOpsFailure);

  const notifyRotated = publish(scope, S.NOTIFY_ROTATED, clientTopic, '$.finish.notice');
  // Usage-aware retirement: look shortly before the not-after; extend and remind while the
  // old key is still used (up to the hard deadline), else wait out the not-after and retire.
  const checkUsage = step(scope, S.CHECK_USAGE, functions.checkUsage, '$.rotation', '$.usage');
  const waitForCheck = new sfn.Wait(scope, S.WAIT_FOR_USAGE_CHECK, {
    stateName: S.WAIT_FOR_USAGE_CHECK,
    time: sfn.WaitTime.timestampPath('$.usage.checkAt'),
  });
  const notifyExpiring = publish(scope, S.NOTIFY_EXPIRING, clientTopic, '$.usage.notice');
  const waitOverlap = new sfn.Wait(scope, S.WAIT_OVERLAP, {
    stateName: S.WAIT_OVERLAP,
    time: sfn.WaitTime.timestampPath('$.usage.notAfter'),
  });
  const retireOldKey = step(scope, S.RETIRE_OLD_KEY, functions.retireOldKey, '$.rotation', '$.retired');
  // The Wait may end a moment before the not-after (clock skew): retire refuses, and we try again shortly.
  retireOldKey.addRetry({ errors: ['OverlapNotElapsed'], interval: Duration.seconds(15), backoffRate: 2, maxAttempts: 5 });
  const notifyRetired = publish(scope, S.NOTIFY_RETIRED, clientTopic, '$.retired.notice');
  const release = releaseLock(scope, S.RELEASE_LOCK, table);
  const rotated = new sfn.Succeed(scope, S.ROTATED, { stateName: S.ROTATED });
  release.addCatch(rotated, { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: sfn.JsonPath.DISCARD });
  for (const state of [notifyRotated, checkUsage, notifyExpiring, retireOldKey, notifyRetired]) state.addCatch(describeLateFailure, { resultPath: '$.error' });

  waitOverlap.next(retireOldKey).next(notifyRetired).next(release);
  waitForCheck.next(checkUsage);
  notifyExpiring.next(waitForCheck);
  const decision = new sfn.Choice(scope, S.USAGE_DECISION, { stateName: S.USAGE_DECISION })
    .when(sfn.Condition.stringEquals('$.usage.decision', 'remind'), notifyExpiring)
    .when(sfn.Condition.stringEquals('$.usage.decision', 'wait'), waitForCheck)
    .otherwise(waitOverlap);
  checkUsage.next(decision);

  release.next(rotated);

  // A fleet rotation's item waits for this report: it frees the fleet's slot as soon as the
  // new key is current, while this execution goes on to the overlap and retirement. The
  // check rides on IsEmergency, so a rotation outside a fleet pays no extra transition.
  const afterFleetReport = new sfn.Choice(scope, S.AFTER_FLEET_REPORT, { stateName: S.AFTER_FLEET_REPORT }).when(sfn.Condition.stringEquals('$.rotation.mode', 'emergency'), release).otherwise(checkUsage);
  const reportRotated = callFleet(
    scope,
    S.REPORT_ROTATED_TO_FLEET,
    'sendTaskSuccess',
    { TaskToken: sfn.JsonPath.stringAt('$.rotation.callbackToken'), Output: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.finish.notice')) },
    fleetStateMachineArn,
  );
  reportRotated.addCatch(afterFleetReport, { resultPath: sfn.JsonPath.DISCARD });
  reportRotated.next(afterFleetReport);
  const isEmergency = new sfn.Choice(scope, S.IS_EMERGENCY, { stateName: S.IS_EMERGENCY })
    .when(sfn.Condition.isPresent('$.rotation.callbackToken'), reportRotated)
    .when(sfn.Condition.stringEquals('$.rotation.mode', 'emergency'), release)
    .otherwise(checkUsage);

  return validateAndLock.next(createSecret).next(setSecret).next(testSecret).next(finishSecret).next(notifyRotated).next(isEmergency);
}
