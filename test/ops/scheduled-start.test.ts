/**
 * The scheduled start against moto's Step Functions: the rotation id (execution name) comes
 * from the client and the scheduled time only, the input is a scheduled rotation request, and a
 * duplicate delivery finds the same execution instead of starting another.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { parseRotationRequest, ROTATION_ID_PATTERN } from '../../lambdas/core/rotation-request';
import { scheduledRotationId } from '../../lambdas/core/scheduled-start';
import { RotationExecutions } from '../../lambdas/aws/rotation-executions';
import { startScheduledRotation as startAsAnyone } from '../../lambdas/aws/scheduled-start';
import { actAs } from '../../local/local-identity';
import { failure, makeOpsWorld, sfn, type OpsWorld } from './ops-fixtures';

/** The scheduled start as its function runs it: its StartExecution is judged against that function's role. */
const startScheduledRotation: typeof startAsAnyone = (...args) => actAs({ function: 'scheduledStart' }, () => startAsAnyone(...args));

let w: OpsWorld;
let executions: RotationExecutions;

beforeEach(async () => {
  w = await makeOpsWorld();
  executions = new RotationExecutions(sfn, w.stateMachineArn);
});

const delivery = (clientId = 'acme-payments', scheduledTime = '2026-12-06T01:00:00Z') => ({ clientId, scheduledTime });

describe('startScheduledRotation', () => {
  it('starts one execution named by client and scheduled time, with a scheduled rotation request as input', async () => {
    const started = await startScheduledRotation(executions, delivery());
    expect(started.rotationId).toBe(scheduledRotationId(delivery()));
    expect(started.rotationId).toMatch(/^sched-20261206T010000Z-[0-9a-f]{32}$/);
    expect(started.rotationId).toMatch(ROTATION_ID_PATTERN);
    expect(started).toMatchObject({ started: true, executionArn: `${w.stateMachineArn.replace(':stateMachine:', ':execution:')}:${started.rotationId}` });

    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(execution.status).toBe('RUNNING');
    const input = JSON.parse(execution.input!) as unknown;
    // The state machine's own validation accepts it.
    expect(parseRotationRequest(input)).toEqual({ clientId: 'acme-payments', mode: 'scheduled', reason: 'scheduled rotation (2026-12-06T01:00:00Z)', requestedBy: 'keyroll-scheduler' });
  });

  it('a duplicate delivery of the same scheduled time starts nothing new (running or already ended)', async () => {
    const first = await startScheduledRotation(executions, delivery());
    const again = await startScheduledRotation(executions, delivery());
    expect(again.rotationId).toBe(first.rotationId);
    expect(again.executionArn).toBe(first.executionArn);
    expect(await w.executionNames()).toEqual([first.rotationId]);

    // After the execution ended, Step Functions answers ExecutionAlreadyExists: still success, still one.
    await executions.stop(first.rotationId, { error: 'Test', cause: 'ended' });
    const late = await startScheduledRotation(executions, delivery());
    expect(late).toEqual({ rotationId: first.rotationId, executionArn: first.executionArn, started: false });
    expect(await w.executionNames()).toEqual([first.rotationId]);
  });

  it('other scheduled times and other clients get other rotation ids; fractional seconds do not matter', async () => {
    const ids = [scheduledRotationId(delivery()), scheduledRotationId(delivery('acme-payments', '2026-12-13T01:00:00Z')), scheduledRotationId(delivery('acme-payments-2'))];
    expect(new Set(ids).size).toBe(3);
    expect(scheduledRotationId(delivery('acme-payments', '2026-12-06T01:00:00.000Z'))).toBe(ids[0]);
    for (const id of ids) expect(id).toHaveLength(55);
  });

  it.each([
    ['a missing placeholder substitution', delivery('acme', '<aws.scheduler.scheduled-time>'), 'scheduledTime: must be an ISO-8601 UTC date and time, e.g. 2026-12-06T01:00:00Z'],
    ['a bad client id', delivery('acme payments'), 'clientId: must be 1-64 characters of [A-Za-z0-9._-]'],
    ['an impossible date', delivery('acme', '2026-02-30T01:00:00Z'), 'scheduledTime: must be an ISO-8601 UTC date and time, e.g. 2026-12-06T01:00:00Z'],
    ['a local time', delivery('acme', '2026-12-06T02:00:00+01:00'), 'scheduledTime: must be an ISO-8601 UTC date and time, e.g. 2026-12-06T01:00:00Z'],
    ['an extra field', { ...delivery(), mode: 'emergency' }, 'mode: is not allowed; the fields are clientId, scheduledTime'],
  ])('refuses %s with InvalidOperationInput and starts nothing', async (_name, event, issue) => {
    const error = await failure(startScheduledRotation(executions, event));
    expect(error.name).toBe('InvalidOperationInput');
    expect((error as unknown as { issues: string[] }).issues).toContain(issue);
    expect(await w.executionNames()).toEqual([]);
  });
});

describe('the scheduled-start Lambda handler', () => {
  it('reads STATE_MACHINE_ARN and starts the rotation; a redelivery is a success', async () => {
    process.env.STATE_MACHINE_ARN = w.stateMachineArn;
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    const { handler } = await import('../../lambdas/handlers/scheduled-start');
    const first = await handler(delivery('beta'));
    const second = await handler(delivery('beta'));
    expect(second.rotationId).toBe(first.rotationId);
    expect(await w.executionNames()).toEqual([first.rotationId]);
    await expect(handler({ clientId: 'beta' })).rejects.toMatchObject({ name: 'InvalidOperationInput' });
  });
});
