/**
 * The zombie matrix's bookkeeping: hold points generated from the calls a clean run of the
 * victim rotation recorded (one site per Secrets Manager or DynamoDB write of each of its
 * Lambda steps, so a write added to a handler adds its sites by itself), the calls that get
 * no site and why, the outcome of each point (a site crossed with an interferer), and the
 * report. Shares the tallies and the JSON writer with the crash matrix (crash-matrix.ts).
 */
import { callName, isReadOnly, isStoreWrite } from './call-recorder';
import { tally, type Tally } from './crash-matrix';
import type { StateCall } from './workflow';
import { checkOf } from './zombie-invariants';

/** Where a victim's write is held: its scenario, its state, and which of that state's writes. */
export interface ZombieSite {
  readonly victim: string;
  readonly state: string;
  /** The state's n-th Secrets Manager/DynamoDB write in the execution (1-based, failed writes included). */
  readonly beforeWrite: number;
  /** `Service:Command` of the held write. */
  readonly call: string;
}

/** A site and what runs while its write is held. */
export interface ZombiePoint extends ZombieSite {
  readonly interferer: string;
}

/** Why a call of a clean run has no site. */
export type ExclusionReason =
  /** A read changes nothing: holding it back is a slow read, not a late write. */
  | 'read'
  /** An SNS publish: a late notice is at-least-once delivery (the crash matrix judges notices). */
  | 'publish'
  /** A write of a direct service integration (e.g. ReleaseLock): Step Functions makes it, and stops with the execution. */
  | 'direct-integration'
  /** Another service (e.g. Step Functions): not a store of KeyRoll's state. */
  | 'other-service'
  /** A step whose code path another victim scenario already covers. */
  | 'covered-by-another-victim';

/** One call of a clean run that got no site. */
export interface ExcludedCall {
  readonly victim: string;
  readonly state: string;
  readonly call: string;
  readonly reason: ExclusionReason;
}

/**
 * The sites of one victim: one per store write of every Lambda step that `include` accepts,
 * numbered per state in execution order as the runner counts `HoldPoint.beforeWrite`;
 * every other call is listed as excluded with its reason.
 */
export function generateSites(victim: string, calls: readonly StateCall[], lambdaStates: ReadonlySet<string>, include: (state: string) => boolean): { sites: ZombieSite[]; excluded: ExcludedCall[] } {
  const writes = new Map<string, number>();
  const sites: ZombieSite[] = [];
  const excluded: ExcludedCall[] = [];
  for (const call of calls) {
    const name = callName(call);
    const exclude = (reason: ExclusionReason) => excluded.push({ victim, state: call.state, call: name, reason });
    if (isReadOnly(call.command)) exclude('read');
    else if (call.service === 'SNS') exclude('publish');
    else if (!isStoreWrite(call)) exclude('other-service');
    else if (!lambdaStates.has(call.state)) exclude('direct-integration');
    else {
      const beforeWrite = (writes.get(call.state) ?? 0) + 1;
      writes.set(call.state, beforeWrite);
      if (include(call.state)) sites.push({ victim, state: call.state, beforeWrite, call: name });
      else exclude('covered-by-another-victim');
    }
  }
  return { sites, excluded };
}

/** What happened at one point. */
export interface ZombieOutcome {
  readonly point: ZombiePoint;
  /** The write was held, the interferers ran to their end, and then the write was sent. */
  readonly covered: boolean;
  /** The victim execution: ABORTED (stopped while its write was held) or how it ended. */
  readonly victimStatus: string;
  /** The held write once sent: accepted by the service (`landed`) or refused (`refused`, e.g. a failed condition). */
  readonly heldWrite?: 'landed' | 'refused';
  /** What each interferer did, in order (e.g. `E SUCCEEDED`, `revoke-key already-revoked`, `rollback refused: RollbackNotPossible`). */
  readonly interference: readonly string[];
  /** Broken checks, each `<check>: <detail>` (empty: the point passes). */
  readonly violations: readonly string[];
  readonly durationMs: number;
}

/** The machine-readable report of a zombie-matrix run. */
export interface ZombieReport {
  readonly total: number;
  readonly covered: number;
  readonly failing: number;
  /** Distinct victim writes (sites); every site is crossed with every interferer that applies to it. */
  readonly sites: number;
  readonly byState: Tally;
  readonly byInterferer: Tally;
  readonly byVictim: Tally;
  readonly byCall: Tally;
  /** Check → number of points that break it. */
  readonly byCheck: Record<string, number>;
  readonly excluded: { readonly total: number; readonly byReason: Record<string, number>; readonly calls: readonly ExcludedCall[] };
  readonly runtimeMs: number;
  readonly outcomes: readonly ZombieOutcome[];
}

/** Summarizes outcomes. */
export function buildZombieReport(outcomes: readonly ZombieOutcome[], sites: number, excluded: readonly ExcludedCall[], runtimeMs: number): ZombieReport {
  const byCheck: Record<string, number> = {};
  for (const o of outcomes) for (const check of new Set(o.violations.map(checkOf))) byCheck[check] = (byCheck[check] ?? 0) + 1;
  const byReason: Record<string, number> = {};
  for (const e of excluded) byReason[e.reason] = (byReason[e.reason] ?? 0) + 1;
  return {
    total: outcomes.length,
    covered: outcomes.filter((o) => o.covered).length,
    failing: outcomes.filter((o) => o.violations.length > 0).length,
    sites,
    byState: tally(outcomes, (o) => `${o.point.victim}/${o.point.state}`),
    byInterferer: tally(outcomes, (o) => o.point.interferer),
    byVictim: tally(outcomes, (o) => o.point.victim),
    byCall: tally(outcomes, (o) => o.point.call),
    byCheck,
    excluded: { total: excluded.length, byReason, calls: excluded },
    runtimeMs,
    outcomes,
  };
}

/** The one-line summary the test logs. */
export function zombieSummaryLine(report: ZombieReport): string {
  const states = Object.entries(report.byState)
    .map(([state, t]) => `${state} ${t.points - t.failing}/${t.points}`)
    .join(', ');
  const interferers = Object.entries(report.byInterferer)
    .map(([name, t]) => `${name} ${t.points - t.failing}/${t.points}`)
    .join(', ');
  const checks = Object.entries(report.byCheck)
    .map(([check, n]) => `${check} ${n}`)
    .join(', ');
  const excluded = Object.entries(report.excluded.byReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  return (
    `zombie matrix: ${report.covered} points covered / ${report.total} total (${report.sites} held writes × interferers), ` +
    `${report.total - report.failing} converged, ${report.failing} breaking an invariant` +
    `${checks ? ` (by check: ${checks})` : ''}; passing by state: ${states}; by interferer: ${interferers}; ` +
    `${report.excluded.total} calls of the clean runs excluded (${excluded}); ${Math.round(report.runtimeMs / 1000)} s`
  );
}
