/**
 * The warm path against the hash floor and a plain cached lookup, measured in one interleaved
 * series so that load from other processes (this machine is shared) hits all alike: each round
 * runs a block of every case back to back, in a fresh order. The floor is the hash variant with
 * the highest median ops/s over the rounds; a case's ratio is taken per round (its ops/s over
 * that variant's ops/s, or the reference's, in the same round), then the median over rounds.
 * Block throughputs are timed as a whole, like the ops/s column of the tables. The figures
 * carry no goal (bench/README.md says what they were and why). `ratioVsRoundMax`, the estimate
 * against each round's fastest variant that earlier reports carried, is kept for comparisons.
 */
import { median } from './stats';
import { seededRandom } from '../../local/seeded-random';

/** A synchronous operation (a floor variant, or the synchronous warm path); returns whether its outcome was the expected one. */
export type SyncOp = (i: number) => boolean;
/** An asynchronous warm case: one awaited promise per op, as a caller writes `await verifier.verify(...)`. */
export type AsyncOp<T> = (i: number) => Promise<T>;

/**
 * `floor`: a variant of the hash the floor is the fastest of. `warm`: the verifier's warm path.
 * `reference`: what the warm path must be at least as fast as (a plain cached lookup); warm
 * cases get a ratio to it too. `control`: a check of the method itself (a floor variant run
 * again, which should read about 1).
 */
export type RatioKind = 'floor' | 'warm' | 'reference' | 'control';

export type RatioCase =
  | { readonly id: string; readonly label: string; readonly kind: RatioKind; readonly sync: SyncOp }
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
  readonly kind: RatioKind;
  /** Median over rounds of the block throughput. */
  readonly opsPerSec: number;
  /** Every case but the floor variants: median over rounds of (this case's ops/s) / (the floor variant's ops/s in that round). */
  readonly floorRatio?: number;
  /** The estimate used before: median over rounds of (this case's ops/s) / (the fastest floor variant of that round); biased low. */
  readonly floorRatioVsRoundMax?: number;
  /** Warm cases, when there is a reference case: median over rounds of (this case's ops/s) / (the reference's ops/s in that round). */
  readonly referenceRatio?: number;
}

export interface FloorRatioResult {
  readonly rounds: number;
  readonly blockOps: number;
  /** The fastest floor variant (by median ops/s over the rounds), the one every ratio is taken against. */
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
  if (!cases.some((c) => c.kind === 'floor')) throw new Error('measureFloorRatio needs at least one floor case.');
  // Warm-up: two blocks of each, untimed, so every op reaches its optimised tier first.
  for (const c of cases) {
    if (c.kind === 'warm') await options.beforeWarmBlock();
    await runBlock(c, 0, 2 * options.blockOps);
  }
  // rates.get(id)[round]: the block throughput of each case in each round.
  const rates = new Map<string, number[]>(cases.map((c) => [c.id, []]));
  const random = seededRandom(0x6b72);
  for (let round = 0; round < options.rounds; round++) {
    // A fresh order every round, so that neither a position nor a predecessor favours one case:
    // a block pays for the garbage (GC debt) and inherits the cache state of the block before
    // it. A rotating order, used before, kept every case behind the same neighbour: the control
    // (run right after the same hash) read 1.09 of the floor at load 6.7.
    for (const c of shuffled(cases, random)) {
      if (c.kind === 'warm') await options.beforeWarmBlock();
      rates.get(c.id)!.push(await runBlock(c, round * options.blockOps, options.blockOps));
    }
  }
  return summarizeRounds(cases, rates, options);
}

/** A Fisher-Yates shuffle of a copy of `items`. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The figures from the block throughputs of every round (`rates.get(id)[round]`); pure, so the
 * estimate is unit-tested apart from the timing.
 */
export function summarizeRounds(cases: readonly Pick<RatioCase, 'id' | 'label' | 'kind'>[], rates: ReadonlyMap<string, readonly number[]>, options: Pick<RatioOptions, 'rounds' | 'blockOps'>): FloorRatioResult {
  const series = (id: string): readonly number[] => rates.get(id)!;
  const floors = cases.filter((c) => c.kind === 'floor');
  if (floors.length === 0) throw new Error('summarizeRounds needs at least one floor case.');
  const floor = floors.map((f) => ({ id: f.id, opsPerSec: median(series(f.id)) })).reduce((a, b) => (b.opsPerSec > a.opsPerSec ? b : a));
  const floorRates = series(floor.id);
  const roundMax = floorRates.map((_, round) => Math.max(...floors.map((f) => series(f.id)[round])));
  const reference = cases.find((c) => c.kind === 'reference');
  const ratioTo = (own: readonly number[], base: readonly number[]): number => median(own.map((rate, round) => rate / base[round]));
  const results: RatioCaseResult[] = cases.map((c) => {
    const own = series(c.id);
    const base = { id: c.id, label: c.label, kind: c.kind, opsPerSec: median(own) };
    if (c.kind === 'floor') return base;
    const vsReference = c.kind === 'warm' && reference ? { referenceRatio: ratioTo(own, series(reference.id)) } : {};
    return { ...base, floorRatio: ratioTo(own, floorRates), floorRatioVsRoundMax: ratioTo(own, roundMax), ...vsReference };
  });
  return { rounds: options.rounds, blockOps: options.blockOps, floor, cases: results };
}
