/**
 * The fleet rehearsal: register many clients, then rotate them all with ONE fleet execution
 * (the synthesized fleet definition, run locally) while a proxy in front of moto enforces
 * Secrets Manager's write quota (50 writes/s, shared by PutSecretValue,
 * UpdateSecretVersionStage and UpdateSecret). It measures rotations per second against the
 * bound the quota sets (quota / writes per rotation) and checks that no rotation failed.
 * Emulated AWS must be reachable through AWS_ENDPOINT_URL (the CLI starts moto).
 */
import { randomUUID } from 'node:crypto';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { SecretStore } from '../../lambdas/aws/secret-store';
import { DEFAULT_FLEET_PAGE_SETTINGS } from '../../lambdas/aws/fleet/fleet-page-environment';
import { ManualClock } from '../../lambdas/core/clock';
import { DEFAULT_FLEET_WRITES_PER_SECOND, SECRETS_MANAGER_WRITES_PER_SECOND } from '../../lambdas/core/fleet';
import { logger } from '../../lambdas/handlers/runtime';
import type { StepDeps } from '../../lambdas/handlers/step-handlers';
import { FleetStates } from '../../lib/fleet-definition';
import { LocalFleetRunner } from '../local-fleet-runner';
import { peakRate, QuotaProxy, SECRETS_MANAGER_WRITE_QUOTA, type ProxyStats } from '../quota-proxy';
import { resolveFleetWorkflow, resolveWorkflow, synthesizeKeyRoll } from '../synthesized-workflow';
import { provisionClient, provisionStack } from './provision';

/** What a fleet rehearsal runs. */
export interface FleetRehearsalOptions {
  readonly clients: number;
  /** Secrets Manager writes per second the proxy allows. */
  readonly writesPerSecond: number;
  /** The Map's MaxConcurrency; default: the synthesized definition's. */
  readonly maxConcurrency?: number;
  readonly mode: 'emergency' | 'scheduled';
}

/** Progress for a display. */
export interface FleetRehearsalProgress {
  readonly phase: 'register' | 'rotate';
  readonly done: number;
  readonly total: number;
  readonly throttled: number;
}

/** What the fleet rehearsal measured. */
export interface FleetRehearsalReport {
  readonly clients: number;
  readonly mode: string;
  readonly maxConcurrency: number;
  readonly quota: { readonly writesPerSecond: number; readonly operations: readonly string[] };
  readonly fleetStatus: string;
  readonly fleetError?: string;
  readonly rotated: number;
  readonly failed: number;
  readonly failuresByError: Record<string, number>;
  /** Secrets Manager writes forwarded per rotated client (throttled attempts not counted). */
  readonly writesPerRotation: number;
  /** Rotations/s the quota allows at that many writes per rotation. */
  readonly boundRotationsPerSecond: number;
  /** From the fleet's first item start to the last successful report. */
  readonly wallSeconds: number;
  readonly rotationsPerSecond: number;
  /** The middle 80 % of reports (no ramp-up or tail). */
  readonly steadyRotationsPerSecond: number;
  readonly percentOfBound: number;
  readonly steadyPercentOfBound: number;
  readonly throttledWrites: number;
  /** Most writes the emulator saw in any one-second window (must not exceed the quota). */
  readonly peakWritesPerSecond: number;
  /** Every call that reached the emulator during the fleet run, by service:Operation. */
  readonly callsByOperation: Record<string, number>;
  readonly fleetTransitions: number;
  readonly rotationTransitions: number;
  readonly lambdaInvocations: Record<string, number>;
  readonly registerSeconds: number;
}

/** Runs the fleet rehearsal (see the module comment). */
export async function runFleetRehearsal(options: FleetRehearsalOptions, onProgress?: (progress: FleetRehearsalProgress) => void): Promise<FleetRehearsalReport> {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  logger.setLogLevel('SILENT');
  const emulator = process.env.AWS_ENDPOINT_URL;
  if (!emulator) throw new Error('AWS_ENDPOINT_URL must point at the emulator.');
  // Every SDK client from here on talks to the proxy; the quota is switched on for the fleet run only.
  const proxy = await QuotaProxy.start(emulator, []);
  process.env.AWS_ENDPOINT_URL = proxy.endpoint;
  try {
    const synth = synthesizeKeyRoll();
    const runId = randomUUID().slice(0, 8);
    const resources = await provisionStack(synth, runId);
    const clock = new ManualClock(Date.now());

    const registerStart = performance.now();
    const clientIds = Array.from({ length: options.clients }, (_, i) => `fleet-${String(i).padStart(5, '0')}`);
    // Two at a time: moto's server is not safe under many concurrent transactions.
    for (let i = 0; i < clientIds.length; i += 2) {
      await Promise.all(clientIds.slice(i, i + 2).map((id) => provisionClient(resources, clock, 'kr', id)));
      if (i % 50 === 0) onProgress?.({ phase: 'register', done: i, total: clientIds.length, throttled: 0 });
    }
    const registerSeconds = (performance.now() - registerStart) / 1000;

    const deps: StepDeps = {
      secrets: new SecretStore(secretsManagerClient()),
      keys: new KeyRepository(dynamoDbClient(), resources.tableName),
      clock,
      settings: {
        keyPrefix: 'kr',
        defaultOverlapSeconds: 3600,
        overlapBounds: { minSeconds: 60, maxSeconds: 3 * 3600 },
        lockTtlSeconds: 4 * 3600,
        usageWindowSeconds: 1200,
        reminderIntervalSeconds: 1800,
        usageCheckLeadSeconds: 300,
      },
      // The fleet paces its starts to 48 of the 50 writes/s by default (lib/keyroll-fleet.ts): the same share of this quota.
      fleetPage: { ...DEFAULT_FLEET_PAGE_SETTINGS, writesPerSecond: (options.writesPerSecond * DEFAULT_FLEET_WRITES_PER_SECOND) / SECRETS_MANAGER_WRITES_PER_SECOND },
    };
    const fleetWorkflow = resolveFleetWorkflow(synth, resources);
    const map = (fleetWorkflow.definition.States as Record<string, Record<string, unknown>>)[FleetStates.ROTATE_CLIENTS];
    if (options.maxConcurrency !== undefined) map.MaxConcurrency = options.maxConcurrency;
    const maxConcurrency = Number(map.MaxConcurrency);

    let fleetTransitions = 0;
    let rotationTransitions = 0;
    const invocations: Record<string, number> = {};
    const reports: number[] = [];
    const failures: Record<string, number> = {};
    let firstStart: number | undefined;
    const runner = new LocalFleetRunner(fleetWorkflow, resolveWorkflow(synth, resources), deps, {
      // Scheduled rotations go on to their overlap: simulated time jumps to each Wait's end.
      waitUntil: async (targetMs) => {
        if (targetMs > clock.nowMs()) clock.advance(targetMs - clock.nowMs());
      },
      realRetryIntervals: true,
      onEvent: (event, machine) => {
        if (event.type !== 'StateEntered' && event.type !== 'StateRetried') return;
        if (machine === 'fleet') fleetTransitions++;
        else rotationTransitions++;
        if (machine === 'fleet' && event.state?.name === FleetStates.ROTATE_CLIENT) firstStart ??= performance.now();
      },
      onInvoke: (step) => (invocations[step] = (invocations[step] ?? 0) + 1),
      onReport: ({ atMs, ok, error }) => {
        if (!ok) failures[error ?? 'UnnamedError'] = (failures[error ?? 'UnnamedError'] ?? 0) + 1;
        else reports.push(atMs);
        if (reports.length % 25 === 0) onProgress?.({ phase: 'rotate', done: reports.length, total: clientIds.length, throttled: sum(proxy.stats().throttled) });
      },
    });

    proxy.setQuotas([{ ...SECRETS_MANAGER_WRITE_QUOTA, perSecond: options.writesPerSecond }]);
    proxy.resetStats();
    // The fleet's start times come from this clock and its PaceStart waits run in real time:
    // catch up with the registration's seconds, or the first items all start at once.
    if (clock.nowMs() < Date.now()) clock.advance(Date.now() - clock.nowMs());
    const result = await runner.run({ mode: options.mode, reason: 'fleet rehearsal', requestedBy: 'rehearsal', all: true }, `fleet-${runId}`);
    const duringFleet = proxy.stats();
    await Promise.all(result.rotations);
    return buildFleetReport(options, maxConcurrency, result, duringFleet, reports, failures, firstStart ?? performance.now(), { fleetTransitions, rotationTransitions, invocations, registerSeconds });
  } finally {
    process.env.AWS_ENDPOINT_URL = emulator;
    await proxy.close();
  }
}

function sum(counts: ReadonlyMap<string, number>): number {
  let total = 0;
  for (const value of counts.values()) total += value;
  return total;
}

function buildFleetReport(
  options: FleetRehearsalOptions,
  maxConcurrency: number,
  result: Awaited<ReturnType<LocalFleetRunner['run']>>,
  stats: ProxyStats,
  reports: number[],
  failures: Record<string, number>,
  firstStart: number,
  counters: { fleetTransitions: number; rotationTransitions: number; invocations: Record<string, number>; registerSeconds: number },
): FleetRehearsalReport {
  // Counted from the items' reports: a fleet that failed has no output to read them from.
  const rotated = reports.length;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  const writes = SECRETS_MANAGER_WRITE_QUOTA.operations.reduce((total, op) => total + (stats.forwarded.get(`secretsmanager:${op}`) ?? 0), 0);
  const writesPerRotation = rotated > 0 ? writes / rotated : 0;
  const bound = writesPerRotation > 0 ? options.writesPerSecond / writesPerRotation : 0;
  const sorted = [...reports].sort((a, b) => a - b);
  const wallSeconds = sorted.length ? (sorted.at(-1)! - firstStart) / 1000 : 0;
  const lo = sorted[Math.floor(sorted.length * 0.1)] ?? 0;
  const hi = sorted[Math.floor(sorted.length * 0.9)] ?? 0;
  const steady = hi > lo ? (Math.floor(sorted.length * 0.9) - Math.floor(sorted.length * 0.1)) / ((hi - lo) / 1000) : 0;
  const rate = wallSeconds > 0 ? rotated / wallSeconds : 0;
  const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
  return {
    clients: options.clients,
    mode: options.mode,
    maxConcurrency,
    quota: { writesPerSecond: options.writesPerSecond, operations: SECRETS_MANAGER_WRITE_QUOTA.operations },
    fleetStatus: result.status,
    ...(result.error ? { fleetError: result.error } : {}),
    rotated,
    failed,
    failuresByError: failures,
    writesPerRotation: round(writesPerRotation, 3),
    boundRotationsPerSecond: round(bound),
    wallSeconds: round(wallSeconds, 1),
    rotationsPerSecond: round(rate),
    steadyRotationsPerSecond: round(steady),
    percentOfBound: bound > 0 ? round((100 * rate) / bound, 1) : 0,
    steadyPercentOfBound: bound > 0 ? round((100 * steady) / bound, 1) : 0,
    throttledWrites: sum(stats.throttled),
    peakWritesPerSecond: peakRate(stats.quotaCallTimes),
    callsByOperation: Object.fromEntries([...stats.forwarded.entries()].sort(([a], [b]) => a.localeCompare(b))),
    fleetTransitions: counters.fleetTransitions,
    rotationTransitions: counters.rotationTransitions,
    lambdaInvocations: counters.invocations,
    registerSeconds: round(counters.registerSeconds, 1),
  };
}

/** The report as a few lines for the terminal. */
export function renderFleetSummary(report: FleetRehearsalReport): string {
  const lines = [
    `KeyRoll fleet rehearsal: ${report.clients} clients, one ${report.mode} fleet rotation, MaxConcurrency ${report.maxConcurrency}`,
    `quota               ${report.quota.writesPerSecond} Secrets Manager writes/s (${report.quota.operations.join(', ')})`,
    `fleet               ${report.fleetStatus}${report.fleetError ? ` (${report.fleetError})` : ''}: ${report.rotated} rotated, ${report.failed} failed${report.failed ? ` ${JSON.stringify(report.failuresByError)}` : ''}`,
    `writes per rotation ${report.writesPerRotation} → bound ${report.boundRotationsPerSecond} rotations/s`,
    `throughput          ${report.rotationsPerSecond} rotations/s overall (${report.percentOfBound}% of the bound) over ${report.wallSeconds} s`,
    `                    ${report.steadyRotationsPerSecond} rotations/s steady, middle 80% (${report.steadyPercentOfBound}% of the bound)`,
    `throttling          ${report.throttledWrites} writes throttled and retried; peak ${report.peakWritesPerSecond} writes in any 1 s window`,
    `transitions         fleet ${report.fleetTransitions}, rotations ${report.rotationTransitions}; Lambda invocations ${Object.values(report.lambdaInvocations).reduce((a, b) => a + b, 0)}`,
  ];
  return lines.join('\n');
}
