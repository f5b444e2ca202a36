/**
 * Hostile schedule deliveries: each field of the scheduled-start event (and the event itself,
 * and unknown fields) set to every hostile value. Refused ones give InvalidOperationInput with a
 * safe message and start nothing (no Step Functions call at all); a well-formed client id is
 * legitimately accepted (the rotation itself then fails with UnknownClient if no such client).
 */
import { RotationExecutions } from '../../lambdas/aws/rotation-executions';
import { startScheduledRotation } from '../../lambdas/aws/scheduled-start';
import { scheduledRotationId } from '../../lambdas/core/scheduled-start';
import { makeOpsWorld, sfn, type OpsWorld } from '../ops/ops-fixtures';
import { describeValue, HOSTILE_FIELD_NAMES, HOSTILE_VALUES, unsafeMessage, withField } from './hostile-values';
import { SdkCalls } from './sdk-calls';

let w: OpsWorld;
let executions: RotationExecutions;
const calls = new SdkCalls(sfn);

beforeAll(async () => {
  w = await makeOpsWorld();
  executions = new RotationExecutions(sfn, w.stateMachineArn);
});
beforeEach(() => calls.reset());

const valid = { clientId: 'acme-payments', scheduledTime: '2026-12-06T01:00:00Z' };

async function refusal(event: unknown): Promise<{ name: string; message: string }> {
  try {
    await startScheduledRotation(executions, event);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected InvalidOperationInput');
}

const refused = [
  ...HOSTILE_VALUES.filter((h) => !h.plainId || h.apiKey).map((h) => ({ title: `clientId = ${h.name}`, event: withField(valid, 'clientId', h.value), hostile: h.value })),
  ...HOSTILE_VALUES.map((h) => ({ title: `scheduledTime = ${h.name}`, event: withField(valid, 'scheduledTime', h.value), hostile: h.value })),
  ...HOSTILE_VALUES.map((h) => ({ title: `the event = ${h.name}`, event: h.value, hostile: h.value })),
  ...HOSTILE_FIELD_NAMES.map((name) => ({ title: `extra field ${describeValue(name)}`, event: withField(valid, name, 'x'), hostile: name })),
];

it.each(refused)('$title → InvalidOperationInput, nothing started', async ({ event, hostile }) => {
  const error = await refusal(event);
  expect(error.name).toBe('InvalidOperationInput');
  expect(unsafeMessage(error.message, hostile)).toBeUndefined();
  expect(calls.commands).toEqual([]);
});

it('after all refusals, the state machine has no execution', async () => {
  expect(await w.executionNames()).toEqual([]);
});

it.each(HOSTILE_VALUES.filter((h) => h.plainId && !h.apiKey).map((h) => ({ h, title: h.name })))('a well-formed client id ($title) is accepted: one execution, named by the id hash', async ({ h }) => {
  const event = withField(valid, 'clientId', h.value) as { clientId: string; scheduledTime: string };
  const started = await startScheduledRotation(executions, event);
  expect(started).toMatchObject({ started: true, rotationId: scheduledRotationId(event) });
  expect(calls.commands).toContain('StartExecution'); // the counter does see calls
  // The execution name is derived (a hash), never the hostile text itself.
  expect(started.rotationId).not.toContain(event.clientId);
});
