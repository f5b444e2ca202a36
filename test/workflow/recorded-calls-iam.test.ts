/**
 * Recorded calls against the synthesized IAM (docs/design.md invariant 10), evaluated: the
 * synthesized rotation state machine runs over scenarios that reach every Task state and
 * path (scheduled through retirement with an extension, an emergency preempting a running
 * rotation, an emergency with revokeImmediately and a fleet token, a failing testSecret, a
 * failing rollback). Every AWS call a state makes is judged, as it is made, by the IAM check
 * every test file runs (test/support/iam-guard.ts, installed by iam-setup.ts): its IAM
 * requests (action, resource ARN, condition keys, implied KMS requests) against the identity
 * policies of the role that makes it (the state's function's role, or the state machine's role
 * for a direct integration) with @cloud-copilot/iam-simulate. Here the checks are counted per
 * state, and planted gaps must be found: by the evaluator over the recorded requests, and at
 * run time (the call answered AccessDenied and recorded even when the code swallows it).
 */
import { KeyVerificationFailedError } from '../../lambdas/core/errors';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import type { StopReason } from '../../lambdas/aws/rotation-executions';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { taskStates } from '../../local/synthesized-workflow';
import { noteCall } from '../support/call-recorder';
import { makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { gateBefore } from '../support/gates';
import { LocalRotationExecutions } from '../support/local-executions';
import { ScopedClock } from '../support/scoped-clock';
import type { StateCall, SynthesizedWorkflow, WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';
import { actAs } from '../../local/local-identity';
import { asList, identityStatements, type CfnTemplate } from '../infra/iam-rules';
import { evaluatorOf, isWildcardOnly } from '../support/iam-evaluator';
import { iamChecks, takeIamDenials, useTemplateForIam, type IamCheck } from '../support/iam-guard';
import { synthesizedTemplate } from '../support/iam-template';
import { LOCAL_ROTATION_STATE_MACHINE_ARN as IAM_LOCAL_ROTATION_ARN } from '../support/iam-world';
import { LOCAL_ROTATION_STATE_MACHINE_ARN } from '../../local/synthesized-workflow';

jest.setTimeout(120_000);

const S = RotationStates;
const HOUR = 3600;
/** Fewer distinct (state, action, resource) requests than this means the scenarios lost calls. */
const MIN_PAIRS = 64;

// ---- The runs ----

/** Local executions that record what beginRotation asks Step Functions (DescribeExecution, StopExecution) as the SDK would. */
class RecordingExecutions extends LocalRotationExecutions {
  override async describe(rotationId: string) {
    const out = await super.describe(rotationId);
    noteCall({ service: 'SFN', command: 'DescribeExecution', ok: out.status !== 'not-found', actions: ['states:DescribeExecution'] });
    return out;
  }

  override async stop(rotationId: string, reason: StopReason) {
    const out = await super.stop(rotationId, reason);
    noteCall({ service: 'SFN', command: 'StopExecution', ok: out === 'stopped', actions: ['states:StopExecution'] });
    return out;
  }
}

const clock = new ScopedClock(Date.parse('2026-11-28T10:00:00Z'));
const executions = new RecordingExecutions();
let deps: Awaited<ReturnType<typeof makeTestDeps>> & { executions: LocalRotationExecutions };
let workflow: SynthesizedWorkflow;
let runner: WorkflowRunner;
let template: CfnTemplate;
/** Every request the IAM check judged in the scenarios (rotation states only). */
let checks: IamCheck[] = [];
/** Every call of every scenario (zombies' late calls included). */
const calls: StateCall[] = [];
const statuses: Record<string, string> = {};

/**
 * A fleet's task token: the runs started with it report their end to the fleet (sfn
 * sendTaskSuccess/Failure). No fleet waits here, so the report fails (as for an unknown token)
 * and the execution goes on; the call is still made, and IAM is checked first.
 */
const FLEET_TOKEN = 'fleet-task-token';
const request = (clientId: string, extra: Record<string, unknown>) => ({ clientId, reason: 'iam check', requestedBy: 'recorded-calls-iam', ...extra });

async function newClient() {
  const registered = await registerTestClient(deps);
  const apiKey = (await deps.secrets.readStage(registered.secretId, Stage.CURRENT))!.value.apiKey;
  return { ...registered, apiKey };
}

/** Runs one rotation, records its calls (and its zombies'), and its end. */
async function rotate(name: string, options: Parameters<WorkflowRunner['run']>[0]) {
  const result = await runner.run(options);
  const late = await runner.settled(options.rotationId);
  calls.push(...(late?.calls ?? result.calls));
  statuses[name] = result.aborted ? 'ABORTED' : `${result.status}${result.error ? `:${result.error}` : ''}`;
  return result;
}

/** Scheduled, 2 h overlap, a client on its old key near the not-after: every state of the normal path, one extension. */
async function scheduledThroughRetirement() {
  const client = await newClient();
  const verifier = new KeyVerifier({ lookup: (hash) => deps.keys.getKey(hash), clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  const usage = new UsageRecorder(deps.keys, clock, 60_000);
  await rotate('scheduled', {
    input: request(client.clientId, { mode: 'scheduled', overlapSeconds: 2 * HOUR }),
    rotationId: newRotationId(),
    beforeTask: async (state) => {
      if (state !== S.CHECK_USAGE) return;
      const firstNotAfter = (await deps.keys.requireClient(client.clientId)).lastRotation?.previousKeyNotAfter;
      if (firstNotAfter && clock.nowMs() < Date.parse(firstNotAfter)) {
        const verdict = await verifier.verify(client.apiKey);
        if (verdict.accepted) await usage.record(verdict.keyHash);
      }
    },
  });
}

/**
 * A scheduled rotation held before `state`; an emergency stops it and takes over; then the
 * stopped one's step runs as a zombie. Held before SetSecret (AWSPENDING written): beginRotation
 * undoes it. Held before CreateSecret (no version yet): the emergency's createSecret fences the
 * version (PutSecretValue, then the fence label removed), and the zombie's createSecret meets the fence.
 */
function emergencyPreemptsScheduled(state: string) {
  return async () => {
    const client = await newClient();
    const gate = gateBefore(state);
    const victim = rotate(`scheduled stopped before ${state}`, { input: request(client.clientId, { mode: 'scheduled', overlapSeconds: 2 * HOUR }), rotationId: newRotationId(), beforeTask: gate.beforeTask });
    await Promise.race([gate.reached, victim]);
    await rotate(`emergency preempting before ${state}`, { input: request(client.clientId, { mode: 'emergency' }), rotationId: newRotationId() });
    gate.open();
    await victim;
  };
}

async function emergencyRevokeImmediately() {
  const client = await newClient();
  await rotate('emergency revokeImmediately', { input: request(client.clientId, { mode: 'emergency', revokeImmediately: true, callbackToken: FLEET_TOKEN }), rotationId: newRotationId() });
}

async function failingTestSecret() {
  const client = await newClient();
  await rotate('rollback', {
    input: request(client.clientId, { mode: 'manual', callbackToken: FLEET_TOKEN }),
    rotationId: newRotationId(),
    failStep: { state: S.TEST_SECRET, error: new KeyVerificationFailedError('pending', 'simulated rejection') },
  });
}

/** ValidateAndLock fails with an error that is no refusal: the lock release after a rejection (a direct dynamodb:updateItem). */
async function validateAndLockFails() {
  const client = await newClient();
  const error = Object.assign(new Error('simulated failure after the lock'), { name: 'SimulatedFailure' });
  await rotate('validate fails', { input: request(client.clientId, { mode: 'manual', callbackToken: FLEET_TOKEN }), rotationId: newRotationId(), failStep: { state: S.VALIDATE_AND_LOCK, error } });
}

/** testSecret dies with an error no Retry matches, then Rollback fails too: the ops notice of an unrolled failure. */
async function rollbackFails() {
  const client = await newClient();
  const error = Object.assign(new Error('simulated rollback failure'), { name: 'SimulatedFailure' });
  await rotate('rollback fails', {
    input: request(client.clientId, { mode: 'manual', callbackToken: FLEET_TOKEN }),
    rotationId: newRotationId(),
    crash: { state: S.TEST_SECRET, afterCall: 1, error: 'SimulatedCrash.NotRetried' },
    failStep: { state: S.ROLLBACK, error },
  });
}

beforeAll(async () => {
  ({ deps, workflow, runner } = await setUpWorkflow({ clock, executions }));
  // The template as `cdk synth` makes it (cdk.json's feature flags), not the local runner's.
  template = synthesizedTemplate();
  iamChecks(true);
  for (const scenario of [
    scheduledThroughRetirement,
    emergencyPreemptsScheduled(S.SET_SECRET),
    emergencyPreemptsScheduled(S.CREATE_SECRET),
    emergencyRevokeImmediately,
    failingTestSecret,
    validateAndLockFails,
    rollbackFails,
  ])
    await clock.run(scenario);
  checks = iamChecks(true);
});

afterAll(() => {
  executions.uninstall();
  useTemplateForIam(undefined);
});

/** `state action resource` of a check (the resource's client-specific part elided). */
const pairOf = (c: IamCheck) =>
  `${'machine' in c.principal ? c.principal.state : c.principal.function} ${c.request.action} ${c.decision.checkedResource.replace(/(secret:[^/]+\/[^/]+\/).*/, '$1*').replace(/topic-[0-9a-f]+$/, 'topic')}`;

/** The template with `mutate` applied to a deep copy's identity statements. */
function planted(mutate: (copy: CfnTemplate) => void): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  mutate(copy);
  return copy;
}

/** PutItem taken from SetSecret's role; FinishSecret's secret actions moved onto the table. */
function plantedGaps(): CfnTemplate {
  return planted((copy) => {
    const principals = evaluatorOf(copy).principals;
    const role = (state: string) => (principals.roleOf({ machine: 'rotation', state }) as { role: string }).role;
    const [setSecretRole, finishRole] = [role(S.SET_SECRET), role(S.FINISH_SECRET)];
    const table = Object.keys(copy.Resources).find((id) => copy.Resources[id].Type === 'AWS::DynamoDB::Table')!;
    for (const { role: holder, statement } of identityStatements(copy)) {
      if (holder === setSecretRole && Array.isArray(statement.Action)) statement.Action = statement.Action.filter((a) => a !== 'dynamodb:PutItem');
      if (holder === finishRole && asList(statement.Action).some((a) => a.startsWith('secretsmanager:'))) statement.Resource = { 'Fn::GetAtt': [table, 'Arn'] };
    }
  });
}

describe('the calls the rotation makes in the tests', () => {
  test('the scenarios ran as intended and reached every path', () => {
    expect(statuses).toEqual({
      scheduled: 'SUCCEEDED',
      'emergency preempting before SetSecret': 'SUCCEEDED',
      'scheduled stopped before SetSecret': 'ABORTED',
      'emergency preempting before CreateSecret': 'SUCCEEDED',
      'scheduled stopped before CreateSecret': 'ABORTED',
      'emergency revokeImmediately': 'SUCCEEDED',
      rollback: expect.stringMatching(/^FAILED/),
      'validate fails': 'FAILED:SimulatedFailure',
      'rollback fails': 'FAILED:RollbackFailed',
    });
    expect(executions.stopped.size).toBe(2);
    const states = new Set(calls.map((c) => c.state));
    // Every Lambda step and every direct integration of the normal, extension and failure paths.
    for (const state of [S.VALIDATE_AND_LOCK, S.CREATE_SECRET, S.SET_SECRET, S.TEST_SECRET, S.FINISH_SECRET, S.CHECK_USAGE, S.RETIRE_OLD_KEY, S.ROLLBACK]) expect(states).toContain(state);
    for (const state of [S.NOTIFY_ROTATED, S.NOTIFY_EXPIRING, S.NOTIFY_RETIRED, S.RELEASE_LOCK, S.NOTIFY_OPS_FAILURE, S.RELEASE_LOCK_AFTER_FAILURE, S.RELEASE_LOCK_AFTER_REJECTION, S.NOTIFY_ROLLBACK_FAILED])
      expect(states).toContain(state);
    for (const state of [S.REPORT_ROTATED_TO_FLEET, S.REPORT_FAILURE_TO_FLEET, S.REPORT_REJECTION_TO_FLEET, S.REPORT_ROLLBACK_FAILURE_TO_FLEET]) expect(states).toContain(state);
    const actions = new Set(calls.flatMap((c) => c.actions ?? []));
    // The transactions' item kinds and the Step Functions calls were seen.
    for (const action of ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem', 'dynamodb:UpdateItem', 'states:StopExecution']) expect(actions).toContain(action);
    // beginRotation's undo and createSecret's fence moved labels.
    const moves = new Set(calls.filter((c) => c.command === 'UpdateSecretVersionStage').map((c) => c.state));
    for (const state of [S.VALIDATE_AND_LOCK, S.CREATE_SECRET]) expect(moves).toContain(state);
    expect(calls.filter((c) => c.command === 'TransactWriteItems').every((c) => (c.actions ?? []).length > 0)).toBe(true);
  });

  test('every request a state made is allowed by its role in the synthesized template', () => {
    const rotationChecks = checks.filter((c) => 'machine' in c.principal && c.principal.machine === 'rotation');
    const pairs = new Set(rotationChecks.map(pairOf));
    const states = new Set(rotationChecks.map((c) => ('machine' in c.principal ? c.principal.state : '')));
    const uncovered = taskStates(workflow)
      .map(([n]) => n)
      .filter((n) => !states.has(n));
    if (process.env.IAM_PAIRS) process.stdout.write(`${[...pairs].sort().join('\n')}\n`);
    process.stdout.write(
      `recorded-calls-iam: ${rotationChecks.length} requests judged, ${pairs.size} distinct (state, action, resource), ${states.size} Task states; not reached: ${uncovered.join(', ') || 'none'}\n`,
    );
    expect(rotationChecks.filter((c) => !c.decision.allowed).map((c) => c.decision.result)).toEqual([]);
    expect(uncovered).toEqual([]);
    expect(pairs.size).toBeGreaterThanOrEqual(MIN_PAIRS);
    // The implied KMS requests (secret values, encrypted topics) and the transactions' item kinds were judged.
    const actions = new Set(rotationChecks.map((c) => `${c.request.action}${c.request.via ? ` via ${c.request.via}` : ''}`));
    for (const action of [
      'kms:Decrypt via secretsmanager',
      'kms:GenerateDataKey via secretsmanager',
      'kms:GenerateDataKey via sns',
      'dynamodb:PutItem',
      'dynamodb:ConditionCheckItem',
      'states:StopExecution',
      'states:SendTaskSuccess',
      'states:SendTaskFailure',
    ]) {
      expect(actions).toContain(action);
    }
    // DynamoDB requests carry their condition keys (the authorizer's tightened policy reads them).
    expect(rotationChecks.filter((c) => c.request.action.startsWith('dynamodb:') && !c.request.resource.includes('/index/')).every((c) => Array.isArray(c.request.context['dynamodb:LeadingKeys']))).toBe(true);
    expect(IAM_LOCAL_ROTATION_ARN).toBe(LOCAL_ROTATION_STATE_MACHINE_ARN);
  });

  test('item 1: a fleet report (SendTaskSuccess/Failure) is authorized on "*", and the rotation role is allowed it', async () => {
    // The Service Authorization Reference lists no resource type for these actions
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html):
    // IAM checks them on "*", whatever execution (a Distributed Map child's) issued the token.
    expect(await isWildcardOnly('states:SendTaskSuccess')).toBe(true);
    expect(await isWildcardOnly('states:SendTaskFailure')).toBe(true);
    const reports = checks.filter((c) => c.request.action.startsWith('states:SendTask'));
    expect(new Set(reports.map((c) => ('machine' in c.principal ? c.principal.state : '')))).toEqual(
      new Set([S.REPORT_ROTATED_TO_FLEET, S.REPORT_FAILURE_TO_FLEET, S.REPORT_REJECTION_TO_FLEET, S.REPORT_ROLLBACK_FAILURE_TO_FLEET]),
    );
    expect(reports.every((c) => c.decision.checkedResource === '*' && c.decision.allowed)).toBe(true);
    // A grant on the fleet's own ARN (what main had) does not allow them.
    const onFleetArn = planted((copy) => {
      for (const { statement } of identityStatements(copy)) {
        if (asList(statement.Action).some((a) => a.startsWith('states:SendTask'))) statement.Resource = 'arn:aws:states:us-east-1:123456789012:stateMachine:Test-Rotation-Fleet';
      }
    });
    const verdicts = await Promise.all(reports.map((c) => evaluatorOf(onFleetArn).evaluate({ role: c.role, who: c.who }, c.request, c.world)));
    expect(verdicts.map((v) => v.result)).toEqual(reports.map(() => 'ImplicitlyDenied'));
  });

  test('catches a planted gap in the recorded requests: PutItem taken from one role, secret actions moved onto the table', async () => {
    const evaluator = evaluatorOf(plantedGaps());
    const denied: IamCheck[] = [];
    for (const c of checks) if (!(await evaluator.evaluate({ role: c.role, who: c.who }, c.request, c.world)).allowed) denied.push(c);
    const stateOf = (c: IamCheck) => ('machine' in c.principal ? c.principal.state : '');
    expect([...new Set(denied.filter((c) => stateOf(c) === S.SET_SECRET).map((c) => c.request.action))]).toEqual(['dynamodb:PutItem']);
    const finish = denied.filter((c) => stateOf(c) === S.FINISH_SECRET);
    expect(finish.length).toBeGreaterThan(0);
    expect(finish.every((c) => c.request.action.startsWith('secretsmanager:'))).toBe(true);
    // Nothing else moved: the other roles still allow everything.
    expect(denied.every((c) => [S.SET_SECRET, S.FINISH_SECRET].includes(stateOf(c) as never))).toBe(true);
  });

  test('at run time, a planted missing permission is answered AccessDenied and recorded, even when the code swallows it', async () => {
    useTemplateForIam(plantedGaps());
    try {
      const client = await newClient();
      // A whole rotation: SetSecret's transaction (its audit Put) is refused as DynamoDB would refuse it.
      const result = await runner.run({ input: request(client.clientId, { mode: 'manual' }), rotationId: newRotationId() });
      expect(result.status).toBe('FAILED');
      expect(result.calls.find((c) => c.state === S.SET_SECRET && c.command === 'TransactWriteItems')?.ok).toBe(false);
      // Swallowed: the denial is still on record for the afterEach check.
      const swallowed = await actAs({ machine: 'rotation', state: S.SET_SECRET }, () =>
        deps.keys
          .acquireLock(
            client.clientId,
            { rotationId: newRotationId(), acquiredAt: new Date(clock.nowMs()).toISOString(), expiresAt: new Date(clock.nowMs() + 3600_000).toISOString() },
            { clientId: client.clientId, at: new Date(clock.nowMs()).toISOString(), action: 'rotation.started.manual', actor: 'test', reason: 'swallowed' },
          )
          .then(
            () => 'written',
            (e: Error) => e.name,
          ),
      );
      expect(swallowed).toBe('AccessDeniedException');
      const denials = takeIamDenials();
      expect(denials.length).toBeGreaterThanOrEqual(2);
      expect(denials.every((d) => d.request.action === 'dynamodb:PutItem' && d.who === 'RotationSetSecretFunction')).toBe(true);
    } finally {
      useTemplateForIam(undefined);
    }
  });
});
