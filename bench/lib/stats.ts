/** Percentile summaries of per-op timings. */

/** Latency distribution of one case, in nanoseconds. */
export interface LatencySummary {
  readonly samples: number;
  readonly minNs: number;
  readonly meanNs: number;
  readonly p50Ns: number;
  readonly p90Ns: number;
  readonly p99Ns: number;
  readonly maxNs: number;
}

/** Throughput of one case, from a loop timed as a whole (no per-op timer cost). */
export interface ThroughputSummary {
  readonly ops: number;
  readonly elapsedMs: number;
  readonly opsPerSec: number;
}

/** Nearest-rank percentile of an ascending array: no interpolation, so every figure is a real sample. */
function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

/** Summarises per-op samples (sorts them in place; typed-array sort is numeric). */
export function summarizeLatency(samples: Float64Array): LatencySummary {
  samples.sort();
  let total = 0;
  for (const value of samples) total += value;
  return {
    samples: samples.length,
    minNs: samples[0] ?? Number.NaN,
    meanNs: total / samples.length,
    p50Ns: percentile(samples, 50),
    p90Ns: percentile(samples, 90),
    p99Ns: percentile(samples, 99),
    maxNs: samples[samples.length - 1] ?? Number.NaN,
  };
}

/** Throughput of `ops` operations that took `elapsedNs` in total. */
export function summarizeThroughput(ops: number, elapsedNs: bigint): ThroughputSummary {
  const elapsedMs = Number(elapsedNs) / 1e6;
  return { ops, elapsedMs, opsPerSec: ops / (elapsedMs / 1000) };
}

/** Median of a small sample (mean of the middle two when even). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
