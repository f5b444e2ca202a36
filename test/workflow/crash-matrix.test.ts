/**
 * Crash matrix (invariant 3): for every AWS call that a state of the synthesized state machine
 * makes — the Lambda handlers' Secrets Manager and DynamoDB calls and the direct SNS/DynamoDB
 * integrations — a run that crashes right after that call (the effect happened, the caller
 * died), lets Step Functions retry the state, and then checks the invariants of DESIGN.md.
 * The points are generated from a clean run of each scenario, so a call added to a handler
 * adds its point without touching this file. Writes .cache/crash-matrix/crash-matrix-report.json.
 */
import { join } from 'node:path';
import { KeyVerificationFailedError } from '../../lambdas/core/errors';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { verifyApiKey } from '../../lambdas/core/verification';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { createRecordedTopic, makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { isReadOnly } from '../support/call-recorder';
import { buildReport, generatePoints, summaryLine, writeReport, type MatrixPoint, type PointOutcome } from '../support/crash-matrix';
import { earlyRejections, endStateViolations, noticeFindings, oldKeyViolations, opsFindings, type Before, type Expected, type Published } from '../support/crash-invariants';
import { SourceKind, tapTopic } from '../support/secret-tap';
import { synthesizeWorkflow, Tap, WorkflowRunner, type CrashPoint, type RunResult } from '../support/workflow';

jest.setTimeout(180_000);

const HOUR = 3600;
const REPORT_PATH = join(__dirname, '..', '..', '.cache', 'crash-matrix', 'crash-matrix-report.json');
/** Fewer points than these means the generator lost calls (today: 82 points, 31 after a mutating call). */
const MIN_POINTS = 60;
const MIN_MUTATING_POINTS = 25;
const S = RotationStates;

/** A scenario: a request, how it should end, and which states get crash points. */
interface Scenario {
  readonly name: string;
  readonly input: (clientId: string) => Record<string, unknown>;
  readonly expected: Expected;
  readonly failStep?: { state: string; error: Error };
  /** The client keeps calling with its old key at the usage checks before its first not-after (one key.expiring reminder). */
  readonly laggingClient?: boolean;
  /** States whose calls get points; default every Task state of the run. */
  readonly include?: (state: string) => boolean;
  /**
   * The run moves the shared manual clock (its Waits): its points run one at a time. The
   * others only read the clock, so their points run a few at a time (each on its own client).
   */
  readonly usesClock?: boolean;
}

/** Points of a clock-free scenario run this many at a time (moto answers concurrently). */
const PARALLEL_RUNS = 4;

const request = (clientId: string, extra: Record<string, unknown>) => ({ clientId, reason: 'crash matrix', requestedBy: 'crash-matrix', ...extra });
const FAILURE_PATH = new Set<string>([S.ROLLBACK, S.NOTIFY_OPS_FAILURE, S.RELEASE_LOCK_AFTER_FAILURE]);
// Emergency runs the normal path's code except in these states (beginRotation without executions to stop is the same).
const EMERGENCY_PATH = new Set<string>([S.FINISH_SECRET, S.NOTIFY_ROTATED, S.RELEASE_LOCK]);
const REVOKE_IMMEDIATELY_PATH = new Set<string>([S.CREATE_SECRET, S.FINISH_SECRET]);

const SCENARIOS: readonly Scenario[] = [
  // Scheduled, 2 h overlap, a client still on the old key near the not-after: rotated, one
  // reminder with an extension, then retirement. Covers every state of the normal path.
  { name: 'scheduled', input: (id) => request(id, { mode: 'scheduled', overlapSeconds: 2 * HOUR }), expected: 'rotated', laggingClient: true, usesClock: true },
  // Emergency, and emergency with revokeImmediately: points in the states whose code path differs from the normal one.
  { name: 'emergency', input: (id) => request(id, { mode: 'emergency' }), expected: 'emergency', include: (s) => EMERGENCY_PATH.has(s) },
  { name: 'emergency-revoke-immediately', input: (id) => request(id, { mode: 'emergency', revokeImmediately: true }), expected: 'emergency', include: (s) => REVOKE_IMMEDIATELY_PATH.has(s) },
  // testSecret refuses the new key: Rollback → NotifyOpsFailure → ReleaseLockAfterFailure. Points on that path.
  {
    name: 'rollback',
    input: (id) => request(id, { mode: 'manual' }),
    expected: 'rolled-back',
    failStep: { state: S.TEST_SECRET, error: new KeyVerificationFailedError('pending', 'simulated rejection') },
    include: (s) => FAILURE_PATH.has(s),
  },
];

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let runner: WorkflowRunner;
let verifier: KeyVerifier;
let usage: UsageRecorder;
/** Everything the crashed runs produced (crash errors included), for invariant 5. */
const tap = new Tap();

beforeAll(async () => {
  deps = await makeTestDeps();
  [clientTopic, opsTopic] = await Promise.all([createRecordedTopic().then((t) => tapTopic(tap, t, 'client')), createRecordedTopic().then((t) => tapTopic(tap, t, 'ops'))]);
  runner = new WorkflowRunner(synthesizeWorkflow({ tableName: deps.tableName, clientTopicArn: clientTopic.topicArn, opsTopicArn: opsTopic.topicArn }), deps, tap);
  verifier = new KeyVerifier({ lookup: (hash) => deps.keys.getKey(hash), clock: deps.clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  usage = new UsageRecorder(deps.keys, deps.clock, 60_000);
});

/** One run of a scenario (crashing where asked) and everything needed to judge it. */
interface Trial {
  readonly before: Before;
  readonly rotationId: string;
  readonly result: RunResult;
  readonly verdicts: { state: string; atMs: number; accepted: boolean; reason?: string }[];
  readonly client: Published[];
  readonly ops: Published[];
}

/**
 * Client and ops notices, sorted by client. Drains run one at a time: two concurrent
 * receivers on one queue could each think the other's messages were all there was.
 */
class Inbox {
  private readonly byClient = new Map<string, { client: Published[]; ops: Published[] }>();
  private draining: Promise<unknown> = Promise.resolve();

  async take(clientId: string): Promise<{ client: Published[]; ops: Published[] }> {
    const drained = this.draining.then(async () => {
      for (const [topic, into] of [[clientTopic, 'client'], [opsTopic, 'ops']] as const) {
        for (const m of await topic.drain()) {
          const entry = this.byClient.get(m.attributes['clientId'] ?? '') ?? { client: [], ops: [] };
          entry[into].push(m);
          this.byClient.set(m.attributes['clientId'] ?? '', entry);
        }
      }
    });
    this.draining = drained.catch(() => undefined);
    await drained;
    const mine = this.byClient.get(clientId) ?? { client: [], ops: [] };
    this.byClient.delete(clientId);
    return mine;
  }
}
const inbox = new Inbox();

/** Runs `work` over `items`, at most `size` at a time, keeping the order of `items` in the result. */
async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

async function runTrial(scenario: Scenario, crash?: CrashPoint): Promise<Trial> {
  const registered = await registerTestClient(deps);
  const apiKey = (await deps.secrets.readStage(registered.secretId, Stage.CURRENT))!.value.apiKey;
  const before: Before = { clientId: registered.clientId, secretId: registered.secretId, versionId: registered.currentVersionId, keyId: registered.currentKeyId, apiKey };
  const rotationId = newRotationId();
  const verdicts: Trial['verdicts'] = [];
  const result = await runner.run({
    input: scenario.input(registered.clientId),
    rotationId,
    failStep: scenario.failStep,
    crash,
    // Outside the state's call scope: these reads and writes are the world, not the handler.
    beforeTask: async (state) => {
      if (scenario.laggingClient && state === S.CHECK_USAGE) {
        const firstNotAfter = (await deps.keys.requireClient(registered.clientId)).lastRotation?.previousKeyNotAfter;
        if (firstNotAfter && deps.clock.nowMs() < Date.parse(firstNotAfter)) {
          const verdict = await verifier.verify(apiKey);
          if (verdict.accepted) await usage.record(verdict.keyHash);
        }
      }
      const verdict = await verifyApiKey(apiKey, (hash) => deps.keys.getKey(hash), deps.clock, deps.settings.keyPrefix);
      verdicts.push({ state, atMs: deps.clock.nowMs(), accepted: verdict.accepted, ...(verdict.accepted ? {} : { reason: verdict.reason }) });
    },
  });
  return { before, rotationId, result, verdicts, ...(await inbox.take(registered.clientId)) };
}

/** What a clean run of a scenario produced: the reference every crashed run is held to. */
interface Reference {
  readonly status: string;
  readonly error?: string;
  readonly clientTypes: string[];
  readonly opsNotices: string[];
}

/** Every invariant violation of a finished trial, plus tolerated deviations as notes. */
async function judge(scenario: Scenario, trial: Trial, reference: Reference): Promise<{ violations: string[]; notes: string[] }> {
  const { result, before } = trial;
  const violations: string[] = [];
  if (result.status !== reference.status || result.error !== reference.error) {
    violations.push(`ended ${result.status}${result.error ? ` (${result.error})` : ''}, expected ${reference.status}${reference.error ? ` (${reference.error})` : ''}`);
  }
  violations.push(...(await endStateViolations(deps, before, trial.rotationId, scenario.expected)));
  const finalCurrentKeyId = (await deps.keys.requireClient(before.clientId)).currentKeyId;
  const notices = noticeFindings(trial.client, reference.clientTypes, finalCurrentKeyId, before.keyId);
  const ops = opsFindings(trial.ops, reference.opsNotices);
  violations.push(...notices.violations, ...ops.violations);
  violations.push(...(await oldKeyViolations(deps, before, scenario.expected, notices.announcedNotAfters)));
  if (scenario.expected !== 'emergency') {
    // The old key works until the first not-after it was promised (forever, after a rollback).
    const promised = notices.announcedNotAfters.length ? Math.min(...notices.announcedNotAfters.map(Date.parse)) : Number.POSITIVE_INFINITY;
    violations.push(...earlyRejections(trial.verdicts, promised));
  }
  return { violations, notes: [...notices.notes, ...ops.notes] };
}

/** Runs one point and judges it. */
async function runPoint(scenario: Scenario, point: MatrixPoint, reference: Reference, crash: CrashPoint = point): Promise<PointOutcome> {
  const started = Date.now();
  const trial = await runTrial(scenario, crash);
  const { violations, notes } = await judge(scenario, trial, reference);
  const fired = trial.result.crashed;
  const retried = fired !== undefined && (trial.result.attempts.get(point.state) ?? 0) > fired.attempt;
  const covered = fired !== undefined && fired.surfaced && retried && fired.call.command === point.call.split(':')[1];
  if (!fired) violations.push('the crash never fired (the run diverged from the clean run)');
  else if (!fired.surfaced) violations.push(`the handler swallowed the crash after ${point.call}`);
  else if (!retried) violations.push('the crashed state was not run again');
  else if (!covered) violations.push(`the crash hit ${fired.call.service}:${fired.call.command}, not ${point.call}`);
  return { point, covered, executed: true, status: `${trial.result.status}${trial.result.error ? `:${trial.result.error}` : ''}`, violations, notes, durationMs: Date.now() - started };
}

const references = new Map<string, Reference>();
const pointsByScenario = new Map<string, MatrixPoint[]>();

describe('the crash matrix', () => {
  beforeAll(async () => {
    for (const scenario of SCENARIOS) {
      const clean = await runTrial(scenario);
      const reference: Reference = {
        status: clean.result.status,
        ...(clean.result.error ? { error: clean.result.error } : {}),
        clientTypes: noticeFindings(clean.client, [], '', clean.before.keyId).distinctTypes,
        opsNotices: opsFindings(clean.ops, []).distinct,
      };
      // The clean run itself must pass the checks it sets for the others.
      const cleanJudgement = await judge(scenario, clean, reference);
      if (cleanJudgement.violations.length > 0) throw new Error(`clean ${scenario.name} run breaks invariants: ${cleanJudgement.violations.join('; ')}`);
      references.set(scenario.name, reference);
      pointsByScenario.set(scenario.name, generatePoints(scenario.name, clean.result.calls, scenario.include));
    }
  });

  it('generates a point after every AWS call of every state the scenarios reach', () => {
    const points = [...pointsByScenario.values()].flat();
    expect(references.get('scheduled')).toMatchObject({ status: 'SUCCEEDED', clientTypes: ['key.rotated', 'key.expiring', 'key.retired'], opsNotices: [] });
    expect(references.get('emergency')).toMatchObject({ status: 'SUCCEEDED', clientTypes: ['key.emergency'] });
    expect(references.get('rollback')).toMatchObject({ status: 'FAILED', error: 'KeyVerificationFailed', clientTypes: [], opsNotices: ['rotation.failed:rolled-back:KeyVerificationFailed'] });
    expect(points.length).toBeGreaterThanOrEqual(MIN_POINTS);
    expect(points.filter((p) => p.mutating).length).toBeGreaterThanOrEqual(MIN_MUTATING_POINTS);
    // Every Lambda-backed state and every direct integration of the state machine that the scenarios run has points.
    const states = new Set(points.map((p) => p.state));
    for (const state of [S.VALIDATE_AND_LOCK, S.CREATE_SECRET, S.SET_SECRET, S.TEST_SECRET, S.FINISH_SECRET, S.NOTIFY_ROTATED, S.CHECK_USAGE, S.NOTIFY_EXPIRING, S.RETIRE_OLD_KEY, S.NOTIFY_RETIRED, S.RELEASE_LOCK, S.ROLLBACK, S.NOTIFY_OPS_FAILURE, S.RELEASE_LOCK_AFTER_FAILURE]) {
      expect(states).toContain(state);
    }
    // Every kind of side effect is among them.
    const mutating = new Set(points.filter((p) => p.mutating).map((p) => p.call));
    for (const call of ['SecretsManager:PutSecretValue', 'SecretsManager:UpdateSecretVersionStage', 'DynamoDB:UpdateItem', 'DynamoDB:TransactWriteItems', 'SNS:Publish']) expect(mutating).toContain(call);
    expect(isReadOnly('GetItem') && !isReadOnly('TransactWriteItems')).toBe(true);
  });

  it('converges after a crash at every point, with every invariant held', async () => {
    const started = Date.now();
    const outcomes: PointOutcome[] = [];
    for (const scenario of SCENARIOS) {
      const points = pointsByScenario.get(scenario.name)!;
      const reference = references.get(scenario.name)!;
      const ran = await inPool(points.filter((p) => p.sameWorldAs === undefined), scenario.usesClock ? 1 : PARALLEL_RUNS, (p) => runPoint(scenario, p, reference));
      const byCall = new Map(ran.map((o) => [`${o.point.state}#${o.point.afterCall}`, o]));
      for (const point of points) {
        const own = byCall.get(`${point.state}#${point.afterCall}`);
        const representative = own ?? byCall.get(`${point.state}#${point.sameWorldAs}`);
        outcomes.push(
          own ?? {
            point,
            executed: false,
            covered: representative?.covered ?? false,
            status: `same world as ${point.state}#${point.sameWorldAs}`,
            violations: representative ? [...representative.violations] : [`no run of ${point.state}#${point.sameWorldAs}`],
            notes: [],
            durationMs: 0,
          },
        );
      }
    }
    const report = buildReport(outcomes, Date.now() - started);
    writeReport(REPORT_PATH, report);
    process.stdout.write(`${summaryLine(report)}\n`);
    const problems = outcomes.filter((o) => !o.covered || o.violations.length > 0).map((o) => `${o.point.scenario} ${o.point.state}#${o.point.afterCall} ${o.point.call}: ${o.violations.join('; ')}`);
    expect(problems).toEqual([]);
    expect(report.covered).toBe(report.total);
    // Every mutating point ran its own crashed execution.
    expect(outcomes.filter((o) => o.point.mutating && !o.executed)).toEqual([]);
  }, 600_000); // ~45 executions: about a minute on an idle 2-core machine, much longer on a loaded one

  it('leaks no plaintext key under crashes: state I/O, events, logs, crash errors, notices, table', async () => {
    await tap.addStore(deps);
    const stats = tap.expectNoPlaintext({
      minRecords: 2000,
      kinds: [SourceKind.STATE_INPUT, SourceKind.STATE_OUTPUT, SourceKind.EXECUTION_EVENT, SourceKind.LOG, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM, SourceKind.ERROR],
    });
    expect(stats.keys).toBeGreaterThan(50);
  });

  it('catches a planted fault: a crash that Step Functions does not retry', async () => {
    // The same points of RetireOldKey, but the crash surfaces under a name no Retry matches:
    // the state is never run again, the execution takes its Catch. The judge must flag it.
    const scenario = SCENARIOS[0]!;
    const points = pointsByScenario.get(scenario.name)!.filter((p) => p.state === S.RETIRE_OLD_KEY && p.mutating);
    expect(points.length).toBeGreaterThan(0);
    const outcomes = [];
    for (const point of points) outcomes.push(await runPoint(scenario, point, references.get(scenario.name)!, { ...point, error: 'Planted.NotRetried' }));
    for (const o of outcomes) expect(o.covered).toBe(false);
    // Beyond the failed execution, the state itself is broken: AWSPREVIOUS gone while the table still points at it.
    const labelsAndTable = outcomes.flatMap((o) => o.violations).filter((v) => v.startsWith('AWSPREVIOUS on'));
    expect(labelsAndTable.length).toBeGreaterThan(0);
  });

  it('tells an at-least-once duplicate from a misleading one', () => {
    const notice = (extra: Record<string, unknown>) => ({
      message: JSON.stringify({ eventId: 'r1:key.rotated', eventType: 'key.rotated', clientId: 'c', rotationId: 'r1', currentKeyId: 'k2', previousKeyId: 'k1', ...extra }),
      attributes: { clientId: 'c', eventType: 'key.rotated' },
    });
    const exact = noticeFindings([notice({}), notice({})], ['key.rotated'], 'k2', 'k1');
    expect(exact.violations).toEqual([]);
    expect(exact.notes).toEqual(['duplicate of r1:key.rotated (at-least-once)']);
    // Sent again later (an operator's re-run): the time differs, nothing a client acts on does.
    expect(noticeFindings([notice({ occurredAt: '2026-01-01T00:00:00.000Z' }), notice({ occurredAt: '2026-01-01T00:05:00.000Z' })], ['key.rotated'], 'k2', 'k1').violations).toEqual([]);
    const contradicting = noticeFindings([notice({}), notice({ previousKeyNotAfter: '2026-01-01T00:00:00.000Z' })], ['key.rotated'], 'k2', 'k1');
    expect(contradicting.violations).toEqual(['two different notices under eventId r1:key.rotated']);
    expect(noticeFindings([notice({ currentKeyId: 'k3' })], ['key.rotated'], 'k2', 'k1').violations).toEqual(['r1:key.rotated names k3 as current, but k2 is']);
  });
});
