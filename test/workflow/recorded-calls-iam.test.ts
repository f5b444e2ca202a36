/**
 * Recorded calls against the synthesized IAM (docs/design.md invariant 10): every AWS call a
 * role makes in the tests is allowed by that role's policy in the synthesized template. moto
 * evaluates no IAM, so a call the role may not make passes every other test (a review found
 * audit Puts inside transactions that five step roles could not make). Here the synthesized
 * rotation state machine runs over scenarios that reach every step and path (scheduled through
 * retirement with an extension, an emergency preempting a running rotation, an emergency with
 * revokeImmediately, a failing testSecret); each call's IAM actions are recorded
 * (call-recorder.ts), collected per Task state, and checked against the identity statements of
 * the role that makes them: the state's function's role for a Lambda task, the state machine's
 * role for a direct integration (sns:publish, dynamodb:updateItem). A statement counts when it
 * grants the action on a resource of the right kind (a secret ARN pattern, the table or its
 * index, a topic, the key through the right service, a rotation execution). A planted template
 * (PutItem removed from one role; secret actions moved onto the table) must produce findings.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { KeyVerificationFailedError } from '../../lambdas/core/errors';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import type { StopReason } from '../../lambdas/aws/rotation-executions';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { taskStates } from '../../lib/local/synthesized-workflow';
import { iamActionsOf, noteCall } from '../support/call-recorder';
import { createRecordedTopic, makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { gateBefore } from '../support/gates';
import { LocalRotationExecutions } from '../support/local-executions';
import { ScopedClock } from '../support/scoped-clock';
import { synthesizeWorkflow, WorkflowRunner, type StateCall, type SynthesizedWorkflow } from '../support/workflow';
import { asList, functionRoles, grants, identityStatements, nameOf, type CfnTemplate, type Statement } from '../infra/iam-rules';
import { newTestApp, removeTempDirs, renderCfn, TEST_ENV } from '../infra/infra-app';

jest.setTimeout(120_000);

const S = RotationStates;
const HOUR = 3600;
/** Fewer distinct (state, action) pairs than this means the scenarios lost calls (today 67, over all 20 Task states). */
const MIN_PAIRS = 64;

/**
 * KMS actions a call makes AWS take with the caller's permissions. Secrets Manager "acts on
 * behalf of the user who is creating or changing the secret value": kms:GenerateDataKey and
 * kms:Decrypt to write a value, kms:Decrypt to read one
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz).
 * A publisher to an SNS topic encrypted with a customer managed key needs kms:GenerateDataKey*
 * and kms:Decrypt (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
 * DynamoDB's use of the table key is not listed: it is not modelled here.
 */
function impliedKmsActions(action: string): { action: string; via: string }[] {
  if (action === 'secretsmanager:GetSecretValue') return [{ action: 'kms:Decrypt', via: 'secretsmanager' }];
  if (action === 'secretsmanager:PutSecretValue') return ['kms:GenerateDataKey', 'kms:Decrypt'].map((a) => ({ action: a, via: 'secretsmanager' }));
  if (action === 'sns:Publish') return ['kms:GenerateDataKey', 'kms:Decrypt'].map((a) => ({ action: a, via: 'sns' }));
  return [];
}

/** What a state needed of IAM: an action, through which service for a KMS action, on which index for a DynamoDB read. */
interface Need {
  readonly state: string;
  readonly action: string;
  readonly via?: string;
  readonly index?: string;
  /** The call it comes from (`DynamoDB:TransactWriteItems`), for the findings. */
  readonly call: string;
}

const needKey = (n: Need) => `${n.state} ${n.action}${n.via ? ` via ${n.via}` : ''}${n.index ? ` on index ${n.index}` : ''}`;

/**
 * The actions of a call as recorded. The runner records an AWS SDK integration
 * (`arn:aws:states:::aws-sdk:sfn:sendTaskSuccess`) by its resource: IAM wants `states:SendTaskSuccess`.
 */
function actionsOf(call: StateCall): string[] {
  if (call.actions) return [...call.actions];
  const sdk = /^arn:aws:states:::aws-sdk:([a-z0-9]+):([A-Za-z]+)$/.exec(call.command);
  if (sdk) return [`${sdk[1] === 'sfn' ? 'states' : sdk[1]}:${sdk[2]!.charAt(0).toUpperCase()}${sdk[2]!.slice(1)}`];
  return iamActionsOf(call.service, call.command, undefined);
}

/** Every action the recorded calls needed (failed calls too: AWS checks IAM before anything else), deduplicated. */
function needsOf(calls: readonly StateCall[]): Need[] {
  const needs = new Map<string, Need>();
  for (const call of calls) {
    const actions = actionsOf(call);
    for (const action of actions) {
      const all: Need[] = [
        { state: call.state, action, ...(call.index ? { index: call.index } : {}), call: `${call.service}:${call.command}` },
        ...impliedKmsActions(action).map((k) => ({ state: call.state, action: k.action, via: k.via, call: `${call.service}:${call.command}` })),
      ];
      for (const need of all) if (!needs.has(needKey(need))) needs.set(needKey(need), need);
    }
  }
  return [...needs.values()];
}

// ---- The template side ----

/** The logical ids a value refers to (Ref / GetAtt), wherever in it. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj['Ref'] === 'string') return obj['Ref'].startsWith('AWS::') ? [] : [obj['Ref']];
    if (Array.isArray(obj['Fn::GetAtt'])) return [obj['Fn::GetAtt'][0] as string];
    return Object.values(obj).flatMap(refsIn);
  }
  return [];
}

/** Who makes a state's calls: the state's function's role, or the state machine's role for a direct integration. */
interface StateRole {
  readonly role: string;
  /** Readable name: the function (`RotationCreateSecretFunction`) or `state machine role`. */
  readonly who: string;
}

/**
 * Task state name → the role its calls are made with, read from the rotation state machine's
 * DefinitionString: a Lambda task's Resource is `{Fn::GetAtt: [<function>, Arn]}`.
 */
function stateRoles(template: CfnTemplate): Map<string, StateRole> {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  const roles = functionRoles(template);
  for (const [, machine] of machines) {
    const definition = machine.Properties!['DefinitionString'] as string | { 'Fn::Join': [string, unknown[]] };
    const text =
      typeof definition === 'string'
        ? definition
        : definition['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `#REF:${refsIn(part)[0] ?? ''}#`)).join(definition['Fn::Join'][0]);
    const states = (JSON.parse(text) as { States: Record<string, { Type: string; Resource?: string }> }).States;
    if (!(S.VALIDATE_AND_LOCK in states)) continue; // the fleet's machine
    const machineRole = refsIn(machine.Properties!['RoleArn'])[0]!;
    const out = new Map<string, StateRole>();
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task' || !state.Resource) continue;
      const fn = /^#REF:(.+)#$/.exec(state.Resource)?.[1];
      out.set(name, fn ? { role: roles.get(fn) ?? `<no role for ${fn}>`, who: nameOf(fn) } : { role: machineRole, who: 'state machine role' });
    }
    return out;
  }
  throw new Error('The template has no rotation state machine.');
}

/** Whether a statement's Resource (and Condition, for KMS) fits what the action is used on here; cheap, by resource type. */
function resourceFits(template: CfnTemplate, statement: Statement, need: Need): boolean {
  const resources = asList(statement.Resource);
  if (resources.includes('*') && !need.action.startsWith('kms:')) return true; // everything, so this too (the wildcard rule is iam-rules.ts')
  const text = resources.map(renderCfn).join(' ');
  const refTypes = refsIn(statement.Resource).map((id) => template.Resources[id]?.Type);
  const [service] = need.action.split(':');
  switch (service) {
    case 'secretsmanager':
      return /:secret:/.test(text);
    case 'dynamodb':
      return refTypes.includes('AWS::DynamoDB::Table') && (!need.index || resources.some((r) => /\/index\/(\*|[^/]+)$/.test(renderCfn(r)) && (renderCfn(r).endsWith('/*') || renderCfn(r).endsWith(`/${need.index}`))));
    case 'sns':
      return refTypes.includes('AWS::SNS::Topic');
    case 'states':
      // A rotation reports to the fleet's state machine (task tokens); it inspects and stops rotation executions.
      return /^states:SendTask/.test(need.action) ? /:stateMachine:/.test(text) : /:execution:/.test(text);
    case 'kms':
      return refTypes.includes('AWS::KMS::Key') && (!need.via || new RegExp(`"kms:ViaService":"${need.via}\\.`).test(JSON.stringify(statement.Condition ?? {})));
    default:
      return false;
  }
}

/** One recorded need that the role's policy does not allow. */
interface Unmatched {
  readonly state: string;
  readonly action: string;
  readonly role: string;
  readonly detail: string;
}

/** Every need that no Allow statement of its state's role fits, or that a Deny statement matches. */
function unmatched(template: CfnTemplate, needs: readonly Need[]): Unmatched[] {
  const roles = stateRoles(template);
  const statements = identityStatements(template);
  const out: Unmatched[] = [];
  for (const need of needs) {
    const holder = roles.get(need.state);
    const where = needKey(need);
    if (!holder) {
      out.push({ state: need.state, action: need.action, role: '<none>', detail: `${where}: the template's state machine has no Task state ${need.state}` });
      continue;
    }
    const own = statements.filter((s) => s.role === holder.role).map((s) => s.statement);
    const granting = own.filter((s) => grants(s, need.action));
    const denied = own.some((s) => s.Effect === 'Deny' && grants({ ...s, Effect: 'Allow' }, need.action));
    const what = `${where} (from ${need.call}), role of ${holder.who}`;
    if (denied) out.push({ state: need.state, action: need.action, role: holder.who, detail: `${what}: denied by a Deny statement` });
    else if (granting.length === 0) out.push({ state: need.state, action: need.action, role: holder.who, detail: `${what}: no statement grants it` });
    else if (!granting.some((s) => resourceFits(template, s, need))) {
      out.push({ state: need.state, action: need.action, role: holder.who, detail: `${what}: granted only on ${granting.map((s) => JSON.stringify(s.Resource)).join(', ')}` });
    }
  }
  return out;
}

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
  executions.install();
  deps = { ...(await makeTestDeps(clock)), executions };
  const [clientTopic, opsTopic] = await Promise.all([createRecordedTopic(), createRecordedTopic()]);
  workflow = synthesizeWorkflow({ tableName: deps.tableName, clientTopicArn: clientTopic.topicArn, opsTopicArn: opsTopic.topicArn });
  runner = new WorkflowRunner(workflow, deps);
  // The template as `cdk synth` makes it (cdk.json's feature flags), not the local runner's.
  template = Template.fromStack(new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV })).toJSON() as CfnTemplate;
  for (const scenario of [scheduledThroughRetirement, emergencyPreemptsScheduled(S.SET_SECRET), emergencyPreemptsScheduled(S.CREATE_SECRET), emergencyRevokeImmediately, failingTestSecret, validateAndLockFails, rollbackFails]) await clock.run(scenario);
});

afterAll(() => {
  executions.uninstall();
  removeTempDirs();
});

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
    for (const state of [S.NOTIFY_ROTATED, S.NOTIFY_EXPIRING, S.NOTIFY_RETIRED, S.RELEASE_LOCK, S.NOTIFY_OPS_FAILURE, S.RELEASE_LOCK_AFTER_FAILURE, S.RELEASE_LOCK_AFTER_REJECTION, S.NOTIFY_ROLLBACK_FAILED]) expect(states).toContain(state);
    for (const state of [S.REPORT_ROTATED_TO_FLEET, S.REPORT_FAILURE_TO_FLEET, S.REPORT_REJECTION_TO_FLEET, S.REPORT_ROLLBACK_FAILURE_TO_FLEET]) expect(states).toContain(state);
    const actions = new Set(calls.flatMap((c) => c.actions ?? []));
    // The transactions' item kinds and the Step Functions calls were seen.
    for (const action of ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem', 'dynamodb:UpdateItem', 'states:StopExecution']) expect(actions).toContain(action);
    // beginRotation's undo and createSecret's fence moved labels.
    const moves = new Set(calls.filter((c) => c.command === 'UpdateSecretVersionStage').map((c) => c.state));
    for (const state of [S.VALIDATE_AND_LOCK, S.CREATE_SECRET]) expect(moves).toContain(state);
    expect(calls.filter((c) => c.command === 'TransactWriteItems').every((c) => (c.actions ?? []).length > 0)).toBe(true);
  });

  test('every action a state needed is allowed by its role in the synthesized template', () => {
    const needs = needsOf(calls);
    const pairs = new Set(needs.map(needKey));
    const lambdaStates = new Set(taskStates(workflow).filter(([, r]) => workflow.functionArnToStep.has(r)).map(([n]) => n));
    const uncovered = taskStates(workflow).map(([n]) => n).filter((n) => !calls.some((c) => c.state === n));
    if (process.env.IAM_PAIRS) process.stdout.write(`${[...pairs].sort().join('\n')}\n`);
    process.stdout.write(
      `recorded-calls-iam: ${calls.length} calls, ${pairs.size} distinct (state, action) pairs over ${new Set(needs.map((n) => n.state)).size} Task states ` +
        `(${[...lambdaStates].filter((s) => calls.some((c) => c.state === s)).length}/${lambdaStates.size} Lambda); Task states not reached: ${uncovered.join(', ') || 'none'}\n`,
    );
    expect(unmatched(template, needs).map((u) => u.detail)).toEqual([]);
    expect(uncovered).toEqual([]);
    expect(pairs.size).toBeGreaterThanOrEqual(MIN_PAIRS);
  });

  test('catches a planted gap: PutItem taken from one role, secret actions moved onto the table', () => {
    const needs = needsOf(calls);
    const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
    const roles = stateRoles(copy);
    const setSecretRole = roles.get(S.SET_SECRET)!.role;
    const finishRole = roles.get(S.FINISH_SECRET)!.role;
    const table = Object.keys(copy.Resources).find((id) => copy.Resources[id]!.Type === 'AWS::DynamoDB::Table')!;
    // The mutation is made on the statements themselves (shared objects of the copy).
    for (const { role, statement } of identityStatements(copy)) {
      if (role === setSecretRole && Array.isArray(statement.Action)) statement.Action = statement.Action.filter((a) => a !== 'dynamodb:PutItem');
      if (role === finishRole && asList(statement.Action).some((a) => a.startsWith('secretsmanager:'))) statement.Resource = { 'Fn::GetAtt': [table, 'Arn'] };
    }
    const found = unmatched(copy, needs);
    expect(found.filter((u) => u.state === S.SET_SECRET).map((u) => u.action)).toEqual(['dynamodb:PutItem']);
    expect(found.find((u) => u.state === S.SET_SECRET)!.detail).toMatch(/no statement grants it/);
    const finish = found.filter((u) => u.state === S.FINISH_SECRET);
    expect(finish.length).toBeGreaterThan(0);
    expect(finish.every((u) => u.action.startsWith('secretsmanager:') && /granted only on/.test(u.detail))).toBe(true);
    // Nothing else moved: the other roles still allow everything.
    expect(found.every((u) => u.state === S.SET_SECRET || u.state === S.FINISH_SECRET)).toBe(true);
  });
});
