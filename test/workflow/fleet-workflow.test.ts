/**
 * Fleet rotation through the synthesized fleet definition, run locally: its Map starts real
 * rotations (the synthesized rotation definition, real handlers, moto) that answer the
 * item's task token. Calls go through the quota proxy, so throttling is real: the Secrets
 * Manager write quota is lowered here to make it bite with a handful of clients.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import { Stage } from '../../lambdas/aws/secret-store';
import { FleetStates } from '../../lib/fleet-definition';
import { LocalFleetRunner, type LocalFleetOptions } from '../../local/local-fleet-runner';
import { MAX_PAYLOAD_BYTES, measurePayloads, payloadBytes } from '../../local/step-functions-limits';
import { peakRate, QuotaProxy, SECRETS_MANAGER_WRITE_QUOTA } from '../../local/quota-proxy';
import { resolveFleetWorkflow, resolveWorkflow, type LocalResources, type SynthesizedKeyRoll } from '../../local/synthesized-workflow';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import { DEFAULT_FLEET_PAGE_SETTINGS, type FleetPageSettings } from '../../lambdas/aws/fleet/fleet-page-environment';
import { createRecordedTopic, makeTestDeps, uniqueName, type RecordedTopic } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { registerIamWorld } from '../support/iam-guard';
import { synthesizedKeyRoll } from '../support/workflow-fixture';

jest.setTimeout(120_000);

let proxy: QuotaProxy;
let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let resources: LocalResources;
let synth: SynthesizedKeyRoll;

// jest workers run test files one after another in one process: what this file changes in the environment, it puts back.
const savedEnv = { endpoint: process.env.AWS_ENDPOINT_URL };

beforeAll(async () => {
  // Every SDK client of this test file (created lazily) goes through the proxy.
  proxy = await QuotaProxy.start(process.env.AWS_ENDPOINT_URL!, []);
  process.env.AWS_ENDPOINT_URL = proxy.endpoint;
  deps = await makeTestDeps();
  [clientTopic, opsTopic] = await Promise.all([createRecordedTopic(), createRecordedTopic()]);
  resources = { tableName: deps.tableName, clientTopicArn: clientTopic.topicArn, opsTopicArn: opsTopic.topicArn };
  // The stack's table, topics and state machines are these here (the IAM check resolves the template into them).
  registerIamWorld(resources);
  synth = synthesizedKeyRoll();
});

/** Every runner made here: their rotations must end before the emulator and the module registry go. */
const runners: LocalFleetRunner[] = [];

afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.settled()));
  process.env.AWS_ENDPOINT_URL = savedEnv.endpoint;
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

/** Pages of 3 clients (a handful of clients takes several pages), paced as deployed. */
const SMALL_PAGES: FleetPageSettings = { ...DEFAULT_FLEET_PAGE_SETTINGS, pageSize: 3 };

function fleetRunner(options: { realRetryIntervals?: boolean; fleetPage?: FleetPageSettings } & Pick<LocalFleetOptions, 'loseStartResponse' | 'rotationStub'> = {}) {
  const transitions: string[] = [];
  const runner = new LocalFleetRunner(
    resolveFleetWorkflow(synth, resources),
    resolveWorkflow(synth, resources),
    { ...deps, fleetPage: options.fleetPage ?? SMALL_PAGES },
    {
      ...(options.loseStartResponse ? { loseStartResponse: options.loseStartResponse } : {}),
      ...(options.rotationStub ? { rotationStub: options.rotationStub } : {}),
      // Simulated time: the clock jumps to where a rotation's Wait would end.
      waitUntil: async (targetMs) => {
        const clock = deps.clock as ManualClock;
        if (targetMs > clock.nowMs()) clock.advance(targetMs - clock.nowMs());
      },
      realRetryIntervals: options.realRetryIntervals ?? false,
      onEvent: (event, machine) => {
        if (event.type === 'StateEntered' && machine === 'fleet') transitions.push(String(event.state?.name));
      },
    },
  );
  runners.push(runner);
  return { runner, transitions };
}

/** What `keyroll rotate-fleet --clients` does: the list goes to the table under the fleet id, the execution input names it. */
async function listedRequest(fleetId: string, request: { mode: string; reason: string; requestedBy: string }, clientIds: string[]) {
  return { ...request, listed: await deps.keys.fleetSelections().write(fleetId, clientIds) };
}

/** The rotation id (execution name) a fleet gives a client's item. */
const itemRotationId = (fleetId: string, clientId: string) => createHash('sha256').update(`${fleetId}/${clientId}`).digest('hex'); // independent of core/fleet.ts on purpose

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
    expect(
      notices
        .filter((n) => n.eventType === 'key.emergency')
        .map((n) => n.clientId)
        .sort(),
    ).toEqual(tagged.map((c) => c.clientId).sort());
  });

  it('fails as FleetRotationIncomplete naming the clients it could not rotate, and rotates the rest', async () => {
    const busy = await register(uniqueName('fleet-busy'));
    const idle = await register(uniqueName('fleet-idle'));
    await deps.keys.acquireLock(
      busy.clientId,
      { rotationId: 'held-by-someone-else-0000000000000', acquiredAt: new Date(deps.clock.nowMs()).toISOString(), expiresAt: new Date(deps.clock.nowMs() + 3600_000).toISOString() },
      {
        clientId: busy.clientId,
        at: new Date(deps.clock.nowMs()).toISOString(),
        action: 'rotation.started.manual',
        actor: 'test',
        reason: 'in flight',
      },
    );
    const { runner } = fleetRunner();
    const fleetId = randomUUID();
    const result = await runner.run(await listedRequest(fleetId, { mode: 'scheduled', reason: 'quarterly', requestedBy: 'scheduler' }, [busy.clientId, idle.clientId]), fleetId);
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
    // One write a second: the Map's concurrent rotations (simulated waits, so no pacing delay)
    // always collide on it, however slowly the machine runs, so throttling happens and must be absorbed.
    const perSecond = 1;
    proxy.setQuotas([{ ...SECRETS_MANAGER_WRITE_QUOTA, perSecond }]);
    proxy.resetStats();
    try {
      const { runner } = fleetRunner({ realRetryIntervals: true });
      const fleetId = randomUUID();
      const result = await runner.run(
        await listedRequest(
          fleetId,
          { mode: 'emergency', reason: 'INC-2', requestedBy: 'oncall' },
          clients.map((c) => c.clientId),
        ),
        fleetId,
      );
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

/** `count` client ids of 64 characters (the longest a client id may be). */
const longIds = (count: number, prefix: string) => Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`.padEnd(64, 'x'));

/** The fleet page size of a production page (500 items), its starts not spaced (no real pacing in a test). */
const PRODUCTION_PAGES: FleetPageSettings = { pageSize: 500, writesPerSecond: 1_000_000_000 };

function largest(sizes: Map<string, number>): [string, number] {
  return [...sizes.entries()].reduce((a, b) => (b[1] > a[1] ? b : a));
}

describe('a fleet within Step Functions limits (256 KiB per execution input, state input/output and task result)', () => {
  it('refuses an inline list as the execution input: a list lives in the table', async () => {
    const { runner } = fleetRunner();
    const result = await runner.run({ mode: 'manual', reason: 'x', requestedBy: 'y', clientIds: ['a'] }, randomUUID());
    expect(result).toMatchObject({ status: 'FAILED', error: 'InvalidOperationInput' });
  });

  it('StartExecution refuses what AWS refuses: the old inline shape of 10,000 ids, a name over 80 characters or with a forbidden character', async () => {
    const { runner } = fleetRunner();
    const inline = { mode: 'manual', reason: 'quarterly', requestedBy: 'alice', clientIds: longIds(10_000, 'inline') };
    // ~700 KB: what today's CLI would send.
    expect(payloadBytes(inline)).toBeGreaterThan(600_000);
    await expect(runner.run(inline, randomUUID())).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(runner.run({ mode: 'manual', reason: 'x', requestedBy: 'y', all: true }, 'f'.repeat(81))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(runner.run({ mode: 'manual', reason: 'x', requestedBy: 'y', all: true }, 'fleet:1')).rejects.toMatchObject({ name: 'InvalidName' });
  });

  it('rotates 10,000 listed clients of 64-character ids with every payload under 256 KiB', async () => {
    const ids = longIds(10_000, 'big');
    const fleetId = `fleet-${randomUUID()}`;
    const { runner, transitions } = fleetRunner({ rotationStub: () => ({ ok: true }), fleetPage: PRODUCTION_PAGES });
    const measurement = measurePayloads();
    const result = await runner.run(await listedRequest(fleetId, { mode: 'manual', reason: 'annual rotation', requestedBy: 'alice' }, ids), fleetId);
    const sizes = measurement.stop();
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ rotated: 10_000, failed: 0 });
    expect(transitions.filter((s) => s === FleetStates.LIST_CLIENTS)).toHaveLength(21);
    // One rotation per client, each named for the fleet and the client.
    const rotations = await Promise.all(result.rotations);
    expect(new Set(rotations.map((r) => r.rotationId))).toEqual(new Set(ids.map((id) => itemRotationId(fleetId, id))));
    const [state, bytes] = largest(sizes);
    console.log(
      `10,000 listed clients: execution input ${sizes.get('StartExecution execution input')} B; ListClients output ${sizes.get('ListClients output')} B; RotateClients input ${sizes.get('RotateClients input')} / output ${sizes.get('RotateClients output')} B; item input ${sizes.get('PaceStart input')} B; largest ${state} ${bytes} B of ${MAX_PAYLOAD_BYTES}`,
    );
    expect(bytes).toBeLessThan(MAX_PAYLOAD_BYTES * 0.8);
    await opsTopic.drain();
  });

  it('reports a page where every client fails with the longest error name, bounded, without exceeding a limit', async () => {
    const ids = longIds(1_000, 'fail');
    const fleetId = `fleet-${randomUUID()}`;
    const longError = `KeyRoll.${'E'.repeat(248)}`; // 256 characters: SendTaskFailure's most
    const { runner } = fleetRunner({ rotationStub: () => ({ error: longError, cause: 'c'.repeat(32_768) }), fleetPage: PRODUCTION_PAGES });
    const measurement = measurePayloads();
    const result = await runner.run(await listedRequest(fleetId, { mode: 'emergency', reason: 'INC-3', requestedBy: 'oncall' }, ids), fleetId);
    const sizes = measurement.stop();
    expect(result).toMatchObject({ status: 'FAILED', error: 'FleetRotationIncomplete' });
    const [ops] = (await opsTopic.drain()).map((m) => m.message);
    const notice = JSON.parse(ops) as { failed: number; failedClients: unknown[]; moreFailedClients: number; summary: string };
    expect(notice).toMatchObject({ failed: 1_000, moreFailedClients: 950 });
    expect(notice.failedClients).toHaveLength(50);
    expect(notice.summary).toContain('950 more');
    const [state, bytes] = largest(sizes);
    console.log(
      `1,000 failed clients, 256-character errors: RotateClients output ${sizes.get('RotateClients output')} B; ListClients input ${sizes.get('ListClients input')} B; fleet.finished notice ${Buffer.byteLength(ops)} B; largest ${state} ${bytes} B of ${MAX_PAYLOAD_BYTES}`,
    );
    expect(bytes).toBeLessThan(MAX_PAYLOAD_BYTES * 0.8);
  });
});

describe('fleet item starts', () => {
  it('a lost StartExecution response and its retry make one rotation, and the client counts as rotated', async () => {
    const client = await register(uniqueName('fleet-lost'));
    const before = await currentKeyOf(client.secretId);
    let lost = 0;
    const { runner, transitions } = fleetRunner({ loseStartResponse: () => lost++ === 0 });
    const fleetId = randomUUID();
    const result = await runner.run(await listedRequest(fleetId, { mode: 'manual', reason: 'quarterly', requestedBy: 'alice' }, [client.clientId]), fleetId);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ rotated: 1, failed: 0 });
    // The retry found the execution already there (its input carries another attempt's token) and read the client instead.
    expect(transitions).toEqual(expect.arrayContaining([FleetStates.FIND_STARTED_ROTATION]));
    const rotations = await Promise.all(result.rotations);
    expect(rotations.map((r) => [r.rotationId, r.status])).toEqual([[itemRotationId(fleetId, client.clientId), 'SUCCEEDED']]);
    expect((await deps.keys.requireClient(client.clientId)).currentVersionId).toBe(itemRotationId(fleetId, client.clientId));
    expect(await currentKeyOf(client.secretId)).not.toBe(before);
    await expectConsistent(deps, client.clientId);
    await Promise.all([opsTopic.drain(), clientTopic.drain()]);
  });

  it('the same fleet id is one execution: a second start of it is refused, and its selection cannot change', async () => {
    const client = await register(uniqueName('fleet-once'));
    const { runner } = fleetRunner();
    const fleetId = randomUUID();
    const request = await listedRequest(fleetId, { mode: 'manual', reason: 'quarterly', requestedBy: 'alice' }, [client.clientId]);
    expect(await listedRequest(fleetId, { mode: 'manual', reason: 'quarterly', requestedBy: 'alice' }, [client.clientId])).toEqual(request);
    await expect(deps.keys.fleetSelections().write(fleetId, [client.clientId, 'someone-else'])).rejects.toMatchObject({ name: 'FleetSelectionConflict' });
    expect((await runner.run(request, fleetId)).status).toBe('SUCCEEDED');
    await expect(runner.run(request, fleetId)).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
    await Promise.all([opsTopic.drain(), clientTopic.drain()]);
  });
});
