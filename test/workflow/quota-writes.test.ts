/**
 * Secrets Manager's write quota bounds a mass incident: "Combined rate of PutSecretValue,
 * RemoveRegionsFromReplication, ReplicateSecretToRegion, StopReplicationToReplica,
 * UpdateSecret, and UpdateSecretVersionStage API requests: 50 per second", not adjustable
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html). These
 * tests count those writes in whole rotations run through the synthesized state machine (real
 * handlers, moto), and hold them to the two an invariant needs (docs/design.md, "Where the
 * truth lives"): PutSecretValue, which creates the new key's version (invariants 3 and 5), and
 * the AWSCURRENT move, which hands the client the new key (invariants 1 and 8). Secrets Manager
 * moves the other labels itself: PutSecretValue takes AWSPENDING from the version that has it
 * (API_PutSecretValue), and moving AWSCURRENT puts AWSPREVIOUS on the version it left
 * (API_UpdateSecretVersionStage). The fleet paces its starts by this count
 * (SECRETS_WRITES_PER_ROTATION in lambdas/core/fleet.ts).
 */
import { SECRETS_WRITES_PER_ROTATION } from '../../lambdas/core/fleet';
import { KeyState } from '../../lambdas/core/key-state';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { labels } from '../support/step-helpers';
import { gateBefore } from '../support/gates';
import { LocalRotationExecutions } from '../support/local-executions';
import type { RunResult, StateCall, WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';

jest.setTimeout(180_000);

/** The Secrets Manager actions that share the account's 50 requests/s (reference_limits.html). */
const QUOTA_BOUND = new Set(['PutSecretValue', 'UpdateSecretVersionStage', 'UpdateSecret', 'RemoveRegionsFromReplication', 'ReplicateSecretToRegion', 'StopReplicationToReplica']);

let deps: Awaited<ReturnType<typeof makeTestDeps>> & { executions: LocalRotationExecutions };
/** Lets an emergency preempt a running rotation (StopExecution of the local execution). */
const executions = new LocalRotationExecutions();
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let runner: WorkflowRunner;

beforeAll(async () => {
  ({ deps, clientTopic, opsTopic, runner } = await setUpWorkflow({ executions }));
});

afterAll(() => executions.uninstall());

afterEach(async () => {
  await Promise.all([clientTopic.drain(), opsTopic.drain()]);
});

const isQuotaBound = (call: StateCall) => call.service === 'SecretsManager' && QUOTA_BOUND.has(call.command);

/** `State:Command` of each quota-bound write, in order (failed attempts included: they count against the quota too). */
function quotaWrites(result: RunResult, states?: readonly string[]): string[] {
  return result.calls.filter((c) => isQuotaBound(c) && (!states || states.includes(c.state))).map((c) => `${c.state}:${c.command}`);
}

/** The states a rotation runs before it reports to a fleet. */
const UNTIL_REPORTED = [RotationStates.VALIDATE_AND_LOCK, RotationStates.CREATE_SECRET, RotationStates.SET_SECRET, RotationStates.TEST_SECRET, RotationStates.FINISH_SECRET];
const TWO_WRITES = [`${RotationStates.CREATE_SECRET}:PutSecretValue`, `${RotationStates.FINISH_SECRET}:UpdateSecretVersionStage`];

async function rotate(clientId: string, mode: string, extra: Record<string, unknown> = {}): Promise<{ result: RunResult; rotationId: string }> {
  const rotationId = newRotationId();
  const result = await runner.run({ input: { clientId, mode, reason: 'quota count', requestedBy: 'test', ...extra }, rotationId });
  expect({ status: result.status, error: result.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
  return { result, rotationId };
}

describe('quota-bound Secrets Manager writes of one rotation', () => {
  it(`an emergency rotation makes ${SECRETS_WRITES_PER_ROTATION}: PutSecretValue and the AWSCURRENT move (it made 4)`, async () => {
    const client = await registerTestClient(deps);
    const { result, rotationId } = await rotate(client.clientId, 'emergency', { revokeImmediately: true });
    expect(quotaWrites(result)).toEqual(TWO_WRITES);
    expect(SECRETS_WRITES_PER_ROTATION).toBe(2);
    // The labels where Secrets Manager put them: AWSPENDING rests on the new current version;
    // AWSPREVIOUS on the version AWSCURRENT left, whose key the table holds REVOKED.
    expect(await labels(client.secretId)).toEqual({ [rotationId]: [Stage.CURRENT, Stage.PENDING], [client.currentVersionId]: [Stage.PREVIOUS] });
    expect((await deps.keys.getKey(client.currentKeyHash))?.state).toBe(KeyState.REVOKED);
    await expectConsistent(deps, client.clientId);
  });

  it('so does the next emergency, from the labels the last one left, and the rotation after it', async () => {
    const client = await registerTestClient(deps);
    const first = await rotate(client.clientId, 'emergency');
    const second = await rotate(client.clientId, 'emergency');
    expect(quotaWrites(second.result)).toEqual(TWO_WRITES);
    expect(await labels(client.secretId)).toEqual({ [second.rotationId]: [Stage.CURRENT, Stage.PENDING], [first.rotationId]: [Stage.PREVIOUS] });
    // A scheduled rotation after the incident: 2 until it reports, and AWSPREVIOUS is its overlap's.
    const third = await rotate(client.clientId, 'scheduled');
    expect(quotaWrites(third.result, UNTIL_REPORTED)).toEqual(TWO_WRITES);
    await expectConsistent(deps, client.clientId);
  });

  it(`a scheduled rotation makes ${SECRETS_WRITES_PER_ROTATION} until it reports (it made 3), and one more when it retires the old key`, async () => {
    const client = await registerTestClient(deps);
    const { result, rotationId } = await rotate(client.clientId, 'scheduled');
    expect(quotaWrites(result, UNTIL_REPORTED)).toEqual(TWO_WRITES);
    expect(quotaWrites(result)).toEqual([...TWO_WRITES, `${RotationStates.RETIRE_OLD_KEY}:UpdateSecretVersionStage`]);
    expect(await labels(client.secretId)).toEqual({ [rotationId]: [Stage.CURRENT, Stage.PENDING] });
    await expectConsistent(deps, client.clientId);
  });
});

describe('an emergency that preempts a rotation', () => {
  // Found in review: createSecret fenced the preempted rotation's version even where the table
  // proves it exists (a finished rotation in its overlap holds the lock for days), a write that
  // Secrets Manager refuses but still counts against the quota.
  it.each([
    [RotationStates.CHECK_USAGE, 'in its overlap', TWO_WRITES],
    // Caught between createSecret and finishSecret (a window of seconds): the preemption's undo
    // takes AWSPENDING off its version (ValidateAndLock) and clears the pending fields, so the
    // table no longer proves the version exists and createSecret fences it: two writes more.
    [RotationStates.SET_SECRET, 'before its setSecret', [`${RotationStates.VALIDATE_AND_LOCK}:UpdateSecretVersionStage`, `${RotationStates.CREATE_SECRET}:PutSecretValue`, ...TWO_WRITES]],
  ])('held before %s (%s): a fence only where the table cannot prove the version exists', async (state, _when, expected) => {
    const client = await registerTestClient(deps);
    const gate = gateBefore(state);
    const held = runner.run({ input: { clientId: client.clientId, mode: 'scheduled', reason: 'quota count', requestedBy: 'test' }, rotationId: newRotationId(), beforeTask: gate.beforeTask });
    try {
      await gate.reached;
      const { result } = await rotate(client.clientId, 'emergency');
      expect(quotaWrites(result)).toEqual(expected);
    } finally {
      gate.open();
      await held;
    }
    await expectConsistent(deps, client.clientId);
  });
});
