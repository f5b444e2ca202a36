/**
 * The measuring loops. Each case runs three passes over the same operation:
 * a warm-up (JIT and caches settle), a per-op pass timed with hrtime for percentiles, and a
 * batched pass timed as a whole for throughput, since the per-op timer itself costs ~50-100 ns.
 *
 * An operation returns whether its outcome was the expected one: that both keeps the work
 * observable (nothing can be optimised away) and proves every op did what the row claims.
 */
import { summarizeLatency, summarizeThroughput, type LatencySummary, type ThroughputSummary } from './stats';

/** How many operations each pass runs. */
export interface PassSizes {
  readonly warmupOps: number;
  readonly sampleOps: number;
  readonly throughputOps: number;
}

/** The figures of one case. */
export interface CaseFigures {
  readonly latency: LatencySummary;
  readonly throughput: ThroughputSummary;
}

export type SyncOp = (i: number) => boolean;
export type AsyncOp = (i: number) => Promise<boolean>;
/** Optional hooks of an async case. */
export interface AsyncHooks {
  /** Runs before each op, outside the per-op timed region (but inside the batched loop). */
  readonly beforeEach?: (i: number) => void;
  /** Runs once between the warm-up and the measured passes (e.g. to snapshot counters). */
  readonly afterWarmup?: () => void;
}

const now = process.hrtime.bigint;

function fail(pass: string, wrong: number): never {
  throw new Error(`${wrong} operation(s) in the ${pass} pass did not give the expected outcome.`);
}

/** Collects GC garbage between cases when node runs with --expose-gc, so one case's garbage is not billed to the next. */
export function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
}

/** Measures a synchronous operation. */
export function measureSync(op: SyncOp, sizes: PassSizes): CaseFigures {
  let wrong = 0;
  for (let i = 0; i < sizes.warmupOps; i++) if (!op(i)) wrong++;
  if (wrong) fail('warm-up', wrong);

  const samples = new Float64Array(sizes.sampleOps);
  for (let i = 0; i < sizes.sampleOps; i++) {
    const start = now();
    const ok = op(i);
    samples[i] = Number(now() - start);
    if (!ok) wrong++;
  }
  if (wrong) fail('latency', wrong);

  const start = now();
  for (let i = 0; i < sizes.throughputOps; i++) if (!op(i)) wrong++;
  const elapsed = now() - start;
  if (wrong) fail('throughput', wrong);
  return { latency: summarizeLatency(samples), throughput: summarizeThroughput(sizes.throughputOps, elapsed) };
}

/** Measures an async operation, awaited one at a time (one request after another, as in one Lambda container). */
export async function measureAsync(op: AsyncOp, sizes: PassSizes, hooks: AsyncHooks = {}): Promise<CaseFigures> {
  const before = hooks.beforeEach;
  let wrong = 0;
  for (let i = 0; i < sizes.warmupOps; i++) {
    before?.(i);
    if (!(await op(i))) wrong++;
  }
  if (wrong) fail('warm-up', wrong);
  hooks.afterWarmup?.();

  const samples = new Float64Array(sizes.sampleOps);
  for (let i = 0; i < sizes.sampleOps; i++) {
    before?.(i);
    const start = now();
    const ok = await op(i);
    samples[i] = Number(now() - start);
    if (!ok) wrong++;
  }
  if (wrong) fail('latency', wrong);

  const start = now();
  for (let i = 0; i < sizes.throughputOps; i++) {
    before?.(i);
    if (!(await op(i))) wrong++;
  }
  const elapsed = now() - start;
  if (wrong) fail('throughput', wrong);
  return { latency: summarizeLatency(samples), throughput: summarizeThroughput(sizes.throughputOps, elapsed) };
}

/** Cost of one pair of hrtime.bigint() calls: the resolution floor of every per-op figure. */
export function timerOverheadNs(samples = 100_000): LatencySummary {
  const out = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const start = now();
    out[i] = Number(now() - start);
  }
  return summarizeLatency(out);
}
