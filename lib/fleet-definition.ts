/**
 * The fleet rotation workflow (JSONPath): page through the clients and, per page, run a
 * Distributed Map whose items each start one ordinary rotation and wait for its task token.
 *
 *   ListClients → HasClients? ─ yes → RotateClients (Distributed Map, MaxConcurrency N)
 *                 ▲                      └ item: PaceStart → RotateClient (startExecution.waitForTaskToken,
 *                 │                          name = rotation id = SHA-256 of fleet id / client id, from ListClients)
 *                 │                          → ExecutionAlreadyExists: FindStartedRotation (the client record) …
 *                 │                          → catch: ClientNotRotated
 *                 └──────────────────────────
 *                              └ no → NotifyFleetDone → AllRotated? → FleetRotated | FleetRotationIncomplete
 *
 * Pacing: ListClients gives each item a start time, spaced so that starts come at the write
 * quota ÷ the writes of one rotation (PaceStart waits for it); and an item holds its Map slot from StartExecution until the rotation reports that
 * its new key is current (ReportRotatedToFleet, after finishSecret), so the Map runs at
 * most N rotations' secret writes at once. Throttling inside a rotation is retried there
 * (full jitter), which slows the items down and with them the Map: back-pressure, not
 * failures. The overlap and retirement of each rotation run on after the report.
 *
 * Size: nothing in the state grows with the fleet beyond one page (Step Functions limits every
 * state's input and output to 256 KiB, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
 * An explicit list stays in the table (the execution input names it: `listed`), the Map's
 * items carry ids and the small request fields only (ItemSelector copies no list), and the
 * Map's results replace the page's items (`ResultPath: $.page`).
 *
 * Idempotent starts: an item's execution name is derived from the fleet id and the client id,
 * so a retried StartExecution (after a lost response) cannot start a second rotation. Step
 * Functions answers the same name and input of a running execution with that execution and
 * anything else with ExecutionAlreadyExists (API_StartExecution,
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html). The
 * retry's input differs if the task token differs between attempts, so ExecutionAlreadyExists
 * means "this fleet's rotation of this client was started": the item then reads the client
 * record until that rotation's version is current (rotated), or it neither holds the lock
 * nor is current after the item's time (not rotated, RotationNotObserved).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { TRANSIENT_STEP_ERRORS } from './rotation-definition';

/** State names of the fleet workflow (a contract for tests and runbooks). */
export const FleetStates = {
  START_FLEET: 'StartFleet',
  LIST_CLIENTS: 'ListClients',
  HAS_CLIENTS: 'HasClients',
  ROTATE_CLIENTS: 'RotateClients',
  PACE_START: 'PaceStart',
  ROTATE_CLIENT: 'RotateClient',
  FIND_STARTED_ROTATION: 'FindStartedRotation',
  HAS_CURRENT_VERSION: 'HasCurrentVersion',
  IS_STARTED_ROTATION_CURRENT: 'IsStartedRotationCurrent',
  STARTED_ROTATION_CURRENT: 'StartedRotationCurrent',
  HAS_LOCK: 'HasLock',
  IS_STARTED_ROTATION_LOCKED: 'IsStartedRotationLocked',
  KEEP_LOOKING: 'KeepLooking',
  KEEP_WAITING_FOR_LOCK_HOLDER: 'KeepWaitingForLockHolder',
  WAIT_FOR_STARTED_ROTATION: 'WaitForStartedRotation',
  COUNT_LOOKUP: 'CountLookup',
  STARTED_ROTATION_NOT_OBSERVED: 'StartedRotationNotObserved',
  CLIENT_NOT_ROTATED: 'ClientNotRotated',
  NOTIFY_FLEET_DONE: 'NotifyFleetDone',
  ALL_ROTATED: 'AllRotated',
  FLEET_ROTATED: 'FleetRotated',
  FLEET_INCOMPLETE: 'FleetRotationIncomplete',
} as const;

/** What the fleet workflow is built from. */
export interface FleetDefinitionProps {
  readonly fleetPage: lambda.IFunction;
  /** The KeyRoll table (an item whose start was ambiguous reads its client's record there). */
  readonly tableName: string;
  readonly rotationStateMachine: sfn.IStateMachine;
  readonly opsTopic: sns.ITopic;
  /** Rotations in flight at once (the Map's MaxConcurrency). */
  readonly maxConcurrency: number;
  /** How long an item waits for its rotation's report before it counts the client as not rotated. */
  readonly itemTimeout: Duration;
}

const F = FleetStates;

/** How often an item whose start was ambiguous reads the client record. */
export const STARTED_ROTATION_POLL = Duration.seconds(10);
/**
 * While the started rotation holds the client's lock it is making progress (or is an orphan a
 * later rotation or `keyroll unlock` will clear): the item waits this many item timeouts for it,
 * not for ever (an orphaned lock would otherwise hold the page's Map for hours).
 */
export const LOCK_HOLDER_WAIT_FACTOR = 4;

/** Builds the fleet workflow's states and returns its start. */
export function buildFleetDefinition(scope: Construct, props: FleetDefinitionProps): sfn.IChainable {
  const listClients = new tasks.LambdaInvoke(scope, F.LIST_CLIENTS, {
    stateName: F.LIST_CLIENTS,
    lambdaFunction: props.fleetPage,
    // The first call: the execution input is the request; later calls get the fleet state and the Map's results (written over the page).
    payload: sfn.TaskInput.fromObject({ 'request.$': '$.request', 'fleetId.$': '$$.Execution.Name', 'state.$': '$.state', 'results.$': '$.page' }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
  });
  listClients.addRetry({ errors: TRANSIENT_STEP_ERRORS, interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.seconds(30), jitterStrategy: sfn.JitterType.FULL });

  const rotateClient = new tasks.StepFunctionsStartExecution(scope, F.ROTATE_CLIENT, {
    stateName: F.ROTATE_CLIENT,
    stateMachine: props.rotationStateMachine,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    // Deterministic per fleet and client (see the module comment): a retried start cannot start a second rotation.
    name: sfn.JsonPath.stringAt('$.rotationId'),
    // The ordinary rotation request, plus the token the rotation answers after finishSecret.
    input: sfn.TaskInput.fromObject({
      clientId: sfn.JsonPath.stringAt('$.clientId'),
      mode: sfn.JsonPath.stringAt('$.mode'),
      reason: sfn.JsonPath.stringAt('$.reason'),
      requestedBy: sfn.JsonPath.stringAt('$.requestedBy'),
      'revokeImmediately.$': '$.revokeImmediately',
      callbackToken: sfn.JsonPath.taskToken,
    }),
    taskTimeout: sfn.Timeout.duration(props.itemTimeout),
    resultSelector: { ok: true },
  });
  // Only errors of the start itself; a rotation's own failure must not start a second one.
  rotateClient.addRetry({
    errors: ['StepFunctions.ExecutionLimitExceededException', 'StepFunctions.SdkClientException', 'StepFunctions.AWSStepFunctionsException'],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  });
  const notRotated = new sfn.Pass(scope, F.CLIENT_NOT_ROTATED, {
    stateName: F.CLIENT_NOT_ROTATED,
    parameters: { ok: false, 'clientId.$': '$.clientId', 'error.$': '$.error.Error' },
  });
  rotateClient.addCatch(findStartedRotation(scope, props, notRotated), { errors: ['StepFunctions.ExecutionAlreadyExistsException'], resultPath: sfn.JsonPath.DISCARD });
  rotateClient.addCatch(notRotated, { resultPath: '$.error' });

  const rotateClients = new sfn.DistributedMap(scope, F.ROTATE_CLIENTS, {
    stateName: F.ROTATE_CLIENTS,
    itemsPath: '$.page',
    // Ids and the small request fields only: never a list (each item is a child execution's input).
    itemSelector: {
      'clientId.$': '$$.Map.Item.Value.clientId',
      'startAt.$': '$$.Map.Item.Value.startAt',
      // ListClients derives it (core/fleet.ts itemRotationId): States.Hash would do, but the local interpreter's SHA-256 is wrong for inputs of 56 bytes or more.
      'rotationId.$': '$$.Map.Item.Value.rotationId',
      'mode.$': '$.request.mode',
      'reason.$': '$.request.reason',
      'requestedBy.$': '$.request.requestedBy',
      'revokeImmediately.$': '$.request.revokeImmediately',
      lookups: 0,
    },
    maxConcurrency: props.maxConcurrency,
    mapExecutionType: sfn.StateMachineType.STANDARD,
    // Every item catches its own failure; a failed item never fails the fleet.
    toleratedFailurePercentage: 100,
    // The results replace the page's items: pageSize × the largest item result fits the state (core/fleet.ts MAX_PAGE_SIZE).
    resultPath: '$.page',
  });
  // Starts come at the quota's pace (ListClients set each item's start time); MaxConcurrency caps what is in flight.
  const paceStart = new sfn.Wait(scope, F.PACE_START, { stateName: F.PACE_START, time: sfn.WaitTime.timestampPath('$.startAt') });
  rotateClients.itemProcessor(paceStart.next(rotateClient));
  rotateClients.next(listClients);

  const notifyDone = new tasks.SnsPublish(scope, F.NOTIFY_FLEET_DONE, {
    stateName: F.NOTIFY_FLEET_DONE,
    topic: props.opsTopic,
    message: sfn.TaskInput.fromText(sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.done.notice'))),
    messageAttributes: { eventType: { value: 'fleet.finished' } },
    resultPath: sfn.JsonPath.DISCARD,
  });
  notifyDone.addRetry({
    errors: ['SNS.ThrottledException', 'SNS.InternalErrorException', 'SNS.KMSThrottlingException', 'SNS.SdkClientException'],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: sfn.JitterType.FULL,
  });
  const fleetRotated = new sfn.Succeed(scope, F.FLEET_ROTATED, { stateName: F.FLEET_ROTATED, outputPath: '$.done.notice' });
  const incomplete = new sfn.Fail(scope, F.FLEET_INCOMPLETE, { stateName: F.FLEET_INCOMPLETE, error: 'FleetRotationIncomplete', causePath: '$.done.notice.summary' });
  const allRotated = new sfn.Choice(scope, F.ALL_ROTATED, { stateName: F.ALL_ROTATED }).when(sfn.Condition.booleanEquals('$.done.allRotated', true), fleetRotated).otherwise(incomplete);
  notifyDone.addCatch(allRotated, { resultPath: sfn.JsonPath.DISCARD });
  notifyDone.next(allRotated);

  const hasClients = new sfn.Choice(scope, F.HAS_CLIENTS, { stateName: F.HAS_CLIENTS }).when(sfn.Condition.isPresent('$.done'), notifyDone).otherwise(rotateClients);
  listClients.next(hasClients);

  // ListClients reads `request` and `state`: the execution input becomes the request, with no progress yet.
  const start = new sfn.Pass(scope, F.START_FLEET, {
    stateName: F.START_FLEET,
    parameters: { 'request.$': '$', state: { started: true }, page: [] },
  });
  return start.next(listClients);
}

/**
 * After ExecutionAlreadyExists: this fleet's rotation of the client was started by an earlier
 * attempt whose response was lost. Reads the client record (strongly consistent, two
 * attributes) until that rotation's version is current → rotated; while it holds the lock or
 * may not have taken it yet, waits and reads again, up to the item's time; then not rotated.
 */
function findStartedRotation(scope: Construct, props: FleetDefinitionProps, notRotated: sfn.IChainable): sfn.IChainable {
  const lookupsMax = Math.max(1, Math.floor(props.itemTimeout.toSeconds() / STARTED_ROTATION_POLL.toSeconds()));
  // A CustomState is named by its id; the grant (keyroll-fleet.ts) carries the conditions CDK's DynamoGetItem would not.
  const find = new sfn.CustomState(scope, F.FIND_STARTED_ROTATION, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::dynamodb:getItem`,
      Parameters: {
        TableName: props.tableName,
        Key: { pk: { 'S.$': "States.Format('CLIENT#{}', $.clientId)" }, sk: { S: 'CLIENT' } },
        ConsistentRead: true,
        ProjectionExpression: 'currentVersionId, #lock.rotationId',
        ExpressionAttributeNames: { '#lock': 'lock' },
      },
      ResultSelector: { 'found.$': '$' },
      ResultPath: '$.read',
    },
  });
  find.addRetry({
    errors: ['DynamoDB.ProvisionedThroughputExceededException', 'DynamoDB.ThrottlingException', 'DynamoDB.InternalServerErrorException', 'DynamoDB.RequestLimitExceeded', 'DynamoDB.SdkClientException'],
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts: 6,
    jitterStrategy: sfn.JitterType.FULL,
  });
  find.addCatch(notRotated, { resultPath: '$.error' });
  const current = new sfn.Pass(scope, F.STARTED_ROTATION_CURRENT, { stateName: F.STARTED_ROTATION_CURRENT, parameters: { ok: true } });
  const notObserved = new sfn.Pass(scope, F.STARTED_ROTATION_NOT_OBSERVED, {
    stateName: F.STARTED_ROTATION_NOT_OBSERVED,
    parameters: { ok: false, 'clientId.$': '$.clientId', error: 'RotationNotObserved' },
  });
  const wait = new sfn.Wait(scope, F.WAIT_FOR_STARTED_ROTATION, { stateName: F.WAIT_FOR_STARTED_ROTATION, time: sfn.WaitTime.duration(STARTED_ROTATION_POLL) });
  // The item's fields again, with one more lookup counted (and the last read dropped).
  const count = new sfn.Pass(scope, F.COUNT_LOOKUP, {
    stateName: F.COUNT_LOOKUP,
    parameters: {
      'clientId.$': '$.clientId',
      'startAt.$': '$.startAt',
      'rotationId.$': '$.rotationId',
      'mode.$': '$.mode',
      'reason.$': '$.reason',
      'requestedBy.$': '$.requestedBy',
      'revokeImmediately.$': '$.revokeImmediately',
      'lookups.$': 'States.MathAdd($.lookups, 1)',
    },
  });
  // Every way back to the lookup is bounded by a count of lookups.
  const whileLookupsBelow = (id: string, max: number) => new sfn.Choice(scope, id, { stateName: id }).when(sfn.Condition.numberLessThan('$.lookups', max), wait).otherwise(notObserved);
  const keepLooking = whileLookupsBelow(F.KEEP_LOOKING, lookupsMax);
  const keepWaitingForLockHolder = whileLookupsBelow(F.KEEP_WAITING_FOR_LOCK_HOLDER, lookupsMax * LOCK_HOLDER_WAIT_FACTOR);
  // Each comparison sits behind its own IsPresent: a Choice on a missing path is a runtime error.
  const isLocked = new sfn.Choice(scope, F.IS_STARTED_ROTATION_LOCKED, { stateName: F.IS_STARTED_ROTATION_LOCKED })
    .when(sfn.Condition.stringEqualsJsonPath('$.read.found.Item.lock.M.rotationId.S', '$.rotationId'), keepWaitingForLockHolder)
    .otherwise(keepLooking);
  const hasLock = new sfn.Choice(scope, F.HAS_LOCK, { stateName: F.HAS_LOCK }).when(sfn.Condition.isPresent('$.read.found.Item.lock.M.rotationId.S'), isLocked).otherwise(keepLooking);
  const isCurrent = new sfn.Choice(scope, F.IS_STARTED_ROTATION_CURRENT, { stateName: F.IS_STARTED_ROTATION_CURRENT })
    .when(sfn.Condition.stringEqualsJsonPath('$.read.found.Item.currentVersionId.S', '$.rotationId'), current)
    .otherwise(hasLock);
  const hasCurrent = new sfn.Choice(scope, F.HAS_CURRENT_VERSION, { stateName: F.HAS_CURRENT_VERSION }).when(sfn.Condition.isPresent('$.read.found.Item.currentVersionId.S'), isCurrent).otherwise(hasLock);
  wait.next(count);
  count.next(find);
  find.next(hasCurrent);
  return find;
}
