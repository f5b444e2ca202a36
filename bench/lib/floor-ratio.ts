/**
 * The warm path against the hash floor, measured in one interleaved series so that load from
 * other processes (this machine is shared) hits both alike: each round runs a block of every
 * floor variant and of every warm case back to back, in a rotating order, and the ratio is
 * taken per round (warm ops/s over that round's fastest floor variant), then the median over
 * rounds. Block throughputs are timed as a whole, like the ops/s column of the tables.
 */
import { median } from './stats';

/** The goal: a warm verification at least this fraction of the fastest SHA-256 of the key. */
export const FLOOR_RATIO_TARGET = 0.8;

/** A synchronous operation (a floor variant, or the synchronous warm path); returns whether its outcome was the expected one. */
export type SyncOp = (i: number) => boolean;
/** An asynchronous warm case: one awaited promise per op, as a caller writes `await verifier.verify(...)`. */
export type AsyncOp<T> = (i: number) => Promise<T>;

/** One case of the series. */
export type RatioCase =
  | { readonly id: string; readonly label: string; readonly kind: 'floor' | 'warm'; readonly sync: SyncOp }
  | {
      readonly id: string;
      readonly label: string;
      readonly kind: 'warm';
      readonly async: AsyncOp<unknown>;
      readonly expect: (outcome: unknown) => boolean;
    };

/** Runs before each block of a warm case, outside the timed region (e.g. to refill a cache before its TTL runs out). */
export type BeforeBlock = () => Promise<void>;

export interface RatioOptions {
  readonly rounds: number;
  readonly blockOps: number;
  readonly beforeWarmBlock: BeforeBlock;
}

export interface RatioCaseResult {
  readonly id: string;
  readonly label: string;
  readonly kind: 'floor' | 'warm';
  /** Median over rounds of the block throughput. */
  readonly opsPerSec: number;
  /** Warm cases: median over rounds of (this case's ops/s) / (the round's fastest floor variant's ops/s). */
  readonly floorRatio?: number;
  readonly pass?: boolean;
}

export interface FloorRatioResult {
  readonly target: number;
  readonly rounds: number;
  readonly blockOps: number;
  /** The fastest floor variant (by median ops/s), the one each ratio is mostly taken against. */
  readonly floor: { readonly id: string; readonly opsPerSec: number };
  readonly cases: readonly RatioCaseResult[];
}

function fail(id: string, wrong: number): never {
  throw new Error(`${wrong} operation(s) of ${id} did not give the expected outcome.`);
}

async function runBlock(c: RatioCase, start: number, ops: number): Promise<number> {
  let wrong = 0;
  const t0 = process.hrtime.bigint();
  if ('sync' in c) {
    const op = c.sync;
    for (let i = start; i < start + ops; i++) if (!op(i)) wrong++;
  } else {
    const op = c.async;
    const expect = c.expect;
    for (let i = start; i < start + ops; i++) if (!expect(await op(i))) wrong++;
  }
  const elapsedNs = Number(process.hrtime.bigint() - t0);
  if (wrong) fail(c.id, wrong);
  return ops / (elapsedNs / 1e9);
}

/** Measures every case in interleaved rounds; see the module comment. */
export async function measureFloorRatio(cases: readonly RatioCase[], options: RatioOptions): Promise<FloorRatioResult> {
  const floors = cases.filter((c) => c.kind === 'floor');
  if (floors.length === 0) throw new Error('measureFloorRatio needs at least one floor case.');
  // Warm-up: two blocks of each, untimed, so every op reaches its optimised tier first.
  for (const c of cases) {
    if (c.kind === 'warm') await options.beforeWarmBlock();
    await runBlock(c, 0, 2 * options.blockOps);
  }
  const rates = new Map<string, number[]>(cases.map((c) => [c.id, []]));
  const ratios = new Map<string, number[]>(cases.map((c) => [c.id, []]));
  for (let round = 0; round < options.rounds; round++) {
    const roundRates = new Map<string, number>();
    for (let k = 0; k < cases.length; k++) {
      // Rotating the order keeps any position effect (GC debt, cache state) from favouring one case.
      const c = cases[(round + k) % cases.length]!;
      if (c.kind === 'warm') await options.beforeWarmBlock();
      const rate = await runBlock(c, round * options.blockOps, options.blockOps);
      roundRates.set(c.id, rate);
      rates.get(c.id)!.push(rate);
    }
    const floor = Math.max(...floors.map((f) => roundRates.get(f.id)!));
    for (const c of cases) if (c.kind === 'warm') ratios.get(c.id)!.push(roundRates.get(c.id)! / floor);
  }
  const results: RatioCaseResult[] = cases.map((c) => {
    const base = { id: c.id, label: c.label, kind: c.kind, opsPerSec: median(rates.get(c.id)!) };
    if (c.kind === 'floor') return base;
    const floorRatio = median(ratios.get(c.id)!);
    return { ...base, floorRatio, pass: floorRatio >= FLOOR_RATIO_TARGET };
  });
  const fastest = results.filter((r) => r.kind === 'floor').reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
  return {
    target: FLOOR_RATIO_TARGET,
    rounds: options.rounds,
    blockOps: options.blockOps,
    floor: { id: fastest.id, opsPerSec: fastest.opsPerSec },
    cases: results,
  };
}
