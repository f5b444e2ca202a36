/**
 * `npm run bench:cost`: what one rotation costs, counted from executed runs. Real rotations
 * (the synthesized state machine, the real handlers, moto) run locally with every AWS call
 * going through the counting proxy; state transitions are counted from the interpreter's
 * events, Lambda invocations from the task handlers. The counts are priced with AWS's
 * published us-east-1 prices (the table below) and printed per 1,000 rotations; the JSON
 * goes to bench/results/cost-latest.json.
 *
 * Scenarios: a scheduled rotation whose old key is unused by its not-after (retired at
 * once), an emergency rotation, a scheduled rotation whose old key stays in use for N
 * reminder cycles (the extra cycle's cost is the difference divided by N), and a fleet
 * rotation (the fleet's own overhead per client).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { UsageRecorder } from '../lambdas/aws/auth/usage-recorder';
import { secretsManagerClient } from '../lambdas/aws/clients';
import { dynamoDbClient } from '../lambdas/aws/dynamodb-client';
import { KeyRepository } from '../lambdas/aws/key-repository';
import type { RotationDeps } from '../lambdas/aws/rotation/context';
import { SecretStore } from '../lambdas/aws/secret-store';
import { ManualClock } from '../lambdas/core/clock';
import { logger } from '../lambdas/handlers/runtime';
import { LocalFleetRunner } from '../local/local-fleet-runner';
import { LocalRotationRunner } from '../local/local-rotation-runner';
import type { LocalExecutionEvent } from '../local/local-runner';
import { pointSdkAtEmulator, startMoto } from '../local/moto';
import { QuotaProxy, SECRETS_MANAGER_WRITE_QUOTA, type ProxyStats } from '../local/quota-proxy';
import { resolveFleetWorkflow, resolveWorkflow, synthesizeKeyRoll } from '../local/synthesized-workflow';
import { provisionClient, provisionStack } from '../local/rehearsal/provision';

/** Published prices, us-east-1 (checked 2026-11). */
export const PRICES = {
  /** Step Functions Standard: per state transition ($0.025 per 1,000). */
  transition: 0.025 / 1000,
  /** Lambda: per request ($0.20 per 1M). */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda arm64: per GB-second. */
  lambdaGbSecond: 0.0000133334,
  /** Secrets Manager: per API call ($0.05 per 10,000). */
  secretsManagerCall: 0.05 / 10_000,
  /** Secrets Manager: per secret per month (one per client; not per rotation). */
  secretMonth: 0.4,
  /** DynamoDB on-demand: per write request unit ($0.625 per million). */
  dynamoWriteUnit: 0.625 / 1e6,
  /** DynamoDB on-demand: per read request unit ($0.125 per million). */
  dynamoReadUnit: 0.125 / 1e6,
  /** SNS: per publish ($0.50 per million; deliveries to SQS are free). */
  snsPublish: 0.5 / 1e6,
} as const;

/** What the Lambda GB-seconds are computed with: the stack's memory and an assumed billed duration per invocation. */
export const LAMBDA_ASSUMPTIONS = { memoryGb: 0.25, billedMsPerInvocation: 150 } as const;

/** One scenario's counts. */
export interface ScenarioCounts {
  readonly transitions: number;
  readonly lambdaInvocations: number;
  readonly byStep: Record<string, number>;
  readonly calls: Record<string, number>;
  readonly secretsManagerCalls: number;
  readonly dynamoReadUnits: number;
  readonly dynamoWriteUnits: number;
  readonly snsPublishes: number;
}

/** Dollars for one run of a scenario. */
export function priceOf(counts: ScenarioCounts): { total: number; parts: Record<string, number> } {
  const parts = {
    stepFunctions: counts.transitions * PRICES.transition,
    lambda: counts.lambdaInvocations * (PRICES.lambdaRequest + LAMBDA_ASSUMPTIONS.memoryGb * (LAMBDA_ASSUMPTIONS.billedMsPerInvocation / 1000) * PRICES.lambdaGbSecond),
    secretsManager: counts.secretsManagerCalls * PRICES.secretsManagerCall,
    dynamodb: counts.dynamoReadUnits * PRICES.dynamoReadUnit + counts.dynamoWriteUnits * PRICES.dynamoWriteUnit,
    sns: counts.snsPublishes * PRICES.snsPublish,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

/** Counts from the proxy and the runner's callbacks; DynamoDB items are small (1 unit each; 2 per transaction item). */
function countsFrom(stats: ProxyStats, transitions: number, byStep: Record<string, number>, runs: number): ScenarioCounts {
  const calls = Object.fromEntries([...stats.forwarded.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v / runs]));
  const get = (key: string) => stats.forwarded.get(key) ?? 0;
  const sum = (prefix: string) => [...stats.forwarded.entries()].filter(([k]) => k.startsWith(prefix)).reduce((a, [, v]) => a + v, 0);
  const reads = get('dynamodb:GetItem') + get('dynamodb:Query');
  const writes = get('dynamodb:PutItem') + get('dynamodb:UpdateItem') + get('dynamodb:DeleteItem') + 2 * stats.transactWriteItems;
  const invocations = Object.values(byStep).reduce((a, b) => a + b, 0);
  return {
    transitions: transitions / runs,
    lambdaInvocations: invocations / runs,
    byStep: Object.fromEntries(Object.entries(byStep).map(([k, v]) => [k, v / runs])),
    calls,
    secretsManagerCalls: sum('secretsmanager:') / runs,
    dynamoReadUnits: reads / runs,
    dynamoWriteUnits: writes / runs,
    snsPublishes: get('sns:Publish') / runs,
  };
}

const RUNS = 5;
const REMINDER_CYCLES = 3;

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  logger.setLogLevel('SILENT');
  const moto = await startMoto();
  const proxy = await QuotaProxy.start(moto.endpoint, []);
  // The rotation's calls go through the proxy; the bench's own set-up and usage simulation do not.
  pointSdkAtEmulator(proxy.endpoint);
  const direct = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: moto.endpoint }), { marshallOptions: { removeUndefinedValues: true } });
  try {
    const synth = synthesizeKeyRoll();
    const runId = randomUUID().slice(0, 8);
    const resources = await provisionStack(synth, runId);
    const clock = new ManualClock(Date.parse('2026-12-01T00:00:00Z'));
    const deps: RotationDeps = {
      secrets: new SecretStore(secretsManagerClient()),
      keys: new KeyRepository(dynamoDbClient(), resources.tableName),
      clock,
      settings: {
        keyPrefix: 'kr',
        defaultOverlapSeconds: 24 * 3600,
        overlapBounds: { minSeconds: 60, maxSeconds: 7 * 24 * 3600 },
        lockTtlSeconds: 8 * 24 * 3600,
        usageWindowSeconds: 3600,
        reminderIntervalSeconds: 6 * 3600,
        usageCheckLeadSeconds: 300,
      },
    };
    const directKeys = new KeyRepository(direct, resources.tableName);
    const usage = new UsageRecorder(directKeys, clock, 60_000);
    const workflow = resolveWorkflow(synth, resources);

    const scenario = async (name: string, request: (clientId: string) => Record<string, unknown>, oldKeyInUse: boolean): Promise<ScenarioCounts> => {
      const clients = Array.from({ length: RUNS }, (_, i) => `cost-${name}-${i}-${runId}`);
      for (const id of clients) await provisionClient(resources, clock, 'kr', id);
      let transitions = 0;
      const byStep: Record<string, number> = {};
      const runner = new LocalRotationRunner(workflow, deps, {
        onEvent: (event: LocalExecutionEvent) => {
          if (event.type === 'StateEntered' || event.type === 'StateRetried') transitions++;
        },
        onInvoke: (step) => (byStep[step] = (byStep[step] ?? 0) + 1),
      });
      proxy.resetStats();
      for (const clientId of clients) {
        const client = await directKeys.requireClient(clientId);
        const oldHash = client.currentKeyHash;
        let checks = 0;
        const result = await runner.run(request(clientId), `${name}-${randomUUID()}`, async (targetMs) => {
          if (targetMs > clock.nowMs()) clock.advance(targetMs - clock.nowMs());
          // A client still calling with its old key shortly before each usage check, for REMINDER_CYCLES checks.
          if (oldKeyInUse && checks++ < REMINDER_CYCLES) await usage.record(oldHash);
        });
        if (result.status !== 'SUCCEEDED') throw new Error(`${name}: rotation of ${clientId} ${result.status} (${result.error}: ${result.cause})`);
        if (oldKeyInUse && result.usageDecisions.filter((d) => d.decision === 'remind').length !== REMINDER_CYCLES) {
          throw new Error(`${name}: expected ${REMINDER_CYCLES} reminders, got ${JSON.stringify(result.usageDecisions)}`);
        }
      }
      return countsFrom(proxy.stats(), transitions, byStep, RUNS);
    };

    process.stderr.write('[cost] scheduled rotation, old key unused at the not-after...\n');
    const scheduled = await scenario('scheduled', (clientId) => ({ clientId, mode: 'scheduled', reason: 'cost bench', requestedBy: 'bench' }), false);
    process.stderr.write('[cost] emergency rotation...\n');
    const emergency = await scenario('emergency', (clientId) => ({ clientId, mode: 'emergency', reason: 'cost bench', requestedBy: 'bench' }), false);
    process.stderr.write(`[cost] scheduled rotation with ${REMINDER_CYCLES} reminder cycles...\n`);
    const reminded = await scenario('reminded', (clientId) => ({ clientId, mode: 'scheduled', reason: 'cost bench', requestedBy: 'bench' }), true);
    const perCycle = difference(reminded, scheduled, REMINDER_CYCLES);

    process.stderr.write('[cost] fleet rotation overhead per client...\n');
    const fleetClients = 20;
    const fleetIds = Array.from({ length: fleetClients }, (_, i) => `cost-fleet-${i}-${runId}`);
    for (const id of fleetIds) await provisionClient(resources, clock, 'kr', id);
    let fleetTransitions = 0;
    let fleetRotationTransitions = 0;
    const fleetSteps: Record<string, number> = {};
    const fleetRunner = new LocalFleetRunner(resolveFleetWorkflow(synth, resources), workflow, deps, {
      waitUntil: async (targetMs) => {
        if (targetMs > clock.nowMs()) clock.advance(targetMs - clock.nowMs());
      },
      onEvent: (event, machine) => {
        if (event.type !== 'StateEntered' && event.type !== 'StateRetried') return;
        if (machine === 'fleet') fleetTransitions++;
        else fleetRotationTransitions++;
      },
      onInvoke: (step) => (fleetSteps[step] = (fleetSteps[step] ?? 0) + 1),
    });
    proxy.resetStats();
    const fleet = await fleetRunner.run({ mode: 'emergency', reason: 'cost bench', requestedBy: 'bench', clientIds: fleetIds }, `fleet-${runId}`);
    await Promise.all(fleet.rotations);
    if (fleet.status !== 'SUCCEEDED') throw new Error(`fleet: ${fleet.status} ${fleet.error}`);
    const fleetAll = countsFrom(proxy.stats(), fleetTransitions + fleetRotationTransitions, fleetSteps, fleetClients);
    const fleetOverhead = difference(fleetAll, emergency, 1);

    const rows = [
      ['scheduled rotation (retired at the not-after)', scheduled],
      ['emergency rotation', emergency],
      [`each extra usage-aware cycle (from ${REMINDER_CYCLES} cycles)`, perCycle],
      ['fleet overhead per client (emergency fleet)', fleetOverhead],
    ] as const;
    const result = {
      date: new Date().toISOString(),
      prices: PRICES,
      lambdaAssumptions: LAMBDA_ASSUMPTIONS,
      runsPerScenario: RUNS,
      scenarios: Object.fromEntries(rows.map(([name, counts]) => [name, { counts, per1000: scale(priceOf(counts), 1000), quotaWrites: quotaWritesOf(counts) }])),
    };
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'cost-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    const quota = rows.slice(0, 2).map(([name, counts]) => {
      const { writes, boundPerSecond } = quotaWritesOf(counts);
      return `  ${name}: ${fmt(writes)} (${SECRETS_MANAGER_WRITE_QUOTA.operations.join(' + ')}) → at most ${boundPerSecond} rotations/s at ${SECRETS_MANAGER_WRITE_QUOTA.perSecond} writes/s`;
    });
    process.stdout.write(
      `${renderCostTable(rows)}\n\nQuota-bound Secrets Manager writes per rotation:\n${quota.join('\n')}\n\nSecrets Manager storage: $${PRICES.secretMonth.toFixed(2)} per client per month, whatever the rotations.\nJSON: bench/results/cost-latest.json\n`,
    );
  } finally {
    await proxy.close();
    await moto.stop();
  }
}

/**
 * Secrets Manager writes under the account's shared write quota (50/s, not adjustable) in one
 * run of a scenario, and the rotations/s that quota allows at that many.
 */
export function quotaWritesOf(counts: ScenarioCounts): { writes: number; boundPerSecond: number } {
  const writes = SECRETS_MANAGER_WRITE_QUOTA.operations.reduce((sum, op) => sum + (counts.calls[`secretsmanager:${op}`] ?? 0), 0);
  return { writes, boundPerSecond: writes > 0 ? round(SECRETS_MANAGER_WRITE_QUOTA.perSecond / writes, 2) : 0 };
}

function difference(a: ScenarioCounts, b: ScenarioCounts, over: number): ScenarioCounts {
  const diff = (x: number, y: number) => (x - y) / over;
  const keys = new Set([...Object.keys(a.calls), ...Object.keys(b.calls)]);
  const steps = new Set([...Object.keys(a.byStep), ...Object.keys(b.byStep)]);
  return {
    transitions: diff(a.transitions, b.transitions),
    lambdaInvocations: diff(a.lambdaInvocations, b.lambdaInvocations),
    byStep: Object.fromEntries([...steps].map((k) => [k, diff(a.byStep[k] ?? 0, b.byStep[k] ?? 0)]).filter(([, v]) => v !== 0)),
    calls: Object.fromEntries([...keys].map((k) => [k, diff(a.calls[k] ?? 0, b.calls[k] ?? 0)]).filter(([, v]) => v !== 0)),
    secretsManagerCalls: diff(a.secretsManagerCalls, b.secretsManagerCalls),
    dynamoReadUnits: diff(a.dynamoReadUnits, b.dynamoReadUnits),
    dynamoWriteUnits: diff(a.dynamoWriteUnits, b.dynamoWriteUnits),
    snsPublishes: diff(a.snsPublishes, b.snsPublishes),
  };
}

function scale(price: { total: number; parts: Record<string, number> }, factor: number) {
  return { total: round(price.total * factor, 4), parts: Object.fromEntries(Object.entries(price.parts).map(([k, v]) => [k, round(v * factor, 4)])) };
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** The Markdown table the README carries. */
export function renderCostTable(rows: readonly (readonly [string, ScenarioCounts])[]): string {
  const header = '| per rotation | transitions | Lambda invocations | Secrets Manager calls | DynamoDB RRU / WRU | SNS publishes | $ per 1,000 (SFN / Lambda / SM / DDB / SNS) |';
  const lines = rows.map(([name, c]) => {
    const p = scale(priceOf(c), 1000);
    const parts = ['stepFunctions', 'lambda', 'secretsManager', 'dynamodb', 'sns'].map((k) => (p.parts[k] ?? 0).toFixed(4)).join(' / ');
    return `| ${name} | ${fmt(c.transitions)} | ${fmt(c.lambdaInvocations)} | ${fmt(c.secretsManagerCalls)} | ${fmt(c.dynamoReadUnits)} / ${fmt(c.dynamoWriteUnits)} | ${fmt(c.snsPublishes)} | **${p.total.toFixed(4)}** (${parts}) |`;
  });
  return [header, '|---|---|---|---|---|---|---|', ...lines].join('\n');
}

if (require.main === module) {
  main().catch((error: Error) => {
    process.stderr.write(`cost bench failed: ${error.name}: ${error.message}\n${error.stack ?? ''}\n`);
    process.exit(1);
  });
}
