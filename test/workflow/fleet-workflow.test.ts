/**
 * Fleet rotation through the synthesized fleet definition, run locally: its Map starts real
 * rotations (the synthesized rotation definition, real handlers, moto) that answer the
 * item's task token. Calls go through the quota proxy, so throttling is real: the Secrets
 * Manager write quota is lowered here to make it bite with a handful of clients.
 */
import { randomUUID } from 'node:crypto';
import type { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { Stage } from '../../lambdas/aws/secret-store';
import { FleetStates } from '../../lib/fleet-definition';
import { LocalFleetRunner } from '../../lib/local/local-fleet-runner';
import { peakRate, QuotaProxy, SECRETS_MANAGER_WRITE_QUOTA } from '../../lib/local/quota-proxy';
import { resolveFleetWorkflow, resolveWorkflow, synthesizeKeyRoll, type LocalResources } from '../../lib/local/synthesized-workflow';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import { createRecordedTopic, makeTestDeps, uniqueName, type RecordedTopic } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';

jest.setTimeout(120_000);

let proxy: QuotaProxy;
let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let resources: LocalResources;
let synth: ReturnType<typeof synthesizeKeyRoll>;

// jest workers run test files one after another in one process: what this file changes in the environment, it puts back.
const savedEnv = { endpoint: process.env.AWS_ENDPOINT_URL, pageSize: process.env.FLEET_PAGE_SIZE };

beforeAll(async () => {
  // Every SDK client of this test file (created lazily) goes through the proxy.
  proxy = await QuotaProxy.start(process.env.AWS_ENDPOINT_URL!, []);
  process.env.AWS_ENDPOINT_URL = proxy.endpoint;
  process.env.FLEET_PAGE_SIZE = '3';
  deps = await makeTestDeps();
  [clientTopic, opsTopic] = await Promise.all([createRecordedTopic(), createRecordedTopic()]);
  resources = { tableName: deps.tableName, clientTopicArn: clientTopic.topicArn, opsTopicArn: opsTopic.topicArn };
  synth = synthesizeKeyRoll();
});

afterAll(async () => {
  process.env.AWS_ENDPOINT_URL = savedEnv.endpoint;
  if (savedEnv.pageSize === undefined) delete process.env.FLEET_PAGE_SIZE;
  else process.env.FLEET_PAGE_SIZE = savedEnv.pageSize;
  await proxy.close();
});

async function register(clientId: string, tags?: string[]) {
  return registerClient(
    { secrets: deps.secrets, keys: deps.keys, clock: deps.clock, settings: { keyPrefix: deps.settings.keyPrefix, secretNamePrefix: deps.secretNamePrefix } },
    { clientId, scopes: ['orders:read'], ...(tags ? { tags } : {}), requestedBy: 'test', reason: 'fleet test setup' },
  );
}

/** One after another: moto's server is not safe under concurrent transactions. */
async function registerMany(count: number, prefix: string, tags?: string[]) {
  const clients = [];
  for (let i = 0; i < count; i++) clients.push(await register(uniqueName(`${prefix}-${i}`), tags));
  return clients;
}

function fleetRunner(options: { realRetryIntervals?: boolean } = {}) {
  const transitions: string[] = [];
  const runner = new LocalFleetRunner(resolveFleetWorkflow(synth, resources), resolveWorkflow(synth, resources), deps, {
    // Simulated time: the clock jumps to where a rotation's Wait would end.
    waitUntil: async (targetMs) => {
      const clock = deps.clock as ManualClock;
      if (targetMs > clock.nowMs()) clock.advance(targetMs - clock.nowMs());
    },
    realRetryIntervals: options.realRetryIntervals ?? false,
    onEvent: (event, machine) => {
      if (event.type === 'StateEntered' && machine === 'fleet') transitions.push(String(event.state?.name));
    },
  });
  return { runner, transitions };
}

const currentKeyOf = async (secretId: string) => (await deps.secrets.readStage(secretId, Stage.CURRENT))!.value.apiKey;

describe('a fleet rotation', () => {
  it('rotates exactly the tagged clients, page by page, and reports the outcome to ops', async () => {
    const tag = uniqueName('tier');
    const tagged = await registerMany(7, 'fleet', [tag, 'everyone']);
    const untagged = await register(uniqueName('fleet-other'), ['everyone']);
    const before = new Map(await Promise.all([...tagged, untagged].map(async (c) => [c.clientId, await currentKeyOf(c.secretId)] as const)));
    const { runner, transitions } = fleetRunner();

    const result = await runner.run({ mode: 'emergency', reason: 'INC-1: signing host compromised', requestedBy: 'oncall', tag }, randomUUID());

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ eventType: 'fleet.finished', rotated: 7, failed: 0 });
    // 7 clients in pages of 3: three Map runs, then the last ListClients finds none.
    expect(transitions.filter((s) => s === FleetStates.LIST_CLIENTS)).toHaveLength(4);
    const rotations = await Promise.all(result.rotations);
    expect(rotations.map((r) => r.status)).toEqual(Array(7).fill('SUCCEEDED'));
    for (const client of tagged) {
      await expectConsistent(deps, client.clientId);
      expect(await currentKeyOf(client.secretId)).not.toBe(before.get(client.clientId));
      const keys = await deps.keys.listClientKeys(client.clientId);
      expect(keys.filter((k) => k.state !== KeyState.REVOKED)).toHaveLength(1);
    }
    expect(await currentKeyOf(untagged.secretId)).toBe(before.get(untagged.clientId));
    const ops = await opsTopic.drain();
    expect(ops.map((m) => JSON.parse(m.message) as { eventType: string; rotated: number })).toEqual([expect.objectContaining({ eventType: 'fleet.finished', rotated: 7 })]);
    const notices = (await clientTopic.drain()).map((m) => JSON.parse(m.message) as { eventType: string; clientId: string });
    expect(notices.filter((n) => n.eventType === 'key.emergency').map((n) => n.clientId).sort()).toEqual(tagged.map((c) => c.clientId).sort());
  });

  it('fails as FleetRotationIncomplete naming the clients it could not rotate, and rotates the rest', async () => {
    const busy = await register(uniqueName('fleet-busy'));
    const idle = await register(uniqueName('fleet-idle'));
    await deps.keys.acquireLock(busy.clientId, { rotationId: 'held-by-someone-else-0000000000000', acquiredAt: new Date(deps.clock.nowMs()).toISOString(), expiresAt: new Date(deps.clock.nowMs() + 3600_000).toISOString() }, {
      clientId: busy.clientId, at: new Date(deps.clock.nowMs()).toISOString(), action: 'rotation.started.manual', actor: 'test', reason: 'in flight',
    });
    const { runner } = fleetRunner();
    const result = await runner.run({ mode: 'scheduled', reason: 'quarterly', requestedBy: 'scheduler', clientIds: [busy.clientId, idle.clientId] }, randomUUID());
    expect(result).toMatchObject({ status: 'FAILED', error: 'FleetRotationIncomplete' });
    expect(result.cause).toContain('RotationInProgress 1');
    // The idle client's rotation goes on to its overlap and retirement after reporting.
    expect((await Promise.all(result.rotations)).map((r) => r.status).sort()).toEqual(['FAILED', 'SUCCEEDED']);
    const ops = (await opsTopic.drain()).map((m) => JSON.parse(m.message) as Record<string, unknown>);
    expect(ops).toEqual([expect.objectContaining({ rotated: 1, failed: 1, failedClients: [{ clientId: busy.clientId, error: 'RotationInProgress' }] })]);
    await clientTopic.drain();
  });

  it('rejects a bad fleet request with a named error before touching any client', async () => {
    const { runner } = fleetRunner();
    const result = await runner.run({ mode: 'emergency', reason: 'x', requestedBy: 'y', tag: 'a', all: true }, randomUUID());
    expect(result).toMatchObject({ status: 'FAILED', error: 'InvalidOperationInput' });
    expect(result.rotations).toHaveLength(0);
  });

  it('keeps under the write quota and loses no rotation to throttling', async () => {
    const clients = await registerMany(12, 'fleet-q');
    // Half the write rate for half the writes (2 per rotation, quota-writes.test.ts): the same
    // pressure as before, so that throttling still happens and is absorbed.
    const perSecond = 3;
    proxy.setQuotas([{ ...SECRETS_MANAGER_WRITE_QUOTA, perSecond }]);
    proxy.resetStats();
    try {
      const { runner } = fleetRunner({ realRetryIntervals: true });
      const result = await runner.run({ mode: 'emergency', reason: 'INC-2', requestedBy: 'oncall', clientIds: clients.map((c) => c.clientId) }, randomUUID());
      expect(result.status).toBe('SUCCEEDED');
      expect(result.output).toMatchObject({ rotated: 12, failed: 0 });
      const stats = proxy.stats();
      expect([...stats.throttled.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(peakRate(stats.quotaCallTimes)).toBeLessThanOrEqual(perSecond);
      for (const client of clients) await expectConsistent(deps, client.clientId);
    } finally {
      proxy.setQuotas([]);
      await Promise.all([opsTopic.drain(), clientTopic.drain()]);
    }
  });
});
