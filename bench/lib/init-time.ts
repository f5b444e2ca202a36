/**
 * Module initialisation time of the bundled authorizer: each run is a fresh `node` process
 * that times `require()` of the bundle, which is what a Lambda cold start pays for the
 * module on top of starting the runtime.
 *
 * A second, interleaved series splits that cost in one process: it requires the packages the
 * bundle leaves to the runtime (the @aws-sdk ones, when it has any) one by one (each figure is
 * the marginal cost of that package, since shared internals load with the first), then the
 * Node built-ins it requires (node:https, node:crypto, …; those the SDK already loaded cost ≈ 0),
 * then the bundle, which then pays only for its own code and for building its clients, logger
 * and metrics.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from './bundle';
import { median } from './stats';

/** Timings of one series of fresh processes, in milliseconds. */
export interface InitSeries {
  readonly runs: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly samplesMs: readonly number[];
}

export interface InitTimeResult {
  /** require() of the bundle in a fresh process: the headline figure. */
  readonly bundle: InitSeries;
  /** The split series: each external's marginal require time, in the bundle's order. */
  readonly split: {
    readonly externals: readonly { readonly module: string; readonly series: InitSeries }[];
    /** The @aws-sdk packages among the externals, summed per run (0 when the bundle needs none). */
    readonly sdkTotal: InitSeries;
    /** Each Node built-in's marginal require time, after the externals. */
    readonly builtins: readonly { readonly module: string; readonly series: InitSeries }[];
    readonly builtinsTotal: InitSeries;
    /** require() of the bundle once the externals and built-ins are loaded: own code plus client/logger/metrics construction. */
    readonly bundleAfterSdk: InitSeries;
  };
  /** Other bundles timed the same way, interleaved with the deployed one (e.g. the SDK bundled in). */
  readonly alternatives: readonly { readonly id: string; readonly series: InitSeries }[];
  readonly env: Readonly<Record<string, string>>;
  readonly nodeVersion: string;
}

/** A bundle to time besides the deployed one. */
export interface AlternativeBundle {
  readonly id: string;
  readonly code: Uint8Array;
}

/** The environment the stack would set, plus the region the SDK clients need at construction. */
const LAMBDA_ENV = { TABLE_NAME: 'bench-table', KEY_PREFIX: 'kr', AWS_REGION: 'us-east-1', AWS_URL_SUFFIX: 'amazonaws.com' } as const;

// Runs in the child: requires each target in turn, timing each; checks the last one (the
// bundle) exported a handler; prints the times in ms as a JSON array.
const CHILD_SCRIPT = `
const times = [];
let exported;
for (const target of process.argv.slice(1)) {
  const start = process.hrtime.bigint();
  exported = require(target);
  times.push(Number(process.hrtime.bigint() - start) / 1e6);
}
if (typeof exported.handler !== 'function') throw new Error('the bundle exports no handler');
process.stdout.write(JSON.stringify(times));
`;

/** Runs one fresh process that requires `targets` in order; returns each require's ms. */
function runChild(targets: readonly string[], cwd: string): number[] {
  const child = spawnSync(process.execPath, ['-e', CHILD_SCRIPT, ...targets], {
    // A minimal environment, so the figure does not depend on the caller's shell. NODE_PATH
    // is how the Lambda runtime exposes its bundled SDK too, so externals resolve the same way.
    env: { PATH: process.env.PATH ?? '', NODE_PATH: path.join(PROJECT_ROOT, 'node_modules'), ...LAMBDA_ENV },
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (child.status !== 0) throw new Error(`init-time child failed with ${child.status ?? child.signal}: ${child.stderr.slice(0, 2000)}`);
  const times = JSON.parse(child.stdout) as number[];
  if (times.length !== targets.length) throw new Error(`init-time child reported ${times.length} times for ${targets.length} modules.`);
  return times;
}

function series(samples: number[]): InitSeries {
  return { runs: samples.length, medianMs: median(samples), minMs: Math.min(...samples), maxMs: Math.max(...samples), samplesMs: samples };
}

/** Times `runs` fresh requires of the bundle, interleaved with `runs` split runs so machine drift hits both alike. */
export function measureInitTime(code: Uint8Array, externals: readonly string[], runs: number, alternatives: readonly AlternativeBundle[] = [], builtins: readonly string[] = []): InitTimeResult {
  // Outside the project, so only NODE_PATH can resolve the externals (as on Lambda).
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyroll-bench-'));
  try {
    const bundlePath = path.join(dir, 'index.js');
    writeFileSync(bundlePath, code);
    const split = [...externals, ...builtins, bundlePath];
    const altPaths = alternatives.map((alt) => {
      // Each in its own directory, named index.js like the deployed one.
      const altDir = mkdtempSync(path.join(dir, `${alt.id}-`));
      const file = path.join(altDir, 'index.js');
      writeFileSync(file, alt.code);
      return file;
    });
    // One discarded run of each, so the first sample does not pay for a cold OS file cache.
    runChild([bundlePath], dir);
    runChild(split, dir);
    for (const file of altPaths) runChild([file], dir);
    const whole: number[] = [];
    const parts: number[][] = split.map(() => []);
    const alt: number[][] = altPaths.map(() => []);
    for (let i = 0; i < runs; i++) {
      whole.push(...runChild([bundlePath], dir));
      runChild(split, dir).forEach((ms, k) => parts[k]?.push(ms));
      altPaths.forEach((file, k) => alt[k]?.push(...runChild([file], dir)));
    }
    const sum = (series: number[][]) => Array.from({ length: runs }, (_, i) => series.reduce((total, p) => total + (p[i] ?? 0), 0));
    const sdkTotals = sum(parts.slice(0, externals.length).filter((_, k) => externals[k].startsWith('@aws-sdk/')));
    const builtinParts = parts.slice(externals.length, externals.length + builtins.length);
    return {
      bundle: series(whole),
      split: {
        externals: externals.map((module, k) => ({ module, series: series(parts[k] ?? []) })),
        sdkTotal: series(sdkTotals),
        builtins: builtins.map((module, k) => ({ module, series: series(builtinParts[k] ?? []) })),
        builtinsTotal: series(sum(builtinParts)),
        bundleAfterSdk: series(parts[externals.length + builtins.length] ?? []),
      },
      alternatives: alternatives.map((a, k) => ({ id: a.id, series: series(alt[k] ?? []) })),
      env: LAMBDA_ENV,
      nodeVersion: process.version,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
