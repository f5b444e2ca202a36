/** The report: a console rendering and the JSON document written to bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BundleResult } from './bundle';
import type { FloorRatioResult } from './floor-ratio';
import type { InitTimeResult } from './init-time';
import type { Metric } from './metrics';
import type { LatencySummary } from './stats';
import { kib, ms, opsPerSec, renderTable, us } from './table';
import type { VerifierCase } from './verifier-bench';

export interface BenchEnvironment {
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly totalMemoryMiB: number;
  /** 1/5/15-minute load averages at the start: other work on the machine skews every figure. */
  readonly loadAverageAtStart: readonly number[];
  /** Whether node ran with --expose-gc, so garbage was collected between cases. */
  readonly gcBetweenCases: boolean;
}

/** The commit the run measured; `dirty` when the working tree had changes (this tree is shared, so usually). */
export interface BenchCommit {
  readonly sha: string;
  readonly dirty: boolean;
}

/** The parts of `npm run bench`; BENCH_PARTS picks some (default: all). */
export const BENCH_PARTS = ['verifier', 'ratio', 'bundle', 'init'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];

export interface BenchConfig {
  /** The parts this run measured (BENCH_PARTS); the report's fields for the others are absent. */
  readonly parts: readonly BenchPart[];
  readonly ratioRounds: number;
  readonly ratioBlockOps: number;
  readonly warmupOps: number;
  readonly sampleOps: number;
  readonly throughputOps: number;
  readonly keyPoolSize: number;
  readonly initRuns: number;
  readonly requiredScopes: readonly string[];
  readonly verifier: { readonly cacheTtlMs: number; readonly negativeCacheTtlMs: number };
}

/** Everything one run measured; the shape of bench/results/*.json. */
export interface BenchReport {
  /** 2: adds commit, metrics, floorRatio, bundle limits and init-time alternatives. */
  readonly schemaVersion: 2;
  readonly commit: BenchCommit;
  readonly date: string;
  /**
   * The figures to compare between commits (`npm run bench:compare`), flat and stable: ids
   * never change meaning; new ones may be added. Everything else in the report is detail.
   */
  readonly metrics: Readonly<Record<string, Metric>>;
  readonly durationMs: number;
  readonly environment: BenchEnvironment;
  readonly config: BenchConfig;
  readonly timerOverheadNs: LatencySummary;
  /** The parts below are absent when BENCH_PARTS skipped them (`init` needs the bundle, so it brings `bundle` along). */
  readonly verifier?: readonly VerifierCase[];
  readonly floorRatio?: FloorRatioResult & { readonly storeLookups: number };
  readonly bundle?: Omit<BundleResult, 'code'> & { readonly limitBytes: number; readonly pass: boolean };
  /** The authorizer on the AWS SDK, as before the lean DynamoDB client (measured, not deployed). */
  readonly sdkPath?: Omit<BundleResult, 'code'>;
  readonly initTime?: InitTimeResult & { readonly limitMs: number; readonly pass: boolean };
}

function verifierTable(cases: readonly VerifierCase[]): string {
  const rows = cases.map((c) => [
    c.label,
    us(c.latency.p50Ns),
    us(c.latency.p90Ns),
    us(c.latency.p99Ns),
    us(c.latency.maxNs),
    opsPerSec(c.throughput.opsPerSec),
    c.storeLookups === undefined ? '-' : String(c.storeLookups),
  ]);
  return renderTable(['case', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'ops/s', 'store reads'], rows);
}

function ratioTable(f: FloorRatioResult): string {
  const ratio = (value: number | undefined): string => (value === undefined ? '-' : value.toFixed(2));
  const rows = f.cases.map((c) => [c.label + (c.id === f.floor.id ? ' ← floor' : ''), opsPerSec(c.opsPerSec), ratio(c.floorRatio), ratio(c.referenceRatio), ratio(c.floorRatioVsRoundMax)]);
  return renderTable(['warm path vs the hash floor (interleaved)', 'ops/s', 'vs floor', 'vs plain lookup', 'vs round max (old)'], rows);
}

/** The human-readable report: a section per part the run measured. */
export function renderReport(r: BenchReport): string {
  const e = r.environment;
  const c = r.config;
  const lines: string[] = [
    `KeyRoll bench — ${r.date}, commit ${r.commit.sha.slice(0, 12)}${r.commit.dirty ? ' (dirty tree)' : ''}`,
    `node ${e.node} (v8 ${e.v8}) ${e.platform}/${e.arch}, ${e.cpuCount} × ${e.cpuModel}, GC between cases: ${e.gcBetweenCases ? 'yes' : 'no'}, load average at start ${e.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    ...(c.parts.length < BENCH_PARTS.length ? [`parts: ${c.parts.join(', ')} (BENCH_PARTS)`] : []),
    '',
  ];
  if (r.verifier) {
    lines.push(
      `1. KeyVerifier (in-memory store; ${c.sampleOps.toLocaleString('en-US')} timed ops per row after ${c.warmupOps.toLocaleString('en-US')} warm-up; ` +
        `ops/s from a separate untimed loop of ${c.throughputOps.toLocaleString('en-US')}; pool of ${c.keyPoolSize} keys per kind)`,
      verifierTable(r.verifier),
      `   timer overhead (hrtime.bigint pair): p50 ${us(r.timerOverheadNs.p50Ns)} µs — included in every per-op figure above.`,
      `   the COLD row clears the cache before every op and its lookup resolves after one microtask: async overhead only, no I/O.`,
      '',
    );
  }
  if (r.floorRatio) {
    lines.push(
      ratioTable(r.floorRatio),
      `   ${r.floorRatio.rounds} interleaved rounds of ${r.floorRatio.blockOps.toLocaleString('en-US')} ops per case; ratio = a case's ops/s over the floor variant's (the fastest SHA-256 by median), ` +
        `or the plain cached lookup's, in the same round, median over rounds; no goal. Store reads outside the cache refills: ${r.floorRatio.storeLookups}.`,
      `   "vs round max": the estimate used before, against each round's fastest variant (the maximum of noisy near-equal blocks, biased up: compare the control).`,
      '',
    );
  }
  const b = r.bundle;
  if (b) {
    lines.push(
      '2. Authorizer bundle (esbuild ' +
        `${b.esbuildVersion}: platform ${b.options.platform}, target ${String(b.options.target)}, ${b.options.format}, minify ${b.options.minify}, external ${(b.options.external ?? []).join(' ')})`,
      `   size ${kib(b.bytes)}, gzip ${kib(b.gzipBytes)} — limit ${kib(b.limitBytes)}: ${b.pass ? 'PASS' : 'FAIL'}`,
      `   largest parts: ${b.composition
        .slice(0, 6)
        .map((p) => `${p.source} ${(p.bytes / 1024).toFixed(1)} KiB`)
        .join(', ')}`,
      `   packages required from the runtime at load: ${b.externals.join(', ') || 'none (Node built-ins only)'}`,
      ...(r.sdkPath
        ? [
            `   alternative, not deployed — sdkPath, the authorizer on the AWS SDK as before the lean client: size ${kib(r.sdkPath.bytes)}, gzip ${kib(r.sdkPath.gzipBytes)}, ` +
              `requires ${r.sdkPath.externals.join(', ')} from the runtime`,
          ]
        : []),
      '',
    );
  }
  const i = r.initTime;
  if (i) {
    lines.push(
      `3. Authorizer module init (fresh node ${i.nodeVersion} process per run, require() of the bundle, ${i.bundle.runs} runs)`,
      renderTable(
        ['series', 'median ms', 'min ms', 'max ms'],
        [
          ['require(bundle)', ms(i.bundle.medianMs), ms(i.bundle.minMs), ms(i.bundle.maxMs)],
          ['  split: @aws-sdk packages, total', ms(i.split.sdkTotal.medianMs), ms(i.split.sdkTotal.minMs), ms(i.split.sdkTotal.maxMs)],
          ...i.split.externals.map((x) => [`    ${x.module}`, ms(x.series.medianMs), ms(x.series.minMs), ms(x.series.maxMs)]),
          ['  split: Node built-ins, total', ms(i.split.builtinsTotal.medianMs), ms(i.split.builtinsTotal.minMs), ms(i.split.builtinsTotal.maxMs)],
          ...i.split.builtins.map((x) => [`    ${x.module}`, ms(x.series.medianMs), ms(x.series.minMs), ms(x.series.maxMs)]),
          ['  split: bundle after those', ms(i.split.bundleAfterSdk.medianMs), ms(i.split.bundleAfterSdk.minMs), ms(i.split.bundleAfterSdk.maxMs)],
          ...i.alternatives.map((a) => [`alternative: ${a.id}`, ms(a.series.medianMs), ms(a.series.minMs), ms(a.series.maxMs)]),
        ],
      ),
      '   split rows come from a separate series that loads the runtime packages, then the Node built-ins, one by one (marginal cost each), then the bundle.',
      `   goal: require(bundle) median ≤ ${i.limitMs} ms: ${i.pass ? 'PASS' : 'FAIL'}. Nothing is deferred to the first request: the clients are built at init.`,
      '',
    );
  }
  lines.push(`total ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

/** Writes the report as bench/results/bench-<timestamp>.json and bench/results/latest.json; returns both paths. */
export function writeReport(r: BenchReport, resultsDir: string): string[] {
  mkdirSync(resultsDir, { recursive: true });
  const json = `${JSON.stringify(r, null, 2)}\n`;
  const stamped = path.join(resultsDir, `bench-${r.date.replace(/[:.]/g, '-')}.json`);
  const latest = path.join(resultsDir, 'latest.json');
  writeFileSync(stamped, json);
  writeFileSync(latest, json);
  return [stamped, latest];
}
