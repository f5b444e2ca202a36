#!/usr/bin/env node
/**
 * `npm run rehearse`: KeyRoll end to end on this machine, no AWS account. Starts moto on
 * loopback (installing it into .venv/moto when missing, as the tests do), provisions the
 * stack's table, topics and clients, and runs real rotations through the synthesized state
 * machine while simulated consumers call a protected endpoint. Exits 1 if a well-behaved
 * consumer saw a failure, 2 on bad options or set-up failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { pointSdkAtEmulator, startMoto } from '../local/moto';
import { resolveRehearsalOptions, type RehearsalOptions } from '../local/rehearsal/options';
import { renderSummary, renderSvg } from '../local/rehearsal/report';
import { runRehearsal, type RehearsalProgress } from '../local/rehearsal/rehearsal';
import { renderFleetSummary, runFleetRehearsal } from '../local/rehearsal/fleet-rehearsal';
import { assertSupportedNode } from '../lib/node-version';

const int = (name: string) => (value: string) => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a whole number.`);
  return Number(value);
};

const program = new Command('rehearse')
  .description('Run real KeyRoll rotations against emulated AWS while simulated clients call a protected API.')
  .option('--clients <n>', 'KeyRoll clients (tenants) to provision', int('clients'))
  .option('--callers <n>', 'simulated API consumers (the last never updates its key)', int('callers'))
  .option('--rotations <n>', 'rotations per client', int('rotations'))
  .option('--no-emergency', 'no emergency rotation (by default the first client ends with one)')
  .option('--no-delivery', 'without the consumers KeyRoll delivers to (one outside AWS: pickup + webhook; one in a second account)')
  .option('--duration <minutes>', 'simulated minutes (at least 210 per rotation)', int('duration'))
  .option('--seed <n>', 'seed for the callers\u2019 propagation delays', int('seed'))
  .option('--out <dir>', 'where the report files go', 'rehearsal-report')
  .option('--json', 'print the report as JSON instead of the summary')
  .option('--fleet <clients>', 'instead: register this many clients and rotate them all with one fleet rotation behind the Secrets Manager write quota', int('fleet'))
  .option('--quota <writes>', 'fleet: Secrets Manager writes per second the emulated quota allows', int('quota'), 50)
  .option('--concurrency <n>', 'fleet: the Map\u2019s MaxConcurrency (default: the stack\u2019s)', int('concurrency'))
  .option('--fleet-mode <mode>', 'fleet: emergency or scheduled', 'emergency')
  .showHelpAfterError();

async function main(): Promise<number> {
  assertSupportedNode();
  program.parse();
  const flags = program.opts<{
    clients?: number;
    callers?: number;
    rotations?: number;
    emergency: boolean;
    delivery?: boolean;
    duration?: number;
    seed?: number;
    out: string;
    json?: boolean;
    fleet?: number;
    quota: number;
    concurrency?: number;
    fleetMode: string;
  }>();
  if (flags.fleet !== undefined) return rehearseFleet(flags);
  let options: RehearsalOptions;
  try {
    options = resolveRehearsalOptions({
      clients: flags.clients,
      callers: flags.callers,
      rotations: flags.rotations,
      emergency: flags.emergency,
      delivery: flags.delivery,
      durationMinutes: flags.duration,
      seed: flags.seed,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).name}: ${(error as Error).message}\n`);
    return 2;
  }

  // The SDK's notice that Node 20 nears its end of support is noise for a local run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.stderr.write('Starting the emulated AWS (moto)...\n');
  const moto = await startMoto();
  pointSdkAtEmulator(moto.endpoint);
  process.stderr.write(`moto: ${moto.endpoint} (${moto.source ?? 'external'})\n`);

  const bar = process.stderr.isTTY
    ? new SingleBar({
        format: ' {bar} {percentage}% | sim {sim} | requests {requests} | refused {failures} | well-behaved failures {wellBehaved} | rotations {rotations}',
        hideCursor: true,
        stream: process.stderr,
      })
    : undefined;
  let lastPrinted = -1;
  const onProgress = (p: RehearsalProgress) => {
    const payload = {
      sim: `${Math.floor(p.simulatedMinutes / 60)}h${String(p.simulatedMinutes % 60).padStart(2, '0')}`,
      requests: p.requests,
      failures: p.failures,
      wellBehaved: p.wellBehavedFailures,
      rotations: `${p.rotationsDone}/${p.rotationsTotal}`,
    };
    if (bar) {
      if (p.simulatedMinutes === 0) bar.start(p.totalMinutes, 0, payload);
      bar.update(Math.min(p.simulatedMinutes, p.totalMinutes), payload);
      return;
    }
    // Not a terminal (CI, a pipe): a line every 10 %.
    const decile = Math.floor((10 * p.simulatedMinutes) / p.totalMinutes);
    if (decile > lastPrinted) {
      lastPrinted = decile;
      process.stderr.write(
        `  ${Math.min(100, decile * 10)}% sim ${payload.sim}, requests ${p.requests}, refused ${p.failures}, well-behaved failures ${p.wellBehavedFailures}, rotations ${payload.rotations}\n`,
      );
    }
  };

  try {
    const report = await runRehearsal(options, onProgress);
    bar?.stop();
    fs.mkdirSync(flags.out, { recursive: true });
    const chartPath = path.join(flags.out, 'timeline.svg');
    fs.writeFileSync(chartPath, renderSvg(report));
    fs.writeFileSync(path.join(flags.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${renderSummary(report, chartPath)}\n`);
    return report.wellBehavedFailures === 0 ? 0 : 1;
  } finally {
    bar?.stop();
    await moto.stop();
  }
}

/** `--fleet N`: one fleet rotation of N clients behind the emulated write quota. */
async function rehearseFleet(flags: { fleet?: number; quota: number; concurrency?: number; fleetMode: string; out: string; json?: boolean }): Promise<number> {
  const clients = flags.fleet!;
  if (clients < 1 || clients > 20_000) return usage('--fleet must be 1-20000 clients.');
  if (flags.quota < 1 || flags.quota > 10_000) return usage('--quota must be 1-10000 writes per second.');
  if (flags.concurrency !== undefined && (flags.concurrency < 1 || flags.concurrency > 1000)) return usage('--concurrency must be 1-1000.');
  if (flags.fleetMode !== 'emergency' && flags.fleetMode !== 'scheduled') return usage('--fleet-mode must be emergency or scheduled.');
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.stderr.write('Starting the emulated AWS (moto)...\n');
  const moto = await startMoto();
  pointSdkAtEmulator(moto.endpoint);
  const bar = new SingleBar({ format: ' {phase} {bar} {value}/{total} | throttled writes {throttled}', hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 5000 });
  let phase = '';
  try {
    const report = await runFleetRehearsal({ clients, writesPerSecond: flags.quota, mode: flags.fleetMode, ...(flags.concurrency !== undefined ? { maxConcurrency: flags.concurrency } : {}) }, (p) => {
      const label = p.phase === 'register' ? 'registering' : 'rotating   ';
      if (label !== phase) {
        if (phase) bar.stop();
        phase = label;
        bar.start(p.total, p.done, { phase: label, throttled: p.throttled });
      }
      bar.update(p.done, { phase: label, throttled: p.throttled });
    });
    bar.stop();
    fs.mkdirSync(flags.out, { recursive: true });
    fs.writeFileSync(path.join(flags.out, 'fleet.json'), `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${renderFleetSummary(report)}\n  (figures in ${path.join(flags.out, 'fleet.json')})\n`);
    return report.fleetStatus === 'SUCCEEDED' && report.failed === 0 ? 0 : 1;
  } finally {
    bar.stop();
    await moto.stop();
  }
}

function usage(message: string): number {
  process.stderr.write(`InvalidRehearsalOptions: ${message}\n`);
  return 2;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`rehearsal failed: ${error.name}: ${error.message}\n`);
    process.exit(2);
  },
);
