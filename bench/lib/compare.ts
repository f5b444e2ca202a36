/**
 * Compares the metrics of two bench runs: the change of every metric both runs have, and
 * which changed for the worse by more than a threshold. Pure, so it is unit-tested.
 */
import type { Metric } from './metrics';

/** The least a report must have to be compared. */
export interface ComparableReport {
  readonly schemaVersion: number;
  readonly commit?: { readonly sha: string; readonly dirty: boolean };
  readonly metrics: Readonly<Record<string, Metric>>;
}

/** A report file that cannot be compared (an older schema, or not a bench report). */
export class IncomparableReportError extends Error {
  override readonly name = 'IncomparableReport';
}

export interface MetricChange {
  readonly id: string;
  readonly unit: Metric['unit'];
  readonly better: Metric['better'];
  readonly old: number;
  readonly new: number;
  /** (new - old) / old, in percent; NaN when old is 0. */
  readonly deltaPct: number;
  /** Worse by more than the threshold (relative to old). */
  readonly regression: boolean;
  /** Better by more than the threshold. */
  readonly improvement: boolean;
  /** The new value misses the metric's goal (if it has one). */
  readonly missesGoal: boolean;
}

export interface Comparison {
  readonly thresholdPct: number;
  readonly changes: readonly MetricChange[];
  /** Metrics only one of the runs has. */
  readonly onlyOld: readonly string[];
  readonly onlyNew: readonly string[];
  readonly regressions: readonly MetricChange[];
}

/** Checks that `value` (parsed JSON) is a report with a metrics map; throws IncomparableReportError otherwise. */
export function asComparable(value: unknown, where: string): ComparableReport {
  const report = value as Partial<ComparableReport> | null;
  if (typeof report !== 'object' || report === null || typeof report.metrics !== 'object' || report.metrics === null) {
    const version = typeof report === 'object' && report !== null ? report.schemaVersion : undefined;
    throw new IncomparableReportError(`${where} has no metrics map (schemaVersion ${String(version)}); only schemaVersion 2 reports or later can be compared.`);
  }
  for (const [id, m] of Object.entries(report.metrics)) {
    if (typeof m?.value !== 'number' || (m.better !== 'higher' && m.better !== 'lower')) {
      throw new IncomparableReportError(`${where}: metric '${id}' needs a numeric value and better 'higher' or 'lower'.`);
    }
  }
  return report as ComparableReport;
}

function goalMissed(m: Metric): boolean {
  if (m.goal === undefined) return false;
  return m.better === 'higher' ? m.value < m.goal : m.value > m.goal;
}

/** Compares `newer` with `older`; a change for the worse beyond `thresholdPct` percent is a regression. */
export function compareReports(older: ComparableReport, newer: ComparableReport, thresholdPct: number): Comparison {
  if (!(Number.isFinite(thresholdPct) && thresholdPct >= 0)) throw new RangeError(`thresholdPct must be a non-negative number; got ${thresholdPct}.`);
  const changes: MetricChange[] = [];
  for (const [id, n] of Object.entries(newer.metrics)) {
    const o = older.metrics[id];
    if (!o) continue;
    const deltaPct = o.value === 0 ? Number.NaN : ((n.value - o.value) / Math.abs(o.value)) * 100;
    // Worse means down for higher-is-better metrics and up for lower-is-better ones.
    const worsePct = n.better === 'higher' ? -deltaPct : deltaPct;
    changes.push({
      id,
      unit: n.unit,
      better: n.better,
      old: o.value,
      new: n.value,
      deltaPct,
      regression: worsePct > thresholdPct,
      improvement: -worsePct > thresholdPct,
      missesGoal: goalMissed(n),
    });
  }
  return {
    thresholdPct,
    changes,
    onlyOld: Object.keys(older.metrics).filter((id) => !(id in newer.metrics)),
    onlyNew: Object.keys(newer.metrics).filter((id) => !(id in older.metrics)),
    regressions: changes.filter((c) => c.regression),
  };
}
