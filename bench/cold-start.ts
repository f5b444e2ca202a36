/**
 * `npm run bench:cold`: the authorizer's cold start as a client sees it — module init plus
 * the first request — for the deployed bundle (lean DynamoDB client) and the previous SDK path
 * (bench/entries/authorizer-sdk-path.ts), interleaved, in fresh processes.
 *
 * Module init alone (`npm run bench`, section 3) could be cut by deferring work to the first
 * request; this measure cannot be gamed that way. Each run is a fresh `node` that requires the
 * bundle (SDK packages through NODE_PATH, as on Lambda) and calls its handler once with an
 * HTTP API event carrying a valid key; DynamoDB is a loopback stand-in in its own process that
 * answers GetItem with that key's ACTIVE record and UpdateItem with `{}` (plain HTTP: no TLS
 * handshake, which both paths would pay alike). Metrics and logs are switched off.
 *
 * Knobs: BENCH_COLD_RUNS (fresh processes per bundle, default 15). Prints a table; writes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateApiKey, hashApiKey, keyIdOf } from '../lambdas/core/api-key';
import { bundleAuthorizer, LAMBDA_BUILD_OPTIONS, SDK_PATH_ENTRY, standInLambdaEnvironment } from './lib/bundle';
import { median } from './lib/stats';
import { renderTable } from './lib/table';

// The stand-in DynamoDB: prints its port, then answers GetItem with ITEM (argv[1]) and anything else with {}.
const SERVER_SCRIPT = `
const item = process.argv[1];
require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(String(req.headers['x-amz-target']).endsWith('.GetItem') ? '{"Item":' + item + '}' : '{}');
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
`;

// One cold start: require() the bundle, call the handler once; prints [initMs, firstRequestMs].
const CHILD_SCRIPT = `
const t0 = process.hrtime.bigint();
const { handler } = require(process.argv[1]);
const t1 = process.hrtime.bigint();
handler({ version: '2.0', type: 'REQUEST', routeKey: 'GET /orders', headers: { authorization: 'Bearer ' + process.argv[2] } }).then((answer) => {
  const t2 = process.hrtime.bigint();
  if (!answer.isAuthorized) throw new Error('the key was refused: ' + JSON.stringify(answer));
  process.stdout.write(JSON.stringify([Number(t1 - t0) / 1e6, Number(t2 - t1) / 1e6]));
  process.exit(0);
});
`;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer; got '${raw}'.`);
  return value;
}

async function main(): Promise<void> {
  const runs = positiveInt('BENCH_COLD_RUNS', 15);
  const key = generateApiKey('kr');
  const keyHash = hashApiKey(key);
  const item = {
    pk: { S: `KEY#${keyHash}` },
    sk: { S: 'KEY' },
    keyHash: { S: keyHash },
    keyId: { S: keyIdOf(key) },
    clientId: { S: 'bench-client' },
    secretVersionId: { S: 'initial' },
    rotationId: { S: 'initial' },
    state: { S: 'ACTIVE' },
    scopes: { L: [{ S: 'orders:read' }] },
    createdAt: { S: '2026-01-01T00:00:00.000Z' },
  };
  const bundles = [
    { id: 'deployed (lean client)', code: (await bundleAuthorizer()).code },
    { id: 'sdkPath (SDK, as before)', code: (await bundleAuthorizer(LAMBDA_BUILD_OPTIONS, SDK_PATH_ENTRY)).code },
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyroll-cold-'));
  const server = spawn(process.execPath, ['-e', SERVER_SCRIPT, JSON.stringify(item)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      server.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      server.once('exit', (code) => reject(new Error(`the stand-in DynamoDB exited (${code})`)));
    });
    const env = standInLambdaEnvironment(port, dir, { TABLE_NAME: 'bench-table', KEY_PREFIX: 'kr' });
    const files = bundles.map((b, k) => {
      const file = path.join(mkdtempSync(path.join(dir, `b${k}-`)), 'index.js');
      writeFileSync(file, b.code);
      return file;
    });
    const samples = bundles.map(() => ({ init: [] as number[], first: [] as number[], total: [] as number[] }));
    const once = (k: number) => {
      const child = spawnSync(process.execPath, ['-e', CHILD_SCRIPT, files[k], key], { env, cwd: dir, encoding: 'utf8', timeout: 30_000 });
      if (child.status !== 0) throw new Error(`cold-start child failed with ${child.status ?? child.signal}: ${child.stderr.slice(0, 2000)}`);
      const [init, first] = JSON.parse(child.stdout) as [number, number];
      samples[k].init.push(init);
      samples[k].first.push(first);
      samples[k].total.push(init + first);
    };
    const load = os.loadavg();
    // One discarded run each (cold OS file cache), then interleaved, alternating the order.
    bundles.forEach((_, k) => once(k));
    samples.forEach((s) => Object.values(s).forEach((series) => series.splice(0)));
    for (let i = 0; i < runs; i++) for (const k of i % 2 ? [1, 0] : [0, 1]) once(k);
    const fmt = (series: number[]) => `${median(series).toFixed(1)} / ${Math.min(...series).toFixed(1)}`;
    process.stdout.write(
      [
        `Authorizer cold start: init + first request (fresh node ${process.version} process per run, ${runs} runs each, interleaved; load average at start ${load.map((l) => l.toFixed(2)).join(' ')})`,
        renderTable(
          ['bundle', 'init ms (median / min)', 'first request ms', 'init + first request ms'],
          bundles.map((b, k) => [b.id, fmt(samples[k].init), fmt(samples[k].first), fmt(samples[k].total)]),
        ),
        '   DynamoDB is a loopback stand-in over plain HTTP: the figures leave out the network and TLS, which both paths pay alike.',
        '',
      ].join('\n'),
    );
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench:cold] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
