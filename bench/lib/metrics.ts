/**
 * The comparable figures of a bench run: a flat map of metric id to value, unit and which
 * direction is better, so `npm run bench:compare` needs no knowledge of the report's layout.
 */

/** One comparable figure. */
export interface Metric {
  readonly value: number;
  readonly unit: 'ops/s' | 'ns' | 'ms' | 'bytes' | 'ratio';
  /** Which way is an improvement. */
  readonly better: 'higher' | 'lower';
  /** The goal, when there is one (a floor for `higher`, a ceiling for `lower`). */
  readonly goal?: number;
}

/** What the metrics are taken from: the parts of a report they need (a part a run skipped, see BENCH_PARTS, is absent). */
export interface MetricSources {
  readonly verifier?: readonly { readonly id: string; readonly latency: { readonly p50Ns: number; readonly p99Ns: number }; readonly throughput: { readonly opsPerSec: number } }[];
  readonly floorRatio?: {
    readonly floor: { readonly opsPerSec: number };
    readonly cases: readonly {
      readonly id: string;
      readonly opsPerSec: number;
      readonly floorRatio?: number;
      readonly floorRatioVsRoundMax?: number;
      readonly referenceRatio?: number;
    }[];
  };
  readonly bundle?: { readonly bytes: number; readonly gzipBytes: number; readonly limitBytes: number };
  /** The authorizer on the AWS SDK, as it was before the lean client (measured, not deployed). */
  readonly sdkPath?: { readonly bytes: number };
  readonly initTime?: {
    readonly limitMs: number;
    readonly bundle: { readonly medianMs: number; readonly minMs: number };
    readonly split: { readonly sdkTotal: { readonly medianMs: number }; readonly builtinsTotal?: { readonly medianMs: number }; readonly bundleAfterSdk: { readonly medianMs: number } };
    readonly alternatives: readonly { readonly id: string; readonly series: { readonly medianMs: number } }[];
  };
}

/** Builds the flat metric map of a run. Ids: `verifier.<row>.{p50Ns,p99Ns,opsPerSec}`, `floorRatio.*`, `bundle.*`, `init.*`. */
export function metricsOf(s: MetricSources): Record<string, Metric> {
  const out: Record<string, Metric> = {};
  for (const row of s.verifier ?? []) {
    out[`verifier.${row.id}.p50Ns`] = { value: row.latency.p50Ns, unit: 'ns', better: 'lower' };
    out[`verifier.${row.id}.p99Ns`] = { value: row.latency.p99Ns, unit: 'ns', better: 'lower' };
    out[`verifier.${row.id}.opsPerSec`] = { value: row.throughput.opsPerSec, unit: 'ops/s', better: 'higher' };
  }
  if (s.floorRatio) {
    out['floorRatio.floor.opsPerSec'] = { value: s.floorRatio.floor.opsPerSec, unit: 'ops/s', better: 'higher' };
    for (const c of s.floorRatio.cases) {
      if (c.floorRatio === undefined) continue;
      out[`floorRatio.${c.id}.opsPerSec`] = { value: c.opsPerSec, unit: 'ops/s', better: 'higher' };
      // No goal on any ratio. `ratio` keeps the meaning it had in earlier reports (against each
      // round's fastest variant), so an old report compares like for like.
      out[`floorRatio.${c.id}.ratioVsFloor`] = { value: c.floorRatio, unit: 'ratio', better: 'higher' };
      if (c.floorRatioVsRoundMax !== undefined) out[`floorRatio.${c.id}.ratio`] = { value: c.floorRatioVsRoundMax, unit: 'ratio', better: 'higher' };
      if (c.referenceRatio !== undefined) out[`floorRatio.${c.id}.ratioVsReference`] = { value: c.referenceRatio, unit: 'ratio', better: 'higher' };
    }
  }
  if (s.bundle) {
    out['bundle.bytes'] = { value: s.bundle.bytes, unit: 'bytes', better: 'lower', goal: s.bundle.limitBytes };
    out['bundle.gzipBytes'] = { value: s.bundle.gzipBytes, unit: 'bytes', better: 'lower' };
  }
  if (s.sdkPath) out['bundle.sdkPath.bytes'] = { value: s.sdkPath.bytes, unit: 'bytes', better: 'lower' };
  if (s.initTime) {
    out['init.bundle.medianMs'] = { value: s.initTime.bundle.medianMs, unit: 'ms', better: 'lower', goal: s.initTime.limitMs };
    out['init.bundle.minMs'] = { value: s.initTime.bundle.minMs, unit: 'ms', better: 'lower' };
    out['init.sdk.medianMs'] = { value: s.initTime.split.sdkTotal.medianMs, unit: 'ms', better: 'lower' };
    if (s.initTime.split.builtinsTotal) out['init.builtins.medianMs'] = { value: s.initTime.split.builtinsTotal.medianMs, unit: 'ms', better: 'lower' };
    out['init.ownCode.medianMs'] = { value: s.initTime.split.bundleAfterSdk.medianMs, unit: 'ms', better: 'lower' };
    for (const a of s.initTime.alternatives) out[`init.${a.id}.medianMs`] = { value: a.series.medianMs, unit: 'ms', better: 'lower' };
  }
  return out;
}
