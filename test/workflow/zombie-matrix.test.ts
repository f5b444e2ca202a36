/**
 * Zombie matrix (docs/design.md invariants 7 and 8): StopExecution stops an execution
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html), not
 * the Lambda invocation already running (the page promises nothing about it; issue 15 observed
 * it), and an SDK retry can land a write seconds later. A late label move is refused as AWS
 * documents when RemoveFromVersionId is not the version the label is on
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html);
 * moto enforces that, but attaches a label other than AWSCURRENT a second time when
 * RemoveFromVersionId is left out, which AWS refuses.
 * For every Secrets Manager and DynamoDB write of every Lambda step of a victim rotation R1,
 * a run of the synthesized state machine (real handlers, moto) in which R1's state is about
 * to send that write, the write is held back, and meanwhile an interferer runs to its end
 * through the full state machine:
 *   - `emergency`: an emergency rotation E of the same client (it preempts and stops R1);
 *   - `emergency-midway`: the same E, but the write lands while E is half-way: after E's
 *     ValidateAndLock (its takeover and the undo of R1), before its CreateSecret (issue 15's
 *     first reproduction: E's undo read the labels before R1's label move landed);
 *   - `emergency+kill+emergency`: E, then the kill switch on the key that was current when E
 *     started, then a second emergency E2;
 *   - `operator-rollback` (victims in their overlap only): rollbackLastRotation of R1; a
 *     refusal is recorded, not judged.
 * Then the write is released, R1's zombie handler runs to its end, and the client's end state
 * is checked (test/support/zombie-invariants.ts). The sites are generated from clean runs of
 * the victims, so a write added to a handler adds its points without touching this file.
 * Writes .cache/zombie-matrix/zombie-matrix-report.json and logs a one-line summary.
 */
import { join } from 'node:path';
import { UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { ClientNotifier } from '../../lambdas/aws/client-notifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { revokeKey, rollbackLastRotation, type OpsDeps } from '../../operator/ops';
import { Stage } from '../../lambdas/aws/secret-store';
import { KeyVerificationFailedError } from '../../lambdas/core/errors';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { RotationStates } from '../../lib/rotation-definition';
import { taskStates } from '../../local/synthesized-workflow';
import { isStoreWrite } from '../support/call-recorder';
import { inPool, writeReport } from '../support/crash-matrix';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { LocalRotationExecutions } from '../support/local-executions';
import { ScopedClock } from '../support/scoped-clock';
import { SourceKind } from '../support/secret-tap';
import { gateBefore, type Gate } from '../support/gates';
import { Tap, type RunResult, type StateCall, type SynthesizedWorkflow, type WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';
import { buildZombieReport, generateSites, zombieSummaryLine, type ExcludedCall, type ZombieOutcome, type ZombiePoint, type ZombieSite } from '../support/zombie-matrix';
import { checkOf, zombieEndStateViolations, type Incident } from '../support/zombie-invariants';

jest.setTimeout(180_000);

const HOUR = 3600;
const S = RotationStates;
const REPORT_PATH = join(__dirname, '..', '..', '.cache', 'zombie-matrix', 'zombie-matrix-report.json');
/** Fewer than these means the generator lost writes (today: 17 held writes, 54 points). */
const MIN_SITES = 14;
const MIN_POINTS = 45;
/** Points run this many at a time, each on its own client and its own timeline of the clock (6: moto and node both stay busy; 4 left them idle half the time). */
const PARALLEL_RUNS = 6;

/** A victim rotation: its request, and the states whose writes are held. */
interface Victim {
  readonly name: string;
  readonly input: (clientId: string) => Record<string, unknown>;
  readonly emergency: boolean;
  readonly failStep?: { state: string; error: Error };
  /** The client keeps calling with its old key at the usage checks (one extension: a write in CheckPreviousKeyUsage). */
  readonly laggingClient?: boolean;
  readonly include: (state: string) => boolean;
}

const request = (clientId: string, extra: Record<string, unknown>) => ({ clientId, reason: 'zombie matrix', requestedBy: 'zombie-matrix', ...extra });
const emergencyRequest = (clientId: string) => ({ clientId, mode: 'emergency', reason: 'key leaked in a public repo', requestedBy: 'sec-oncall' });
const SCHEDULED_STATES = new Set<string>([S.VALIDATE_AND_LOCK, S.CREATE_SECRET, S.SET_SECRET, S.TEST_SECRET, S.FINISH_SECRET, S.CHECK_USAGE, S.RETIRE_OLD_KEY]);
/** States in which R1 has finished and is in its overlap: the operator rollback applies. */
const OVERLAP_STATES = new Set<string>([S.CHECK_USAGE, S.RETIRE_OLD_KEY]);
/** An emergency runs the scheduled path's code (and writes) except in finishSecret (see the crash matrix's EMERGENCY_PATH). */
const EMERGENCY_STATES = new Set<string>([S.FINISH_SECRET]);

const VICTIMS: readonly Victim[] = [
  // Scheduled, 2 h overlap, a client still on the old key near its not-after: every state of the normal path.
  { name: 'scheduled', input: (id) => request(id, { mode: 'scheduled', overlapSeconds: 2 * HOUR }), emergency: false, laggingClient: true, include: (s) => SCHEDULED_STATES.has(s) },
  // testSecret refuses the new key: the writes of the Rollback step (the states before it are the scheduled victim's).
  {
    name: 'rollback',
    input: (id) => request(id, { mode: 'scheduled', overlapSeconds: 2 * HOUR }),
    emergency: false,
    failStep: { state: S.TEST_SECRET, error: new KeyVerificationFailedError('pending', 'simulated rejection') },
    include: (s) => s === S.ROLLBACK,
  },
  // An emergency preempted by a second emergency: the writes of its own finishSecret.
  { name: 'emergency', input: (id) => request(id, { mode: 'emergency' }), emergency: true, include: (s) => EMERGENCY_STATES.has(s) },
];

const INTERFERERS = ['emergency', 'emergency-midway', 'emergency+kill+emergency', 'operator-rollback'] as const;
type Interferer = (typeof INTERFERERS)[number];
const appliesTo = (interferer: Interferer, site: ZombieSite) => interferer !== 'operator-rollback' || (site.victim === 'scheduled' && OVERLAP_STATES.has(site.state));

const clock = new ScopedClock(Date.parse('2026-11-28T10:00:00Z'));
const executions = new LocalRotationExecutions();
const tap = new Tap();
let deps: Awaited<ReturnType<typeof makeTestDeps>> & { executions: LocalRotationExecutions };
let workflow: SynthesizedWorkflow;
let runner: WorkflowRunner;
let ops: OpsDeps;
let verifier: KeyVerifier;
let usage: UsageRecorder;
let topics: RecordedTopic[];

beforeAll(async () => {
  const world = await setUpWorkflow({ clock, executions, tap, tapTopics: true });
  ({ deps, workflow, runner } = world);
  topics = [world.clientTopic, world.opsTopic];
  // The kill switch and the operator rollback need the table, the secrets, the clock, the executions and the client topic.
  ops = {
    keys: deps.keys,
    secrets: deps.secrets,
    clock,
    executions,
    settings: { zombieWindowSeconds: deps.settings.zombieWindowSeconds },
    notifier: new ClientNotifier(new SNSClient({}), topics[0].topicArn),
  } as unknown as OpsDeps;
  verifier = new KeyVerifier({ lookup: (hash) => deps.keys.getKey(hash), clock, keyPrefix: deps.settings.keyPrefix, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  usage = new UsageRecorder(deps.keys, clock, 60_000);
});

afterAll(() => executions.uninstall());

/** The Lambda-backed states of the state machine (the direct integrations are the others). */
const lambdaStates = () => new Set([...taskStates(workflow)].filter(([, resource]) => workflow.functionArnToStep.has(resource)).map(([name]) => name));

/** A `beforeTask` that makes the client call with its old key at the usage checks before its first not-after. */
function laggingClient(clientId: string, apiKey: string) {
  return async (state: string) => {
    if (state !== S.CHECK_USAGE) return;
    const firstNotAfter = (await deps.keys.requireClient(clientId)).lastRotation?.previousKeyNotAfter;
    if (firstNotAfter && clock.nowMs() < Date.parse(firstNotAfter)) {
      const verdict = await verifier.verify(apiKey);
      if (verdict.accepted) await usage.record(verdict.keyHash);
    }
  };
}

/** A fresh client and its current plaintext key. */
async function newClient() {
  const registered = await registerTestClient(deps);
  const apiKey = (await deps.secrets.readStage(registered.secretId, Stage.CURRENT))!.value.apiKey;
  return { ...registered, apiKey };
}

const keyHashesOf = async (clientId: string) => (await deps.keys.listClientKeys(clientId)).map((k) => k.keyHash);
const described = (error: unknown) => `${(error as Error).name}: ${(error as Error).message}`;

/**
 * Runs the interferer to its end, calling `land` (release the held write and let the zombie
 * finish) where the column says (the caller calls it after, for the others); returns what
 * ran, for the incident checks.
 */
async function interfere(interferer: Interferer, clientId: string, log: string[], violations: string[], preIncident: string[] | undefined, land: () => Promise<unknown>): Promise<Incident | undefined> {
  if (interferer === 'operator-rollback') {
    try {
      const result = await rollbackLastRotation(ops, { clientId, requestedBy: 'alice@example.com', reason: 'the new key breaks the partner' });
      log.push(`rollback ${result.outcome} (execution ${result.execution})`);
    } catch (error) {
      const name = (error as Error).name;
      // A refusal is an answer; anything else is the rollback breaking.
      if (name === 'RollbackNotPossible' || name === 'RotationInProgress') log.push(`rollback refused: ${described(error)}`);
      else {
        log.push(`rollback failed: ${described(error)}`);
        violations.push(`rollback-run: the operator rollback failed with ${described(error)}`);
      }
    }
    return undefined;
  }
  const before = await deps.keys.requireClient(clientId);
  const incidentKeys = preIncident ?? (await keyHashesOf(clientId));
  const emergency = async (label: string, midway?: Gate) => {
    const rotationId = newRotationId();
    const running = runner.run({ input: emergencyRequest(clientId), rotationId, beforeTask: midway?.beforeTask });
    if (midway) {
      if ((await Promise.race([midway.reached.then(() => 'reached' as const), running.then(() => 'ended' as const)])) === 'reached') log.push(`${label} took over`);
      await land();
      log.push('the held write landed');
      midway.open();
    }
    const result = await running;
    log.push(`${label} ${result.status}${result.error ? ` (${result.error})` : ''}`);
    if (result.status !== 'SUCCEEDED') violations.push(`emergency-run: ${label} ended ${result.status} (${result.error}: ${result.cause})`);
    return rotationId;
  };
  let last = await emergency('E', interferer === 'emergency-midway' ? gateBefore(S.CREATE_SECRET) : undefined);
  if (interferer === 'emergency+kill+emergency') {
    try {
      const revoked = await revokeKey(ops, { clientId, keyId: before.currentKeyId, force: true, requestedBy: 'sec-oncall', reason: 'leaked key, kill switch' });
      log.push(`revoke-key ${revoked.outcome} (was ${revoked.previousState}${revoked.wasCurrent ? ', current' : ''})`);
    } catch (error) {
      log.push(`revoke-key failed: ${described(error)}`);
      violations.push(`kill-switch-run: revokeKey failed with ${described(error)}`);
    }
    last = await emergency('E2');
  }
  return { lastEmergencyRotationId: last, preIncidentKeyHashes: incidentKeys };
}

/** Holds the victim's write at `point`, runs the interferer, releases the write, lets the zombie finish, and judges. */
function runPoint(victim: Victim, point: ZombiePoint): Promise<ZombieOutcome> {
  return clock.run(async () => {
    const started = Date.now();
    const client = await newClient();
    // For an emergency victim the incident began with the victim itself.
    const preIncident = victim.emergency ? await keyHashesOf(client.clientId) : undefined;
    const victimId = newRotationId();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    const run = runner.run({
      input: victim.input(client.clientId),
      rotationId: victimId,
      failStep: victim.failStep,
      beforeTask: victim.laggingClient ? laggingClient(client.clientId, client.apiKey) : undefined,
      hold: {
        state: point.state,
        beforeWrite: point.beforeWrite,
        onHold: () => {
          reached();
          return released;
        },
      },
    });
    const violations: string[] = [];
    const log: string[] = [];
    // Releases the held write and waits for the victim: its execution's end, or (stopped) its zombie's.
    let landing: Promise<{ result: RunResult; calls: StateCall[] }> | undefined;
    const land = () =>
      (landing ??= (async () => {
        release();
        const result = await run;
        return { result, calls: (await runner.settled(victimId))?.calls ?? result.calls };
      })());
    const first = await Promise.race([held.then(() => 'held' as const), run.then(() => 'ended' as const)]);
    let incident: Incident | undefined;
    if (first === 'held') incident = await interfere(point.interferer as Interferer, client.clientId, log, violations, preIncident, land);
    const { result, calls } = await land();
    // Not stopped and finished: its lock request landed after the emergencies had released the lock,
    // so it rotated after the incident (allowed); its key is the one that must be current.
    if (incident && !result.aborted && result.status === 'SUCCEEDED') incident = { ...incident, supersededBy: victimId };
    const heldCall = calls.filter((c) => c.state === point.state && isStoreWrite(c))[point.beforeWrite - 1];
    const covered = first === 'held' && heldCall !== undefined;
    if (first !== 'held') violations.push(`coverage: the victim ended ${result.status} before write ${point.beforeWrite} of ${point.state} (the run diverged from the clean run)`);
    else if (!heldCall) violations.push(`coverage: the held ${point.call} was never sent`);
    violations.push(...(await zombieEndStateViolations(deps, client.clientId, incident)));
    return {
      point,
      covered,
      victimStatus: result.aborted ? 'ABORTED' : `${result.status}${result.error ? `:${result.error}` : ''}`,
      ...(heldCall ? { heldWrite: heldCall.ok ? ('landed' as const) : ('refused' as const) } : {}),
      interference: log,
      violations,
      durationMs: Date.now() - started,
    };
  });
}

const sitesByVictim = new Map<string, ZombieSite[]>();
const excluded: ExcludedCall[] = [];

describe('the zombie matrix', () => {
  beforeAll(async () => {
    const lambdas = lambdaStates();
    for (const victim of VICTIMS) {
      const clean = await clock.run(async () => {
        const client = await newClient();
        const result = await runner.run({
          input: victim.input(client.clientId),
          rotationId: newRotationId(),
          failStep: victim.failStep,
          beforeTask: victim.laggingClient ? laggingClient(client.clientId, client.apiKey) : undefined,
        });
        // The clean run must itself end clean, or its sites mean nothing.
        const v = await zombieEndStateViolations(deps, client.clientId);
        if (v.length > 0) throw new Error(`clean ${victim.name} run breaks the end state: ${v.join('; ')}`);
        return result;
      });
      const expected = victim.failStep ? 'FAILED' : 'SUCCEEDED';
      if (clean.status !== expected) throw new Error(`clean ${victim.name} run ended ${clean.status} (${clean.error}), expected ${expected}`);
      const generated = generateSites(victim.name, clean.calls, lambdas, victim.include);
      sitesByVictim.set(victim.name, generated.sites);
      excluded.push(...generated.excluded);
    }
  });

  const points = (): { victim: Victim; point: ZombiePoint }[] =>
    VICTIMS.flatMap((victim) => sitesByVictim.get(victim.name)!.flatMap((site) => INTERFERERS.filter((i) => appliesTo(i, site)).map((interferer) => ({ victim, point: { ...site, interferer } }))));

  it('generates a point for every store write of every Lambda step of the victims', () => {
    const sites = [...sitesByVictim.values()].flat();
    expect(sites.length).toBeGreaterThanOrEqual(MIN_SITES);
    expect(points().length).toBeGreaterThanOrEqual(MIN_POINTS);
    const statesOf = (victim: string) => new Set(sitesByVictim.get(victim)!.map((s) => s.state));
    for (const state of SCHEDULED_STATES) if (state !== S.TEST_SECRET) expect(statesOf('scheduled')).toContain(state);
    expect(statesOf('rollback')).toEqual(new Set([S.ROLLBACK]));
    expect(statesOf('emergency')).toEqual(new Set([S.FINISH_SECRET]));
    // Every kind of store write is held somewhere.
    const calls = new Set(sites.map((s) => s.call));
    for (const call of ['SecretsManager:PutSecretValue', 'SecretsManager:UpdateSecretVersionStage', 'DynamoDB:UpdateItem', 'DynamoDB:TransactWriteItems']) expect(calls).toContain(call);
    // Reads, publishes and the direct integrations' writes are excluded, and counted.
    const reasons = new Set(excluded.map((e) => e.reason));
    for (const reason of ['read', 'publish', 'direct-integration', 'covered-by-another-victim']) expect(reasons).toContain(reason);
  });

  it('every held write lands after the interferers and changes nothing they promise', async () => {
    const started = Date.now();
    const outcomes = await inPool(points(), PARALLEL_RUNS, ({ victim, point }) => runPoint(victim, point));
    const report = buildZombieReport(outcomes, [...sitesByVictim.values()].flat().length, excluded, Date.now() - started);
    writeReport(REPORT_PATH, report);
    process.stdout.write(`${zombieSummaryLine(report)}\n`);
    const problems = outcomes
      .filter((o) => !o.covered || o.violations.length > 0)
      .map((o) => `${o.point.victim} ${o.point.state}#${o.point.beforeWrite} ${o.point.call} vs ${o.point.interferer} [${o.interference.join(', ')}]: ${o.violations.join('; ')}`);
    expect(problems).toEqual([]);
    expect(report.covered).toBe(report.total);
  }, 600_000);

  it('catches a planted zombie: labels moved behind the table, a stray AWSPENDING, a foreign label (a fence label is ignored)', async () => {
    await clock.run(async () => {
      const client = await newClient();
      const emergencyId = newRotationId();
      expect((await runner.run({ input: emergencyRequest(client.clientId), rotationId: emergencyId })).status).toBe('SUCCEEDED');
      const incident = { lastEmergencyRotationId: emergencyId, preIncidentKeyHashes: [client.currentKeyHash] };
      expect(await zombieEndStateViolations(deps, client.clientId, incident)).toEqual([]);
      // What a late label move of a stopped step would do: AWSCURRENT back on the revoked pre-incident version.
      const sm = secretsManagerClient();
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: client.secretId, VersionStage: Stage.CURRENT, MoveToVersionId: client.currentVersionId, RemoveFromVersionId: emergencyId }));
      // AWSPENDING rests on the emergency's version (where the finish left it): a late move takes it off.
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: client.secretId, VersionStage: Stage.PENDING, MoveToVersionId: client.currentVersionId, RemoveFromVersionId: emergencyId }));
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: client.secretId, VersionStage: 'ZOMBIE', MoveToVersionId: emergencyId }));
      await sm.send(new UpdateSecretVersionStageCommand({ SecretId: client.secretId, VersionStage: 'KEYROLL_FENCE', MoveToVersionId: emergencyId }));
      const checks = (await zombieEndStateViolations(deps, client.clientId, incident)).map(checkOf);
      expect(checks).toEqual(['labels-table', 'labels-table', 'pending-label', 'foreign-label', 'current-value']);
    });
  });

  it('leaks no plaintext key under zombies: state I/O, events, logs, errors, notices, table', async () => {
    for (const topic of topics) await topic.drain();
    await tap.addStore(deps);
    const stats = tap.expectNoPlaintext({
      minRecords: 2000,
      kinds: [SourceKind.STATE_INPUT, SourceKind.STATE_OUTPUT, SourceKind.EXECUTION_EVENT, SourceKind.LOG, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM, SourceKind.ERROR],
    });
    expect(stats.keys).toBeGreaterThan(50);
  });
});
