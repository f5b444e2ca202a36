/**
 * `npm run bench:pickup`: the key pickup endpoint's latency and its cold start.
 *
 * 1. Latency through the local server (local/pickup-server.ts: the real handler behind a
 *    loopback HTTP server) against moto: each sample is one `POST /pickup` round trip with a
 *    fresh assertion signed beforehand (ES256, then RS256/PS256 for RSA keys), timed from the
 *    request to the last byte of the JWE; decrypting it is the client's and not timed. Requests
 *    go one at a time (moto is behind a serialising proxy anyway), across BENCH_PICKUP_CLIENTS
 *    clients. What a pickup costs here is moto (GetItem, the conditional PutItem, GetSecretValue)
 *    plus the crypto; on AWS add API Gateway and the network.
 * 2. Cold start of the bundled handler (LAMBDA_BUILD_OPTIONS, as deployed): a fresh `node`
 *    requires the bundle (SDK packages through NODE_PATH, as on Lambda) and answers one pickup,
 *    against a loopback stand-in that answers GetItem with the client record, PutItem with `{}`
 *    and GetSecretValue with the key (plain HTTP, as bench/cold-start.ts does for the authorizer).
 *
 * Knobs: BENCH_PICKUP_REQUESTS (per key type, default 300), BENCH_PICKUP_CLIENTS (default 20),
 * BENCH_COLD_RUNS (default 10). Prints tables; writes nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { build } from 'esbuild';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { dynamoDbClient, secretsManagerClient } from '../lambdas/aws/clients';
import { registerClient } from '../lambdas/aws/client-provisioning';
import { KeyRepository } from '../lambdas/aws/key-repository';
import { SecretStore } from '../lambdas/aws/secret-store';
import { clientItemKey } from '../lambdas/aws/table-keys';
import { generateApiKey, hashApiKey, keyIdOf } from '../lambdas/core/api-key';
import { systemClock } from '../lambdas/core/clock';
import { JWT_BEARER_ASSERTION_TYPE } from '../lambdas/core/pickup';
import { pointSdkAtEmulator, startMoto } from '../local/moto';
import { startPickupServer } from '../local/pickup-server';
import { LAMBDA_BUILD_OPTIONS, PROJECT_ROOT, standInLambdaEnvironment } from './lib/bundle';
import { median, summarizeLatency } from './lib/stats';
import { renderTable } from './lib/table';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer; got '${raw}'.`);
  return value;
}

interface BenchKey {
  readonly alg: 'ES256' | 'PS256' | 'RS256';
  readonly kid: string;
  readonly signingKey: CryptoKey;
  readonly jwk: Record<string, string>;
}

async function benchKey(alg: BenchKey['alg']): Promise<BenchKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const kid = `bench-${alg.toLowerCase()}`;
  return { alg, kid, signingKey: privateKey, jwk: { ...((await exportJWK(publicKey)) as Record<string, string>), kid } };
}

let jtiCounter = 0;
async function assertion(clientId: string, key: BenchKey, audience: string): Promise<string> {
  return new SignJWT({ jti: `bench-${process.pid}-${(++jtiCounter).toString().padStart(10, '0')}` })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('2m')
    .sign(key.signingKey);
}

const formOf = (signed: string) => new URLSearchParams({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: signed }).toString();
const ms = (ns: number) => (ns / 1e6).toFixed(2);

/** Part 1: p50/p99 of pickups through the local server against moto. */
async function latency(requests: number, clientCount: number): Promise<string> {
  const moto = await startMoto();
  pointSdkAtEmulator(moto.endpoint);
  try {
    // The pickup reads client items and writes jti items only: the table's keys are all it needs (no index).
    const tableName = `keyroll-bench-pickup-${process.pid}`;
    const dynamo = new DynamoDBClient({});
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: ['pk', 'sk'].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    dynamo.destroy();
    const keys = await Promise.all((['ES256', 'PS256', 'RS256'] as const).map(benchKey));
    const repository = new KeyRepository(dynamoDbClient(), tableName);
    const secrets = new SecretStore(secretsManagerClient());
    const clientIds: string[] = [];
    for (let i = 0; i < clientCount; i++) {
      const client = await registerClient(
        { secrets, keys: repository, clock: systemClock, settings: { keyPrefix: 'kr', secretNamePrefix: `keyroll-bench/${process.pid}/` } },
        { clientId: `bench-${i}`, scopes: ['orders:read'], requestedBy: 'bench', reason: 'bench' },
      );
      await dynamoDbClient().send(
        new UpdateCommand({
          TableName: tableName,
          Key: clientItemKey(client.clientId),
          UpdateExpression: 'SET delivery = :d',
          // MAX_PICKUP_KEYS is 2: EC on every client, then one RSA key of each kind on alternate clients.
          ExpressionAttributeValues: { ':d': { readers: [], endpoints: [], pickupKeys: [keys[0], keys[1 + (i % 2)]].map((k) => ({ kid: k.kid, jwk: k.jwk })) } },
        }),
      );
      clientIds.push(client.clientId);
    }
    const server = await startPickupServer({
      tableName,
      logger: new Logger({ serviceName: 'bench', logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'KeyRollBench', serviceName: 'bench' }),
    });
    const rows: string[][] = [];
    try {
      for (const key of keys) {
        const eligible = clientIds.filter((_, i) => key.alg === 'ES256' || keys[1 + (i % 2)] === key);
        // Warm-up (JIT, keep-alive sockets, moto's first requests): not counted.
        for (let i = 0; i < 20; i++) await pickup(server.url, eligible[i % eligible.length], key);
        const samples = new Float64Array(requests);
        for (let i = 0; i < requests; i++) samples[i] = await pickup(server.url, eligible[i % eligible.length], key);
        const s = summarizeLatency(samples);
        rows.push([key.alg === 'ES256' ? 'EC P-256 (ES256 / ECDH-ES+A256KW)' : `RSA 2048 (${key.alg} / RSA-OAEP-256)`, String(s.samples), ms(s.p50Ns), ms(s.p90Ns), ms(s.p99Ns), ms(s.maxNs)]);
      }
    } finally {
      await server.close();
    }
    return [
      `Pickup latency through local/pickup-server.ts against moto (${clientCount} clients, ${requests} sequential requests per key type after 20 warm-up; node ${process.version}; load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})`,
      renderTable(['client key', 'requests', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'], rows),
    ].join('\n');
  } finally {
    await moto.stop();
  }
}

/** One timed pickup (signing is done before the clock starts); must answer 200. */
async function pickup(url: string, clientId: string, key: BenchKey): Promise<number> {
  const body = formOf(await assertion(clientId, key, url));
  const start = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const text = await response.text();
  const elapsedNs = (performance.now() - start) * 1e6;
  if (response.status !== 200) throw new Error(`pickup answered ${response.status}: ${text}`);
  return elapsedNs;
}

// The stand-in for DynamoDB and Secrets Manager: prints its port; GetItem → ITEM (argv[1]), GetSecretValue → SECRET (argv[2]), anything else → {}.
const SERVER_SCRIPT = `
const [item, secret] = [process.argv[1], process.argv[2]];
require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const target = String(req.headers['x-amz-target']);
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(target.endsWith('.GetItem') ? '{"Item":' + item + '}' : target.endsWith('.GetSecretValue') ? secret : '{}');
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port) + '\\n'); });
`;

// One cold start: require() the bundle, answer one pickup; prints [initMs, firstRequestMs].
const CHILD_SCRIPT = `
const t0 = process.hrtime.bigint();
const { handler } = require(process.argv[1]);
const t1 = process.hrtime.bigint();
handler({ httpMethod: 'POST', path: '/pickup', headers: { 'content-type': 'application/x-www-form-urlencoded' }, isBase64Encoded: false, body: process.argv[2] }).then((answer) => {
  const t2 = process.hrtime.bigint();
  if (answer.statusCode !== 200) throw new Error('the pickup was refused: ' + JSON.stringify(answer));
  process.stdout.write(JSON.stringify([Number(t1 - t0) / 1e6, Number(t2 - t1) / 1e6]));
  process.exit(0);
});
`;

/** Part 2: the bundled handler's cold start (init + first pickup), in fresh processes. */
async function coldStart(runs: number): Promise<string> {
  const result = await build({
    ...LAMBDA_BUILD_OPTIONS,
    entryPoints: [path.join('lambdas', 'handlers', 'pickup.ts')],
    outfile: 'index.js',
    absWorkingDir: PROJECT_ROOT,
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles.find((f) => f.path.endsWith('index.js'))!.contents;
  const audience = 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/pickup';
  const apiKey = generateApiKey('kr');
  const key = await benchKey('ES256');
  const item = {
    pk: { S: 'CLIENT#bench-client' },
    sk: { S: 'CLIENT' },
    clientId: { S: 'bench-client' },
    secretId: { S: 'keyroll/clients/bench-client' },
    currentKeyId: { S: keyIdOf(apiKey) },
    currentKeyHash: { S: hashApiKey(apiKey) },
    currentVersionId: { S: 'initial' },
    delivery: { M: { readers: { L: [] }, endpoints: { L: [] }, pickupKeys: { L: [{ M: { kid: { S: key.kid }, jwk: { M: Object.fromEntries(Object.entries(key.jwk).map(([k, v]) => [k, { S: v }])) } } }] } } },
  };
  const secret = {
    ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keyroll/clients/bench-client-AbCdEf',
    Name: 'keyroll/clients/bench-client',
    VersionId: 'initial',
    SecretString: JSON.stringify({ apiKey, keyId: keyIdOf(apiKey) }),
    VersionStages: ['AWSCURRENT'],
    CreatedDate: 1,
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'keyroll-pickup-cold-'));
  const server = spawn(process.execPath, ['-e', SERVER_SCRIPT, JSON.stringify(item), JSON.stringify(secret)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<string>((resolve, reject) => {
      server.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      server.once('exit', (status) => reject(new Error(`the stand-in exited (${status})`)));
    });
    const file = path.join(dir, 'index.js');
    writeFileSync(file, code);
    const env = standInLambdaEnvironment(port, dir, { TABLE_NAME: 'bench-table', PICKUP_AUDIENCE: audience });
    const init: number[] = [];
    const first: number[] = [];
    const total: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const body = formOf(await assertion('bench-client', key, audience));
      const child = spawnSync(process.execPath, ['-e', CHILD_SCRIPT, file, body], { env, cwd: dir, encoding: 'utf8', timeout: 30_000 });
      if (child.status !== 0) throw new Error(`cold-start child failed with ${child.status ?? child.signal}: ${child.stderr.slice(0, 2000)}`);
      if (i === 0) continue; // cold OS file cache: discarded
      const [a, b] = JSON.parse(child.stdout) as [number, number];
      init.push(a);
      first.push(b);
      total.push(a + b);
    }
    const fmt = (series: number[]) => `${median(series).toFixed(1)} / ${Math.min(...series).toFixed(1)}`;
    return [
      `Pickup handler cold start: init + first pickup (bundle ${(code.length / 1024).toFixed(0)} KiB; fresh node ${process.version} per run, ${runs} runs; load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})`,
      renderTable(['bundle', 'init ms (median / min)', 'first pickup ms', 'init + first pickup ms'], [['pickup.ts (SDK clients, jose)', fmt(init), fmt(first), fmt(total)]]),
      '   DynamoDB and Secrets Manager are a loopback stand-in over plain HTTP (no network, no TLS).',
    ].join('\n');
  } finally {
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  // The bench prints its own figures: no EMF lines from the handler's metrics.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const requests = positiveInt('BENCH_PICKUP_REQUESTS', 300);
  const clients = positiveInt('BENCH_PICKUP_CLIENTS', 20);
  const runs = positiveInt('BENCH_COLD_RUNS', 10);
  process.stdout.write(`${await latency(requests, clients)}\n\n`);
  process.stdout.write(`${await coldStart(runs)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[bench:pickup] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
