/**
 * The fleet rotation workflow (JSONPath): page through the clients and, per page, run a
 * Distributed Map whose items each start one ordinary rotation and wait for its task token.
 *
 *   ListClients → HasClients? ─ yes → RotateClients (Distributed Map, MaxConcurrency N)
 *                 ▲                      └ item: RotateClient (startExecution.waitForTaskToken)
 *                 └──────────────────────────   → catch: ClientNotRotated
 *                              └ no → NotifyFleetDone → AllRotated? → FleetRotated | FleetRotationIncomplete
 *
 * Pacing: ListClients gives each item a start time, spaced so that starts come at the write
 * quota ÷ the writes of one rotation (PaceStart waits for it); and an item holds its Map slot from StartExecution until the rotation reports that
 * its new key is current (ReportRotatedToFleet, after finishSecret), so the Map runs at
 * most N rotations' secret writes at once. Throttling inside a rotation is retried there
 * (full jitter), which slows the items down and with them the Map: back-pressure, not
 * failures. The overlap and retirement of each rotation run on after the report.
 */
import { Duration } from 'aws-cdk-lib';
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
  CLIENT_NOT_ROTATED: 'ClientNotRotated',
  NOTIFY_FLEET_DONE: 'NotifyFleetDone',
  ALL_ROTATED: 'AllRotated',
  FLEET_ROTATED: 'FleetRotated',
  FLEET_INCOMPLETE: 'FleetRotationIncomplete',
} as const;

/** What the fleet workflow is built from. */
export interface FleetDefinitionProps {
  readonly fleetPage: lambda.IFunction;
  readonly rotationStateMachine: sfn.IStateMachine;
  readonly opsTopic: sns.ITopic;
  /** Rotations in flight at once (the Map's MaxConcurrency). */
  readonly maxConcurrency: number;
  /** How long an item waits for its rotation's report before it counts the client as not rotated. */
  readonly itemTimeout: Duration;
}

const F = FleetStates;

/** Builds the fleet workflow's states and returns its start. */
export function buildFleetDefinition(scope: Construct, props: FleetDefinitionProps): sfn.IChainable {
  const listClients = new tasks.LambdaInvoke(scope, F.LIST_CLIENTS, {
    stateName: F.LIST_CLIENTS,
    lambdaFunction: props.fleetPage,
    // The first call: the execution input is the request; later calls get the fleet state.
    payload: sfn.TaskInput.fromObject({ 'request.$': '$.request', 'fleetId.$': '$$.Execution.Name', 'state.$': '$.state' }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
  });
  listClients.addRetry({ errors: TRANSIENT_STEP_ERRORS, interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.seconds(30), jitterStrategy: sfn.JitterType.FULL });

  const rotateClient = new tasks.StepFunctionsStartExecution(scope, F.ROTATE_CLIENT, {
    stateName: F.ROTATE_CLIENT,
    stateMachine: props.rotationStateMachine,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    // The ordinary rotation request, plus the token the rotation answers after finishSecret.
    input: sfn.TaskInput.fromObject({
      clientId: sfn.JsonPath.stringAt('$.clientId'),
      mode: sfn.JsonPath.stringAt('$.request.mode'),
      reason: sfn.JsonPath.stringAt('$.request.reason'),
      requestedBy: sfn.JsonPath.stringAt('$.request.requestedBy'),
      'revokeImmediately.$': '$.request.revokeImmediately',
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
  rotateClient.addCatch(notRotated, { resultPath: '$.error' });

  const rotateClients = new sfn.DistributedMap(scope, F.ROTATE_CLIENTS, {
    stateName: F.ROTATE_CLIENTS,
    itemsPath: '$.items',
    itemSelector: { 'clientId.$': '$$.Map.Item.Value.clientId', 'startAt.$': '$$.Map.Item.Value.startAt', 'request.$': '$.request' },
    maxConcurrency: props.maxConcurrency,
    mapExecutionType: sfn.StateMachineType.STANDARD,
    // Every item catches its own failure; a failed item never fails the fleet.
    toleratedFailurePercentage: 100,
    resultPath: '$.state.results',
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
  notifyDone.addRetry({ errors: ['SNS.ThrottledException', 'SNS.InternalErrorException', 'SNS.KMSThrottlingException', 'SNS.SdkClientException'], interval: Duration.seconds(1), backoffRate: 2, maxAttempts: 6, jitterStrategy: sfn.JitterType.FULL });
  const fleetRotated = new sfn.Succeed(scope, F.FLEET_ROTATED, { stateName: F.FLEET_ROTATED, outputPath: '$.done.notice' });
  const incomplete = new sfn.Fail(scope, F.FLEET_INCOMPLETE, { stateName: F.FLEET_INCOMPLETE, error: 'FleetRotationIncomplete', causePath: '$.done.notice.summary' });
  const allRotated = new sfn.Choice(scope, F.ALL_ROTATED, { stateName: F.ALL_ROTATED })
    .when(sfn.Condition.booleanEquals('$.done.allRotated', true), fleetRotated)
    .otherwise(incomplete);
  notifyDone.addCatch(allRotated, { resultPath: sfn.JsonPath.DISCARD });
  notifyDone.next(allRotated);

  const hasClients = new sfn.Choice(scope, F.HAS_CLIENTS, { stateName: F.HAS_CLIENTS })
    .when(sfn.Condition.isPresent('$.done'), notifyDone)
    .otherwise(rotateClients);
  listClients.next(hasClients);

  // ListClients reads `request` and `state`: the execution input becomes the request, with no progress yet.
  const start = new sfn.Pass(scope, F.START_FLEET, {
    stateName: F.START_FLEET,
    parameters: { 'request.$': '$', state: { started: true } },
  });
  return start.next(listClients);
}
