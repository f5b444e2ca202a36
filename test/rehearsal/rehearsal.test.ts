/**
 * The rehearsal at a small size, on the tests' moto: real rotations (two of them emergencies),
 * the SDK-driven callers never fail, the caller that never updates does, and the report tells
 * the story (reminders, a retirement at the deadline, old-key use fading). With the consumers
 * KeyRoll delivers to: one outside AWS (pickup + webhook) and one in a second account (its
 * secret through the account boundary, notices on its own queue).
 */
import { resolveRehearsalOptions, InvalidRehearsalOptionsError } from '../../local/rehearsal/options';
import { renderSummary, renderSvg, sparkline, type RehearsalReport } from '../../local/rehearsal/report';
import * as provision from '../../local/rehearsal/provision';
import { planCallers, runRehearsal } from '../../local/rehearsal/rehearsal';
import { registerIamWorld } from '../support/iam-guard';
import { captureStdio, SecretTap, SourceKind } from '../support/secret-tap';
import { tapRehearsalTraffic, tapRehearsalStore } from './rehearsal-tap';

jest.setTimeout(240_000);

let report: RehearsalReport;
const progress: number[] = [];
const tap = new SecretTap();

beforeAll(async () => {
  // The rehearsal's resources stand in for the stack's: its rotations are judged against the template's IAM.
  const provisionStack = provision.provisionStack;
  jest.spyOn(provision, 'provisionStack').mockImplementation(async (...args) => {
    const resources = await provisionStack(...args);
    registerIamWorld(resources);
    return resources;
  });
  const options = resolveRehearsalOptions({ clients: 2, callers: 5, rotations: 2, emergency: true, seed: 7 });
  const untapTraffic = tapRehearsalTraffic(tap);
  const releaseStdio = captureStdio(tap, { passThrough: true });
  try {
    report = await runRehearsal(options, (p) => progress.push(p.simulatedMinutes));
  } finally {
    releaseStdio();
    untapTraffic();
  }
});

test('no plaintext key in what the rehearsal printed, published, answered, reported or stored (invariant 5)', async () => {
  tap.add('report.json', report, SourceKind.REPORT);
  tap.add('summary', renderSummary(report, 'out/timeline.svg'), SourceKind.REPORT);
  tap.add('timeline.svg', renderSvg(report), SourceKind.REPORT);
  await tapRehearsalStore(tap);
  const stats = tap.expectNoPlaintext({ minRecords: 1000, kinds: [SourceKind.SNS_MESSAGE, SourceKind.HTTP_BODY, SourceKind.DYNAMODB_ITEM, SourceKind.REPORT] });
  // Both clients' first keys and one new key per rotation, at least.
  expect(stats.keys).toBeGreaterThanOrEqual(2 + report.rotations.length);
});

test('every rotation succeeds, the last of the first client and of the pickup client in emergency mode', () => {
  expect(report.rotations).toHaveLength(8);
  expect(report.rotations.every((r) => r.status === 'SUCCEEDED')).toBe(true);
  expect(report.rotations.filter((r) => r.mode === 'emergency').map((r) => r.clientId)).toEqual(['tenant-01', 'outside-01']);
});

test('well-behaved callers (the SDK users) see no failure at all', () => {
  expect(report.wellBehavedFailures).toBe(0);
  expect(report.byBehaviour.prompt.failures).toBe(0);
  expect(report.byBehaviour.lagging.failures).toBe(0);
  expect(report.byBehaviour.prompt.requests).toBeGreaterThan(0);
  expect(report.byBehaviour.lagging.requests).toBeGreaterThan(0);
});

test('the caller that never updates is refused once its key is retired, and only as revoked or expired', () => {
  expect(report.byBehaviour.never.failures).toBeGreaterThan(0);
  expect(report.requests.failed).toBe(report.byBehaviour.never.failures);
  expect(Object.keys(report.failuresByReason).every((reason) => ['revoked', 'expired'].includes(reason))).toBe(true);
});

test('a still-used old key gets reminders and is retired at the hard deadline; an unused one right after the overlap', () => {
  expect(report.remindersSent).toBeGreaterThan(0);
  expect(report.retiredAtDeadline).toBeGreaterThanOrEqual(1);
  const quick = report.rotations.filter((r) => r.mode === 'scheduled' && r.reminders === 0);
  expect(quick.length).toBeGreaterThan(0);
  // Old-key use fades: by its last quarter-hour a quickly retired rotation sees none.
  for (const r of quick) expect(r.previousKeyUse.at(-1)).toBe(0);
});

test('requests are one per caller per simulated minute, and progress was reported along the way', () => {
  // 5 callers reading Secrets Manager, and the 2 delivered consumers.
  expect(report.requests.total).toBe(7 * (report.simulatedMinutes + 1));
  expect(progress.length).toBe(report.simulatedMinutes + 1);
  expect(report.timeline.reduce((sum, b) => sum + b.current + b.previous + b.failed, 0)).toBe(report.requests.total);
});

test('the summary and the SVG timeline render the figures', () => {
  const summary = renderSummary(report, 'out/timeline.svg');
  expect(summary).toContain('well-behaved failures 0 (as required)');
  expect(summary).toContain('chart: out/timeline.svg');
  const svg = renderSvg(report);
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg).toContain('tenant-01 (emergency)');
  expect(svg.match(/<rect /g)!.length).toBeGreaterThan(report.timeline.length);
});

describe('the consumers KeyRoll delivers to', () => {
  test('outside AWS and cross-account: requests on every tick, not one refused, the new key used after every rotation', () => {
    for (const kind of ['outside-aws', 'cross-account'] as const) {
      const figures = report.byBehaviour[kind];
      expect(figures).toMatchObject({ callers: 1, requests: report.simulatedMinutes + 1, failures: 0 });
      expect(figures.switchAfterMinutes).toHaveLength(2);
      expect(figures.switchAfterMinutes.every((m) => m !== null)).toBe(true);
    }
  });

  test('KeyRoll subscribed both endpoints and they were confirmed: each consumer heard its own rotations', () => {
    expect(report.noticesReceived['outside-aws-1']).toMatchObject({ 'key.rotated': 1, 'key.emergency': 1 });
    expect(report.noticesReceived['cross-account-1']).toMatchObject({ 'key.rotated': 2 });
  });

  test('after key.emergency the pickup consumer heard the notice, held the new key and used it, with no request refused', () => {
    const recovery = report.emergencyRecovery.find((e) => e.kind === 'outside-aws');
    expect(recovery).toMatchObject({ clientId: 'outside-01', failuresAfter: 0 });
    expect(recovery?.noticeAfterMs).toBeDefined();
    expect(recovery?.heldAfterMs).toBeDefined();
    expect(recovery?.usedAfterMs).toBeDefined();
  });

  test('the cross-account consumer read only through the account boundary, every read allowed', () => {
    expect(report.boundaryReads?.allowed).toBeGreaterThanOrEqual(3);
    expect(report.boundaryReads?.denied).toBe(0);
  });

  test('pickup latency comes from the pickups of the run and the probe after it, none refused', () => {
    expect(report.pickupLatency?.requests).toBeGreaterThanOrEqual(50 + 3);
    expect(report.pickupLatency?.failures).toBe(0);
    expect(report.pickupLatency!.p50Ms).toBeLessThanOrEqual(report.pickupLatency!.p99Ms);
  });
});

describe('options and helpers', () => {
  test('bad options get a named error', () => {
    expect(() => resolveRehearsalOptions({ clients: 0 })).toThrow(InvalidRehearsalOptionsError);
    expect(() => resolveRehearsalOptions({ rotations: 2, durationMinutes: 300 })).toThrow(/at least 420 for 2 rotations/);
    expect(() => resolveRehearsalOptions({ clients: 5, callers: 3 })).toThrow(/callers \(3\) must be at least clients \(5\)/);
  });

  test('the caller plan: one never-updating caller, the rest prompt or lagging, deterministic per seed', () => {
    const options = resolveRehearsalOptions({ callers: 6, clients: 2, seed: 3 });
    const plan = planCallers(options, ['a', 'b']);
    expect(plan.map((c) => c.behaviour)).toEqual(['prompt', 'lagging', 'prompt', 'lagging', 'prompt', 'never']);
    expect(planCallers(options, ['a', 'b'])).toEqual(plan);
  });

  test('sparkline scales to the maximum', () => {
    expect(sparkline([0, 1, 2, 4])).toBe(' ▂▄█');
  });
});
