/**
 * Fixtures of the operator-API tests over moto: a KeyRoll table, a schedule group, a state
 * machine (any definition: moto keeps executions RUNNING until stopped), a recorded client
 * topic, and both dependency sets wired to the same stores and clock: the operator API's
 * (OpsDeps) and the rotation steps' (RotationDeps, with the executions for preemption).
 */
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { ManualClock } from '../../lambdas/core/clock';
import type { RotationMode } from '../../lambdas/core/rotation-request';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import { createOpsDeps, type KeyRollStackOutputs, type OpsDeps } from '../../operator/ops';
import type { RotationDeps } from '../../lambdas/aws/rotation/context';
import { RotationExecutions } from '../../lambdas/aws/rotation-executions';
import { createKeyRollTable, createRecordedTopic, TEST_SETTINGS, uniqueName, type RecordedTopic } from '../support/fixtures';
import { rotationRequest } from '../support/step-helpers';
import { registerIamWorld } from '../support/iam-guard';

export const START = Date.parse('2026-11-28T10:00:00Z');
export const ACCOUNT = '123456789012';

/** Clients shared by the ops tests (built once per file). */
export const scheduler = new SchedulerClient({});
export const sfn = new SFNClient({});
const sns = new SNSClient({});

/** Everything one ops test works with. */
export interface OpsWorld {
  readonly clock: ManualClock;
  readonly ops: OpsDeps;
  /** The rotation steps' dependencies over the same table and clock, able to stop executions. */
  readonly steps: RotationDeps & { tableName: string; secretNamePrefix: string };
  readonly outputs: KeyRollStackOutputs;
  readonly clientTopic: RecordedTopic;
  readonly stateMachineArn: string;
  /** Starts an execution in moto under `rotationId`, as the state machine would be running it. */
  startExecution(rotationId: string, clientId: string, mode?: RotationMode): Promise<string>;
  /** RUNNING, ABORTED, ... of the execution named `rotationId`. */
  executionStatus(rotationId: string): Promise<string | undefined>;
  /** Names of every execution of the state machine. */
  executionNames(): Promise<string[]>;
}

/** A fresh world: new table, group, state machine, topic; a manual clock at START. */
export async function makeOpsWorld(): Promise<OpsWorld> {
  const clock = new ManualClock(START);
  const tableName = await createKeyRollTable();
  const groupName = uniqueName('keyroll-group');
  await scheduler.send(new CreateScheduleGroupCommand({ Name: groupName }));
  const { stateMachineArn } = await sfn.send(
    new CreateStateMachineCommand({
      name: uniqueName('KeyRoll-Rotation'),
      definition: JSON.stringify({ StartAt: 'Wait', States: { Wait: { Type: 'Wait', Seconds: 86400, End: true } } }),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/keyroll-state-machine`,
    }),
  );
  const clientTopic = await createRecordedTopic();
  const secretNamePrefix = `keyroll-ops/${uniqueName('p')}/`;
  const outputs: KeyRollStackOutputs = {
    TableName: tableName,
    StateMachineArn: stateMachineArn!,
    KeyPrefix: TEST_SETTINGS.keyPrefix,
    SecretNamePrefix: secretNamePrefix,
    KeyArn: 'alias/aws/secretsmanager',
    ClientTopicArn: clientTopic.topicArn,
    MinOverlapSeconds: String(TEST_SETTINGS.overlapBounds.minSeconds),
    MaxOverlapSeconds: String(TEST_SETTINGS.overlapBounds.maxSeconds),
    ScheduleGroupName: groupName,
    SchedulerRoleArn: `arn:aws:iam::${ACCOUNT}:role/keyroll-scheduler`,
    ScheduleDeadLetterQueueArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:keyroll-schedules-dlq`,
    ScheduledStartFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:keyroll-scheduled-start`,
  };
  // The stack's table, secrets, client topic and rotation state machine are these here (for the IAM check).
  registerIamWorld({ tableName, secretNamePrefix, clientTopicArn: clientTopic.topicArn, rotationStateMachineArn: stateMachineArn! });
  const ops = createOpsDeps({ dynamoDb: dynamoDbClient(), secretsManager: secretsManagerClient(), scheduler, stepFunctions: sfn, sns }, outputs, { clock });
  const steps = {
    tableName,
    secretNamePrefix,
    secrets: ops.secrets,
    keys: ops.keys,
    clock,
    settings: TEST_SETTINGS,
    executions: new RotationExecutions(sfn, stateMachineArn!),
  };
  return {
    clock,
    ops,
    steps,
    outputs,
    clientTopic,
    stateMachineArn: stateMachineArn!,
    async startExecution(rotationId, clientId, mode = 'scheduled') {
      const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name: rotationId, input: JSON.stringify(rotationRequest(clientId, mode)) }));
      return executionArn!;
    },
    async executionStatus(rotationId) {
      try {
        return (await sfn.send(new DescribeExecutionCommand({ executionArn: ops.executions.executionArn(rotationId) }))).status;
      } catch (error) {
        if ((error as Error).name === 'ExecutionDoesNotExist') return undefined;
        throw error;
      }
    },
    async executionNames() {
      const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
      return (executions ?? []).map((e) => e.name!).sort();
    },
  };
}

/** A valid policy: weekly, 02:00-04:00 Berlin time, 2 h overlap, 1 day hard deadline. */
export const WEEKLY_BERLIN = {
  intervalDays: 7,
  overlapSeconds: 7200,
  maxOverlapSeconds: 86_400,
  timeZone: 'Europe/Berlin',
  window: { start: '02:00', end: '04:00' },
} as const;

/** An onboarding request for a fresh client id. */
export function onboarding(overrides: Record<string, unknown> = {}) {
  return {
    clientId: uniqueName('acme'),
    scopes: ['orders:read', 'orders:write'],
    policy: WEEKLY_BERLIN,
    requestedBy: 'alice@example.com',
    reason: 'new partner integration',
    ...overrides,
  };
}

/** Runs a promise that must fail; returns the error. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}
