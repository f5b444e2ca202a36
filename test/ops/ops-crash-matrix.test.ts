/**
 * Crash matrix of the operator API (second table of issue 7's matrix): onboardClient,
 * offboardClient, revokeKey and rollbackLastRotation each crash right after each AWS call they
 * make (points generated from a clean run, as in test/workflow/crash-matrix.test.ts), then the
 * operator runs the same request again. The re-run must succeed and leave what a clean run
 * leaves: labels and table agree, the right keys live, locks and schedules as they should be,
 * and the client told what a clean run tells it. Writes .cache/crash-matrix/ops-crash-matrix-report.json.
 */
import { join } from 'node:path';
import { SNSClient } from '@aws-sdk/client-sns';
import { KeyState } from '../../lambdas/core/key-state';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { createOpsDeps, offboardClient, onboardClient, revokeKey, rollbackLastRotation, type OpsDeps } from '../../operator/ops';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { newRotationId } from '../support/fixtures';
import { observeCalls, recordCallsOf, type AwsCall, type CallObserver } from '../support/call-recorder';
import { buildReport, generatePoints, summaryLine, writeReport, type MatrixPoint, type PointOutcome } from '../support/crash-matrix';
import { labelsAndTableViolations, noticeFindings, type Published } from '../support/crash-invariants';
import { rotationRequest } from '../support/step-helpers';
import type { StateCall } from '../support/workflow';
import { makeOpsWorld, onboarding, scheduler, sfn, type OpsWorld } from './ops-fixtures';

jest.setTimeout(180_000);

const REPORT_PATH = join(__dirname, '..', '..', '.cache', 'crash-matrix', 'ops-crash-matrix-report.json');
const PARALLEL_RUNS = 4;
const actor = { requestedBy: 'sec-oncall', reason: 'crash matrix' };

let w: OpsWorld;
let ops: OpsDeps;

beforeAll(async () => {
  w = await makeOpsWorld();
  // The operator API's own clients, every one recorded (the fixture's SNS client is private to it).
  const sns = new SNSClient({});
  ops = createOpsDeps({ dynamoDb: dynamoDbClient(), secretsManager: secretsManagerClient(), scheduler, stepFunctions: sfn, sns }, w.outputs, { clock: w.clock });
  recordCallsOf(dynamoDbClient(), secretsManagerClient(), scheduler, sfn, sns);
});

/** A client as an operation finds it. */
interface Subject {
  readonly clientId: string;
  /** The first key (current before any rotation). */
  readonly firstKeyId: string;
  readonly firstVersionId: string;
  /** The rotation in its overlap, when the setup made one. */
  readonly rotationId?: string;
  readonly secondKeyId?: string;
}

/** An operation of the table: how to set up its subject, run it, and what must hold after. */
interface Operation {
  readonly name: string;
  readonly setup: () => Promise<Subject>;
  readonly run: (subject: Subject) => Promise<unknown>;
  readonly check: (subject: Subject) => Promise<string[]>;
}

/** A client onboarded with a finished rotation in its overlap (execution RUNNING in moto, lock held). */
async function inOverlap(): Promise<Subject> {
  const { client } = await onboardClient(ops, onboarding());
  const rotationId = newRotationId();
  await w.startExecution(rotationId, client.clientId, 'manual');
  const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, 'manual', { overlapSeconds: 3600 }), rotationId });
  await createSecret(w.steps, context);
  await setSecret(w.steps, context);
  await testSecret(w.steps, context);
  await finishSecret(w.steps, context);
  w.clock.advance((DEFAULT_ZOMBIE_WINDOW_SECONDS + 1) * 1000); // a rollback waits out the zombie window after the finish
  const after = await ops.keys.requireClient(client.clientId);
  return { clientId: client.clientId, firstKeyId: client.currentKeyId, firstVersionId: client.currentVersionId, rotationId, secondKeyId: after.currentKeyId };
}

async function keyStates(clientId: string): Promise<Record<string, string>> {
  const keys = await ops.keys.listClientKeys(clientId);
  const fresh = await Promise.all(keys.map(async (k) => (await ops.keys.getKey(k.keyHash)) ?? k));
  return Object.fromEntries(fresh.map((k) => [k.keyId, k.state]));
}

function expectStates(actual: Record<string, string>, expected: Record<string, string>): string[] {
  return JSON.stringify(actual, Object.keys(actual).sort()) === JSON.stringify(expected, Object.keys(expected).sort()) ? [] : [`keys ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`];
}

const OPERATIONS: readonly Operation[] = [
  {
    name: 'onboardClient',
    setup: async () => ({ clientId: onboarding().clientId, firstKeyId: '', firstVersionId: '' }),
    run: (s) => onboardClient(ops, onboarding({ clientId: s.clientId })),
    check: async (s) => {
      const v = await labelsAndTableViolations(ops, s.clientId);
      const client = await ops.keys.requireClient(s.clientId);
      if (!client.policy) v.push('no policy on the client');
      if (!(await ops.schedules.get(s.clientId))) v.push('no schedule');
      return [...v, ...expectStates(await keyStates(s.clientId), { [client.currentKeyId]: KeyState.ACTIVE })];
    },
  },
  {
    name: 'offboardClient',
    setup: inOverlap,
    run: (s) => offboardClient(ops, { clientId: s.clientId, ...actor }),
    check: async (s) => {
      const v: string[] = [];
      const client = await ops.keys.requireClient(s.clientId);
      if (!client.offboardedAt) v.push('not marked offboarded');
      if (client.lock) v.push(`lock still held by ${client.lock.rotationId}`);
      if (await ops.schedules.get(s.clientId)) v.push('schedule left');
      if ((await w.executionStatus(s.rotationId!)) === 'RUNNING') v.push('the rotation in its overlap is still running');
      return [...v, ...expectStates(await keyStates(s.clientId), { [s.firstKeyId]: KeyState.REVOKED, [s.secondKeyId!]: KeyState.REVOKED })];
    },
  },
  {
    name: 'revokeKey',
    setup: inOverlap,
    run: (s) => revokeKey(ops, { clientId: s.clientId, keyId: s.firstKeyId, ...actor }),
    check: async (s) => {
      // The overlap's labels and pointers stay (retirement tidies them); only the key is dead.
      const v = await labelsAndTableViolations(ops, s.clientId, s.rotationId);
      return [...v.filter((x) => !x.startsWith('lock still held')), ...expectStates(await keyStates(s.clientId), { [s.firstKeyId]: KeyState.REVOKED, [s.secondKeyId!]: KeyState.ACTIVE })];
    },
  },
  {
    name: 'rollbackLastRotation',
    setup: inOverlap,
    run: (s) => rollbackLastRotation(ops, { clientId: s.clientId, ...actor }),
    check: async (s) => {
      const v = await labelsAndTableViolations(ops, s.clientId, s.firstVersionId);
      if ((await w.executionStatus(s.rotationId!)) === 'RUNNING') v.push('the rolled-back rotation is still running');
      return [...v, ...expectStates(await keyStates(s.clientId), { [s.firstKeyId]: KeyState.ACTIVE, [s.secondKeyId!]: KeyState.REVOKED })];
    },
  },
];

/** Client notices by client id; drains run one at a time (see the workflow matrix). */
const inbox = (() => {
  const byClient = new Map<string, Published[]>();
  let draining: Promise<unknown> = Promise.resolve();
  return async (clientId: string): Promise<Published[]> => {
    const drained = draining.then(async () => {
      for (const m of await w.clientTopic.drain()) byClient.set(m.attributes.clientId ?? '', [...(byClient.get(m.attributes.clientId ?? '') ?? []), m]);
    });
    draining = drained.catch(() => undefined);
    await drained;
    const mine = byClient.get(clientId) ?? [];
    byClient.delete(clientId);
    return mine;
  };
})();

class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** One trial: set up, run the operation (crashing after call `afterCall` if given), run it again after a crash, judge. */
async function trial(op: Operation, afterCall?: number) {
  const subject = await op.setup();
  await inbox(subject.clientId); // the setup's own notices are not the operation's
  const calls: StateCall[] = [];
  let count = 0;
  let crash: SimulatedCrash | undefined;
  let fired: AwsCall | undefined;
  const observer: CallObserver = Object.assign(
    (call: AwsCall) => {
      calls.push({ state: op.name, attempt: 1, ...call });
      // Failed calls count too (generatePoints numbers them): a crash after one replaces the error the operation would have handled.
      if (++count === afterCall) {
        fired = call;
        throw (crash = new SimulatedCrash(`crash of ${op.name} after ${call.service}:${call.command}`));
      }
    },
    {
      // The crashed process is gone: code that caught the crash (a catch-all re-read) cannot call AWS again.
      admit: () => {
        if (crash) throw crash;
      },
    },
  );
  const first = await observeCalls(observer, () =>
    op.run(subject).then(
      () => undefined,
      (error: unknown) => error,
    ),
  );
  const rerun = crash
    ? await op.run(subject).then(
        () => undefined,
        (error: unknown) => error,
      )
    : undefined;
  const violations: string[] = [];
  if (afterCall !== undefined && first !== crash) violations.push(first ? `the operation failed with ${(first as Error).name} instead of the crash` : 'the crash never fired');
  if (afterCall === undefined && first) violations.push(`the clean run failed: ${(first as Error).name}: ${(first as Error).message}`);
  if (rerun) violations.push(`the re-run failed: ${(rerun as Error).name}: ${(rerun as Error).message}`);
  violations.push(...(await op.check(subject)));
  const notices = await inbox(subject.clientId);
  return { subject, calls, fired, violations, notices };
}

const references = new Map<string, { types: string[]; points: MatrixPoint[] }>();

describe('the operator API crash matrix', () => {
  beforeAll(async () => {
    for (const op of OPERATIONS) {
      const clean = await trial(op);
      if (clean.violations.length) throw new Error(`clean ${op.name} breaks invariants: ${clean.violations.join('; ')}`);
      const types = noticeFindings(clean.notices, [], '').distinctTypes;
      references.set(op.name, { types, points: generatePoints(op.name, clean.calls) });
    }
  });

  it('has points for every operation and every kind of side effect', () => {
    const points = [...references.values()].flatMap((r) => r.points);
    for (const op of OPERATIONS) expect(references.get(op.name)!.points.filter((p) => p.mutating).length).toBeGreaterThan(0);
    const mutating = new Set(points.filter((p) => p.mutating).map((p) => p.call));
    for (const call of [
      'SecretsManager:CreateSecret',
      'SecretsManager:UpdateSecretVersionStage',
      'DynamoDB:TransactWriteItems',
      'DynamoDB:UpdateItem',
      'Scheduler:CreateSchedule',
      'Scheduler:DeleteSchedule',
      'SFN:StopExecution',
      'SNS:Publish',
    ]) {
      expect(mutating).toContain(call);
    }
    expect(references.get('revokeKey')!.types).toEqual(['key.emergency']);
    expect(references.get('rollbackLastRotation')!.types).toEqual(['key.emergency']);
  });

  it('converges when the operator re-runs an operation that crashed after any AWS call', async () => {
    const started = Date.now();
    const outcomes: PointOutcome[] = [];
    for (const op of OPERATIONS) {
      const { types, points } = references.get(op.name)!;
      const ran = await Promise.all(
        chunk(
          points.filter((p) => p.sameWorldAs === undefined),
          PARALLEL_RUNS,
        ).map(async (batch) => {
          const out: PointOutcome[] = [];
          for (const point of batch) {
            const t0 = Date.now();
            const result = await trial(op, point.afterCall);
            const client = await ops.keys.requireClient(result.subject.clientId);
            const notices = noticeFindings(result.notices, types, client.currentKeyId);
            const violations = [...result.violations, ...notices.violations];
            const covered = result.fired !== undefined && `${result.fired.service}:${result.fired.command}` === point.call;
            out.push({ point, covered, executed: true, status: covered ? 'crashed, re-run' : 'crash did not fire', violations, notes: notices.notes, durationMs: Date.now() - t0 });
          }
          return out;
        }),
      );
      const byCall = new Map(ran.flat().map((o) => [o.point.afterCall, o]));
      for (const point of points) {
        const own = byCall.get(point.afterCall);
        const rep = byCall.get(point.sameWorldAs ?? -1);
        outcomes.push(
          own ?? {
            point,
            executed: false,
            covered: rep?.covered ?? false,
            status: `same world as #${point.sameWorldAs}`,
            violations: rep ? [...rep.violations] : ['no representative run'],
            notes: [],
            durationMs: 0,
          },
        );
      }
    }
    const report = buildReport(outcomes, Date.now() - started);
    writeReport(REPORT_PATH, report);
    process.stdout.write(`ops ${summaryLine(report)}\n`);
    const problems = outcomes.filter((o) => !o.covered || o.violations.length > 0).map((o) => `${o.point.state}#${o.point.afterCall} ${o.point.call}: ${o.violations.join('; ')}`);
    expect(problems).toEqual([]);
  });
});

/** Splits `items` round-robin into `n` lists (one per concurrent worker). */
function chunk<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = Array.from({ length: n }, () => []);
  items.forEach((item, i) => out[i % n].push(item));
  return out.filter((c) => c.length > 0);
}
