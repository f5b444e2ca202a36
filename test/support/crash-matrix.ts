/**
 * The crash matrix's bookkeeping: crash points generated from the AWS calls a clean run
 * recorded (one point right after each call, failed ones included, so a call added to a
 * handler adds a point by itself), second crash points in the retry of a crashed state
 * (generated from the calls the crashed run recorded), the outcome of each point, the
 * per-handler summary and the JSON report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { callName, isReadOnly } from './call-recorder';
import type { CrashPoint, StateCall } from './workflow';

/** One crash point: a scenario, a state, and the call after which that state crashes. */
export interface MatrixPoint extends CrashPoint {
  readonly scenario: string;
  /** `Service:Command` of the call after which the crash happens. */
  readonly call: string;
  /** The call changed something (a write that succeeded). */
  readonly mutating: boolean;
  /** The call failed (e.g. a ConditionFailed transaction): the crash replaces the error the handler would have handled. */
  readonly failed?: true;
  /**
   * For a point after a successful read-only call that is not the first call of its attempt:
   * the `afterCall` of the point it is equivalent to (the previous call of the same attempt).
   * A read changes nothing, so crashing after it leaves the world exactly as crashing after
   * that previous call did, and Step Functions retries the state from the same input. (A
   * failed call changes nothing either, but its point runs on its own: it is rare, and it
   * shows that the crash, not the error, is what the state's retry sees.)
   */
  readonly sameWorldAs?: number;
  /** A second crash in the retry of the first (a retry crash point, {@link generateRetryPoints}). */
  readonly again?: RetryCrash;
}

/** The second crash of a retry crash point: in the attempt that retries the first crash, right after one of its calls. */
export interface RetryCrash {
  /** Counted like {@link CrashPoint.afterCall}: the state's calls since the execution started. */
  readonly afterCall: number;
  readonly call: string;
  /** Which call of the retry: its first mutating call, or a call that failed. */
  readonly why: 'first-mutating' | 'failed';
}

/** What happened at one point. */
export interface PointOutcome {
  readonly point: MatrixPoint;
  /** The crash fired, surfaced as the state's failure, and the state ran again (or, for an equivalent point, its representative did). */
  readonly covered: boolean;
  /** False for a point covered by the run of the point it is equivalent to ({@link MatrixPoint.sameWorldAs}). */
  readonly executed: boolean;
  readonly status: string;
  /** Broken invariants (empty: the point passes). */
  readonly violations: readonly string[];
  /** Tolerated deviations worth knowing (e.g. an at-least-once duplicate notice). */
  readonly notes: readonly string[];
  readonly durationMs: number;
}

/**
 * One point after every call (failed ones included) of the states `include` accepts,
 * numbered per state in execution order (the runner's {@link CrashPoint.afterCall} counts the
 * same way).
 */
export function generatePoints(scenario: string, calls: readonly StateCall[], include: (state: string) => boolean = () => true): MatrixPoint[] {
  const perState = new Map<string, number>();
  const points: MatrixPoint[] = [];
  let previous: { state: string; attempt: number; afterCall: number; sameWorldAs?: number } | undefined;
  for (const call of calls) {
    const afterCall = (perState.get(call.state) ?? 0) + 1;
    perState.set(call.state, afterCall);
    const mutating = call.ok && !isReadOnly(call.command);
    const sameAttempt = previous?.state === call.state && previous.attempt === call.attempt;
    // Equivalent to the point before (same attempt, nothing changed since), which itself may be equivalent further back.
    const sameWorldAs = call.ok && !mutating && sameAttempt ? (previous!.sameWorldAs ?? previous!.afterCall) : undefined;
    if (include(call.state)) {
      points.push({ scenario, state: call.state, afterCall, call: callName(call), mutating, ...(call.ok ? {} : { failed: true as const }), ...(sameWorldAs !== undefined ? { sameWorldAs } : {}) });
    }
    previous = { state: call.state, attempt: call.attempt, afterCall, ...(sameWorldAs !== undefined ? { sameWorldAs } : {}) };
  }
  return points;
}

/**
 * Second crash points for a point whose crashed run recorded `calls`, the first crash having
 * fired in attempt `crashedAttempt` of the point's state: a crash right after the first
 * mutating call of the retry attempt (the retry is interrupted as it starts to repair), and
 * one after every call of the retry that failed (the retry dies instead of handling, e.g., the
 * ConditionFailed of a write the first attempt had already made).
 */
export function generateRetryPoints(point: MatrixPoint, calls: readonly StateCall[], crashedAttempt: number): MatrixPoint[] {
  // The retry point runs on its own: it is equivalent to no other.
  const { sameWorldAs: _own, ...base } = point;
  const points: MatrixPoint[] = [];
  let firstMutating = true;
  calls
    .filter((c) => c.state === point.state)
    .forEach((call, index) => {
      if (call.attempt !== crashedAttempt + 1) return;
      const again = (why: RetryCrash['why']): MatrixPoint => ({ ...base, again: { afterCall: index + 1, call: callName(call), why } });
      if (!call.ok) points.push(again('failed'));
      else if (firstMutating && !isReadOnly(call.command)) {
        firstMutating = false;
        points.push(again('first-mutating'));
      }
    });
  return points;
}

/** Points and covered points per key. */
export type Tally = Record<string, { points: number; covered: number; failing: number }>;

/** Counts outcomes (points, covered, failing) by `key`; shared by the crash and zombie matrices. */
export function tally<O extends { readonly covered: boolean; readonly violations: readonly string[] }>(outcomes: readonly O[], key: (o: O) => string): Tally {
  const out: Tally = {};
  for (const o of outcomes) {
    const entry = (out[key(o)] ??= { points: 0, covered: 0, failing: 0 });
    entry.points += 1;
    if (o.covered) entry.covered += 1;
    if (o.violations.length > 0) entry.failing += 1;
  }
  return out;
}

/** The machine-readable report of a matrix run. */
export interface MatrixReport {
  readonly total: number;
  readonly covered: number;
  /** Points that ran their own crashed execution (the rest are read-only points covered by equivalence). */
  readonly executed: number;
  readonly mutating: number;
  readonly failing: number;
  readonly byHandler: Tally;
  readonly byScenario: Tally;
  readonly byCall: Tally;
  readonly runtimeMs: number;
  readonly outcomes: readonly PointOutcome[];
}

/** Summarizes outcomes. */
export function buildReport(outcomes: readonly PointOutcome[], runtimeMs: number): MatrixReport {
  return {
    total: outcomes.length,
    covered: outcomes.filter((o) => o.covered).length,
    executed: outcomes.filter((o) => o.executed).length,
    mutating: outcomes.filter((o) => o.point.mutating).length,
    failing: outcomes.filter((o) => o.violations.length > 0).length,
    byHandler: tally(outcomes, (o) => o.point.state),
    byScenario: tally(outcomes, (o) => o.point.scenario),
    byCall: tally(outcomes, (o) => o.point.call),
    runtimeMs,
    outcomes,
  };
}

/** The one-line summary the test logs. */
export function summaryLine(report: MatrixReport): string {
  const handlers = Object.entries(report.byHandler)
    .map(([state, t]) => `${state} ${t.covered}/${t.points}`)
    .join(', ');
  const failed = report.outcomes.filter((o) => o.point.failed).length;
  return (
    `crash matrix: ${report.covered} points covered / ${report.total} total (${report.mutating} after a mutating call, ${failed} after a failed call; ${report.executed} executed, ` +
    `${report.total - report.executed} after a read covered by the run they are equivalent to), ${report.failing} breaking an invariant (by handler: ${handlers})`
  );
}

/** The one-line summary of the second crashes in the retry. */
export function retrySummaryLine(report: MatrixReport): string {
  const why = (w: RetryCrash['why']) => report.outcomes.filter((o) => o.point.again?.why === w).length;
  const handlers = Object.entries(report.byHandler)
    .map(([state, t]) => `${state} ${t.covered}/${t.points}`)
    .join(', ');
  return (
    `crash matrix, second crash in the retry: ${report.covered} points covered / ${report.total} total (${why('first-mutating')} after the retry's first mutating call, ` +
    `${why('failed')} after a failed call of the retry), ${report.failing} breaking an invariant (by handler: ${handlers})`
  );
}

/** Writes a matrix report as JSON (creating its directory). */
export function writeReport(path: string, report: object): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

/** Runs `work` over `items`, at most `size` at a time, keeping the order of `items` in the result. */
export async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}
