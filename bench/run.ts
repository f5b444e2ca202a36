/**
 * `npm run bench`: the verifier's hot path, the authorizer's bundle size and its module
 * init time, printed as tables and written as JSON to bench/results/.
 *
 * Knobs (environment): BENCH_OPS (timed ops per verifier row, default 200000),
 * BENCH_INIT_RUNS (fresh processes per init series, default 10), BENCH_RATIO_ROUNDS
 * (interleaved rounds of the floor-ratio series, default 30), BENCH_RATIO_BLOCK_OPS (ops per
 * block of that series, default 10000), BENCH_PARTS (a comma list of
 * verifier, ratio, bundle, init: the parts to run, default all; `init` bundles too, since it
 * times the bundle).
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_CACHE_TTL_MS } from '../lambdas/core/key-verifier';
import { bundleAuthorizer, LAMBDA_BUILD_OPTIONS, SDK_PATH_ENTRY } from './lib/bundle';
import { buildKeySet, REQUIRED_SCOPES } from './lib/fixtures';
import { timerOverheadNs, type PassSizes } from './lib/harness';
import { measureInitTime } from './lib/init-time';
import { metricsOf } from './lib/metrics';
import { BENCH_PARTS, renderReport, writeReport, type BenchCommit, type BenchPart, type BenchReport } from './lib/report';
import { runFloorRatio, runVerifierBench } from './lib/verifier-bench';

/** The goals (issue 6, item 3). KB read as KiB, the stricter reading of the two. */
const BUNDLE_LIMIT_BYTES = 150 * 1024;
const INIT_LIMIT_MS = 50;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer; got '${raw}'.`);
  return value;
}

/** BENCH_PARTS: which parts to run (default all), in the order of {@link BENCH_PARTS}. */
function benchParts(): readonly BenchPart[] {
  const raw = process.env.BENCH_PARTS;
  if (raw === undefined || raw.trim() === '') return BENCH_PARTS;
  const asked = raw.split(',').map((p) => p.trim());
  const unknown = asked.filter((p) => !(BENCH_PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_PARTS takes a comma list of ${BENCH_PARTS.join(', ')}; got '${raw}'.`);
  return BENCH_PARTS.filter((p) => asked.includes(p));
}

/** HEAD and whether the tree has changes; "unknown" outside a git checkout. */
function currentCommit(): BenchCommit {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: path.join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    return { sha: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { sha: 'unknown', dirty: true };
  }
}

const progress = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const loadAverageAtStart = os.loadavg();
  const date = new Date().toISOString();
  const sampleOps = positiveInt('BENCH_OPS', 200_000);
  // Warm-up of a tenth (at least 20k ops) gets the JIT to its optimised tiers before timing.
  const sizes: PassSizes = { warmupOps: Math.max(20_000, Math.round(sampleOps / 10)), sampleOps, throughputOps: sampleOps };
  const keyPoolSize = 1024;
  const initRuns = positiveInt('BENCH_INIT_RUNS', 10);
  const ratioRounds = positiveInt('BENCH_RATIO_ROUNDS', 30);
  const ratioBlockOps = positiveInt('BENCH_RATIO_BLOCK_OPS', 10_000);
  const commit = currentCommit();

  const parts = benchParts();
  const runs = (part: BenchPart): boolean => parts.includes(part);

  const timer = timerOverheadNs();
  let verifier: BenchReport['verifier'];
  if (runs('verifier')) {
    progress('verifier cases…');
    verifier = await runVerifierBench(sizes, keyPoolSize);
  }
  let floorRatio: BenchReport['floorRatio'];
  if (runs('ratio')) {
    progress('warm path against the hash floor, interleaved…');
    floorRatio = await runFloorRatio(buildKeySet(keyPoolSize), ratioRounds, ratioBlockOps);
  }
  let bundle: BenchReport['bundle'];
  let sdkPath: BenchReport['sdkPath'];
  let initTime: BenchReport['initTime'];
  if (runs('bundle') || runs('init')) {
    progress('bundling the authorizer (as deployed, and on the SDK as before the lean client)…');
    const { code, ...bundled } = await bundleAuthorizer();
    const { code: sdkPathCode, ...sdkPathRest } = await bundleAuthorizer(LAMBDA_BUILD_OPTIONS, SDK_PATH_ENTRY);
    bundle = { ...bundled, limitBytes: BUNDLE_LIMIT_BYTES, pass: bundled.bytes <= BUNDLE_LIMIT_BYTES };
    sdkPath = sdkPathRest;
    if (runs('init')) {
      progress(`timing module init in ${3 * (initRuns + 1)} fresh processes…`);
      const init = measureInitTime(code, bundle.externals, initRuns, [{ id: 'sdkPath', code: sdkPathCode }], bundle.builtins);
      initTime = { ...init, limitMs: INIT_LIMIT_MS, pass: init.bundle.medianMs <= INIT_LIMIT_MS };
    }
  }

  const cpus = os.cpus();
  const report: BenchReport = {
    schemaVersion: 2,
    commit,
    date,
    metrics: metricsOf({ verifier, floorRatio, bundle, sdkPath, initTime }),
    durationMs: Number(process.hrtime.bigint() - started) / 1e6,
    environment: {
      node: process.version,
      v8: process.versions.v8,
      platform: process.platform,
      arch: process.arch,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      cpuCount: cpus.length,
      totalMemoryMiB: Math.round(os.totalmem() / 2 ** 20),
      loadAverageAtStart,
      gcBetweenCases: typeof (globalThis as { gc?: unknown }).gc === 'function',
    },
    config: {
      parts,
      ratioRounds,
      ratioBlockOps,
      ...sizes,
      keyPoolSize,
      initRuns,
      requiredScopes: REQUIRED_SCOPES,
      // The KeyVerifier defaults, which are also the authorizer's CACHE_TTL_MS / NEGATIVE_CACHE_TTL_MS defaults.
      verifier: { cacheTtlMs: MAX_CACHE_TTL_MS, negativeCacheTtlMs: 2_000 },
    },
    timerOverheadNs: timer,
    verifier,
    floorRatio,
    bundle,
    sdkPath,
    initTime,
  };
  process.stdout.write(`${renderReport(report)}\n`);
  for (const file of writeReport(report, path.join(__dirname, 'results'))) progress(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
