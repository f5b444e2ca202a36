/**
 * `npm run bench`: the verifier's hot path, the authorizer's bundle size and its module
 * init time, printed as tables and written as JSON to bench/results/.
 *
 * Knobs (environment): BENCH_OPS (timed ops per verifier row, default 200000),
 * BENCH_INIT_RUNS (fresh processes per init series, default 10).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { MAX_CACHE_TTL_MS } from '../lambdas/core/key-verifier';
import { bundleAuthorizer } from './lib/bundle';
import { REQUIRED_SCOPES } from './lib/fixtures';
import { timerOverheadNs, type PassSizes } from './lib/harness';
import { measureInitTime } from './lib/init-time';
import { renderReport, writeReport, type BenchReport } from './lib/report';
import { runVerifierBench } from './lib/verifier-bench';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer; got '${raw}'.`);
  return value;
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

  progress('verifier cases…');
  const timer = timerOverheadNs();
  const verifier = await runVerifierBench(sizes, keyPoolSize);
  progress('bundling the authorizer…');
  const { code, ...bundle } = await bundleAuthorizer();
  progress(`timing module init in ${2 * (initRuns + 1)} fresh processes…`);
  const initTime = measureInitTime(code, bundle.externals, initRuns);

  const cpus = os.cpus();
  const report: BenchReport = {
    schemaVersion: 1,
    date,
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
      ...sizes,
      keyPoolSize,
      initRuns,
      requiredScopes: REQUIRED_SCOPES,
      // The KeyVerifier defaults, which are also the authorizer's CACHE_TTL_MS / NEGATIVE_CACHE_TTL_MS defaults.
      verifier: { cacheTtlMs: MAX_CACHE_TTL_MS, negativeCacheTtlMs: 2_000 },
    },
    timerOverheadNs: timer,
    verifier,
    bundle,
    initTime,
  };
  process.stdout.write(`${renderReport(report)}\n`);
  for (const file of writeReport(report, path.join(__dirname, 'results'))) progress(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
