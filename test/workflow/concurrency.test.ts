/**
 * Concurrency, through the synthesized state machine (aws-local-stepfunctions, real handlers,
 * moto behind the serialising proxy): many starts for one client at once, scheduled and
 * emergency rotations colliding in both orders, emergencies at once, and rotations racing
 * the kill switch. After each: the design's invariants, nothing changed by the losers, no
 * revoked key back in service, and notices that tell the client what really happened.
 */
import { asNoPrincipal } from '../../local/local-identity';
import { SNSClient } from '@aws-sdk/client-sns';
import { ClientNotifier } from '../../lambdas/aws/client-notifier';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { revokeKey } from '../../operator/ops/revoke-key';
import type { OpsDeps } from '../../operator/ops/ops-deps';
import { Stage } from '../../lambdas/aws/secret-store';
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { scheduledRotationId, scheduledRotationRequest } from '../../lambdas/core/scheduled-start';
import { verifyApiKey } from '../../lambdas/core/verification';
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { eventually, gateBefore as newGate, type Gate } from '../support/gates';
import { expectConsistent, snapshot } from '../support/invariants';
import { LocalRotationExecutions } from '../support/local-executions';
import { restingLabelViolations } from '../support/resting-labels';
import { allVersionIds, labels } from '../support/step-helpers';
import { Tap, type RunResult, type WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';

jest.setTimeout(120_000);

type Deps = Awaited<ReturnType<typeof makeTestDeps>>;
let deps: Deps & { executions: LocalRotationExecutions };
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let runner: WorkflowRunner;
let ops: OpsDeps;
const tap = new Tap();
const executions = new LocalRotationExecutions();

beforeAll(async () => {
  ({ deps, clientTopic, opsTopic, runner } = await setUpWorkflow({ executions, tap }));
  // The kill switch needs only the table, the clock and the client topic.
  ops = { keys: deps.keys, secrets: deps.secrets, clock: deps.clock, notifier: new ClientNotifier(new SNSClient({}), clientTopic.topicArn) } as unknown as OpsDeps;
});

afterAll(() => executions.uninstall());

// Every gate is opened at the end of its test, so that no held step runs after the file.
const gates: Gate[] = [];
const gateBefore = (state: string): Gate => {
  const gate = newGate(state);
  gates.push(gate);
  return gate;
};

// A failed test must not leave its notices (or a held rotation) to the next one.
afterEach(async () => {
  for (const gate of gates.splice(0)) gate.open();
  await clientTopic.drain();
  await opsTopic.drain();
});

type Mode = 'manual' | 'scheduled' | 'emergency';
const request = (clientId: string, mode: Mode = 'manual', extra: Record<string, unknown> = {}) => ({
  clientId,
  mode,
  reason: mode === 'emergency' ? 'key leaked in a public repo' : 'quarterly rotation',
  requestedBy: mode === 'emergency' ? 'sec-oncall' : 'alice@example.com',
  ...extra,
});

/** A scheduled start as the schedule's Lambda would make it: deterministic id, the scheduler's request. */
const scheduledStart = (clientId: string, scheduledTime = '2026-11-29T02:00:00Z') => ({
  rotationId: scheduledRotationId({ clientId, scheduledTime }),
  input: scheduledRotationRequest({ clientId, scheduledTime }),
});

interface Notice {
  eventType: string;
  rotationId: string;
  currentKeyId?: string;
  revokedKeyIds?: string[];
  preemptedRotationId?: string;
  previousKeyNotAfter?: string;
  summary: string;
}
const notices = async (topic: RecordedTopic): Promise<Notice[]> => (await topic.drain()).map((m) => JSON.parse(m.message) as Notice);
const keyIdOfVersion = async (secretId: string, versionId: string) => (await deps.secrets.readVersion(secretId, versionId))!.keyId;
const stateOf = async (keyHash: string) => (await deps.keys.getKey(keyHash))?.state;
/** Where AWSPENDING and AWSPREVIOUS rest against the design (test/support/resting-labels.ts); {} when they may. */
const restingViolations = async (clientId: string) => {
  const client = await deps.keys.requireClient(clientId);
  const keys = await Promise.all((await deps.keys.listClientKeys(clientId)).map(async (k) => (await deps.keys.getKey(k.keyHash)) ?? k));
  return restingLabelViolations(await labels(client.secretId), client, keys);
};
const verdict = (apiKey: string) => verifyApiKey(apiKey, (hash) => deps.keys.getKey(hash), deps.clock, deps.settings.keyPrefix);

/**
 * What rotations other than `winner` left behind for `clientId`: key records, secret versions,
 * audit entries and notices carrying their rotation ids. Empty when the losers changed nothing.
 */
async function tracesOfLosers(clientId: string, secretId: string, losers: readonly string[], published: readonly Notice[]): Promise<string[]> {
  const lost = new Set(losers);
  const traces: string[] = [];
  for (const key of await deps.keys.listClientKeys(clientId)) if (key.rotationId && lost.has(key.rotationId)) traces.push(`key ${key.keyId} of ${key.rotationId}`);
  for (const versionId of await allVersionIds(secretId)) if (lost.has(versionId)) traces.push(`secret version ${versionId}`);
  for (const event of await deps.keys.listAudit(clientId)) if (event.rotationId && lost.has(event.rotationId)) traces.push(`audit ${event.action} of ${event.rotationId}`);
  for (const notice of published) if (lost.has(notice.rotationId)) traces.push(`notice ${notice.eventType} of ${notice.rotationId}`);
  return traces;
}

/** Every key of the client but the current one is REVOKED, and the current one is ACTIVE. */
async function onlyCurrentKeyWorks(clientId: string): Promise<void> {
  const client = await deps.keys.requireClient(clientId);
  const keys = await deps.keys.listClientKeys(clientId);
  expect(keys.filter((k) => k.state !== KeyState.REVOKED).map((k) => k.keyId)).toEqual([client.currentKeyId]);
}

/** The emergency notice names the key that is current and, as revoked, exactly the keys that are REVOKED. */
async function noticeTellsTheTruth(notice: Notice, clientId: string): Promise<void> {
  const client = await deps.keys.requireClient(clientId);
  expect(notice.currentKeyId).toBe(client.currentKeyId);
  const revoked = (await deps.keys.listClientKeys(clientId)).filter((k) => k.state === KeyState.REVOKED).map((k) => k.keyId);
  for (const keyId of notice.revokedKeyIds ?? []) expect(revoked).toContain(keyId);
}

describe('many rotations for one client started at once', () => {
  const STARTS = 10;

  it(`lets exactly one of ${STARTS} proceed; the others get RotationInProgress and change nothing`, async () => {
    const client = await registerTestClient(deps);
    const ids = Array.from({ length: STARTS }, () => newRotationId());
    const results = await Promise.all(ids.map((rotationId) => runner.run({ input: request(client.clientId), rotationId })));

    const winners = ids.filter((_, i) => results[i].status === 'SUCCEEDED');
    expect(winners).toHaveLength(1);
    const losers = ids.filter((id) => id !== winners[0]);
    expect(results.filter((r) => r.status === 'FAILED').map((r) => r.error)).toEqual(Array(STARTS - 1).fill('RotationInProgress'));
    for (const r of results.filter((r) => r.status === 'FAILED')) expect(r.attempts.get(RotationStates.VALIDATE_AND_LOCK)).toBe(1);

    await expectConsistent(deps, client.clientId);
    expect(await allVersionIds(client.secretId)).toEqual([client.currentVersionId, winners[0]].sort());
    expect(await deps.keys.listClientKeys(client.clientId)).toHaveLength(2);
    const published = await notices(clientTopic);
    expect(published.map((n) => [n.eventType, n.rotationId])).toEqual([
      ['key.rotated', winners[0]],
      ['key.retired', winners[0]],
    ]);
    expect(await notices(opsTopic)).toEqual([]);
    expect(await tracesOfLosers(client.clientId, client.secretId, losers, published)).toEqual([]);
  });

  it('(the losers check can fail: a planted key record and notice of a loser are found)', async () => {
    const client = await registerTestClient(deps);
    const loser = newRotationId();
    const planted = { ...(await deps.keys.getKey(client.currentKeyHash))!, keyHash: hashApiKey(`krt_planted_${loser}`), keyId: 'kid_planted', rotationId: loser, createdAt: '2026-11-28T10:00:01.000Z' };
    await deps.keys.applyChange({ insertKeys: [planted] });
    const traces = await tracesOfLosers(client.clientId, client.secretId, [loser], [{ eventType: 'key.rotated', rotationId: loser, summary: '' }]);
    expect(traces).toEqual([`key kid_planted of ${loser}`, `notice key.rotated of ${loser}`]);
  });

  it('lets exactly one of several scheduled deliveries and manual starts proceed, whatever the mix', async () => {
    const client = await registerTestClient(deps);
    // (One scheduled time is one execution name: Step Functions itself refuses a second one.)
    const starts = [
      scheduledStart(client.clientId),
      scheduledStart(client.clientId, '2026-11-29T02:00:01Z'),
      { rotationId: newRotationId(), input: request(client.clientId) },
      { rotationId: newRotationId(), input: request(client.clientId) },
    ];
    const results = await Promise.all(starts.map((s) => runner.run(s)));
    expect(results.filter((r) => r.status === 'SUCCEEDED')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'FAILED')) expect(r.error).toBe('RotationInProgress');
    await expectConsistent(deps, client.clientId);
    expect(await deps.keys.listClientKeys(client.clientId)).toHaveLength(2);
  });
});

describe('a scheduled and an emergency rotation colliding', () => {
  it('emergency first: the scheduled start is refused with RotationInProgress and changes nothing', async () => {
    const client = await registerTestClient(deps);
    const gate = gateBefore(RotationStates.TEST_SECRET);
    const emergencyId = newRotationId();
    const emergency = runner.run({ input: request(client.clientId, 'emergency'), rotationId: emergencyId, beforeTask: gate.beforeTask });
    await gate.reached;

    const before = await snapshot(deps, client.secretId);
    const scheduled = await runner.run(scheduledStart(client.clientId));
    expect({ status: scheduled.status, error: scheduled.error }).toEqual({ status: 'FAILED', error: 'RotationInProgress' });
    expect(scheduled.cause).toContain(emergencyId);
    expect(await snapshot(deps, client.secretId)).toEqual(before);

    gate.open();
    expect((await emergency).status).toBe('SUCCEEDED');
    await expectConsistent(deps, client.clientId);
    await onlyCurrentKeyWorks(client.clientId);
    const published = await notices(clientTopic);
    expect(published.map((n) => [n.eventType, n.rotationId])).toEqual([['key.emergency', emergencyId]]);
    expect(published[0].preemptedRotationId).toBeUndefined();
  });

  // Where the scheduled rotation is when the emergency comes, and whether its finishSecret had committed.
  const heldAt = [
    { state: RotationStates.CREATE_SECRET, finished: false },
    { state: RotationStates.SET_SECRET, finished: false },
    { state: RotationStates.TEST_SECRET, finished: false },
    { state: RotationStates.FINISH_SECRET, finished: false },
    { state: RotationStates.CHECK_USAGE, finished: true },
    { state: RotationStates.RETIRE_OLD_KEY, finished: true },
  ];

  it.each(heldAt)('scheduled rotation held before $state: the emergency preempts it, stops it, and the client is told the truth', async ({ state, finished }) => {
    const client = await registerTestClient(deps);
    const scheduled = scheduledStart(client.clientId);
    const gate = gateBefore(state);
    const held = runner.run({ ...scheduled, beforeTask: gate.beforeTask });
    await gate.reached;
    const atGate = (await deps.keys.requireClient(client.clientId)) as { pendingKeyHash?: string; currentKeyHash: string };
    const scheduledKeyHash = finished ? atGate.currentKeyHash : atGate.pendingKeyHash;

    const emergencyId = newRotationId();
    const emergency = await runner.run({ input: request(client.clientId, 'emergency'), rotationId: emergencyId });
    const stopped = await held;

    expect(emergency.status).toBe('SUCCEEDED');
    expect(stopped.status).toBe('FAILED');
    expect(executions.stopped.get(scheduled.rotationId)).toMatchObject({ error: 'KeyRoll.Preempted' });

    await expectConsistent(deps, client.clientId);
    // AWSPREVIOUS may stay on the version AWSCURRENT left (its key revoked below), AWSPENDING on the current one.
    expect(await labels(client.secretId)).toEqual({ [emergencyId]: [Stage.CURRENT, Stage.PENDING], [finished ? scheduled.rotationId : client.currentVersionId]: [Stage.PREVIOUS] });
    await onlyCurrentKeyWorks(client.clientId);
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    if (scheduledKeyHash) expect(await stateOf(scheduledKeyHash)).toBe(KeyState.REVOKED);
    const audit = (await deps.keys.listAudit(client.clientId)).map((e) => `${e.action}:${e.rotationId}`);
    expect(audit).toContain(`rotation.preempted:${emergencyId}`);
    expect(audit.includes(`rotation.rolled_back:${scheduled.rotationId}`)).toBe(!finished);

    const published = await notices(clientTopic);
    const emergencyNotice = published.find((n) => n.rotationId === emergencyId)!;
    expect(published.map((n) => [n.eventType, n.rotationId])).toEqual([...(finished ? [['key.rotated', scheduled.rotationId]] : []), ['key.emergency', emergencyId]]);
    expect(emergencyNotice.preemptedRotationId).toBe(scheduled.rotationId);
    await noticeTellsTheTruth(emergencyNotice, client.clientId);
    const scheduledKeyId = finished ? await keyIdOfVersion(client.secretId, scheduled.rotationId) : undefined;
    expect([...(emergencyNotice.revokedKeyIds ?? [])].sort()).toEqual([client.currentKeyId, ...(scheduledKeyId ? [scheduledKeyId] : [])].sort());
    // A key the client had as current (after key.rotated) must not be called "never valid".
    if (finished) expect(emergencyNotice.summary).toContain(`the key it had made current (${scheduledKeyId}) is revoked`);
    else expect(emergencyNotice.summary).toContain('its new key was never valid for you');
    expect(await notices(opsTopic)).toEqual([]);

    // The stopped rotation's step that was about to run now runs late, as a Lambda invoked just
    // before StopExecution would: the lock guard refuses it and nothing changes.
    const after = await snapshot(deps, client.secretId);
    const mark = tap.records.length;
    gate.open();
    await eventually(() => tap.records.slice(mark).some((r) => r.source === `${state} error` || r.source === `${state} output`), `the late ${state}`);
    expect(await snapshot(deps, client.secretId)).toEqual(after);
    await expectConsistent(deps, client.clientId);
  });

  it('two emergencies at once: one ends current, the other is stopped or refused, one notice', async () => {
    const client = await registerTestClient(deps);
    const ids = [newRotationId(), newRotationId()];
    const results = await Promise.all(ids.map((rotationId) => runner.run({ input: request(client.clientId, 'emergency'), rotationId })));
    await expectOneEmergencyWon(client, ids, results);
  });

  it('three emergencies at once: the same', async () => {
    const client = await registerTestClient(deps);
    const ids = [newRotationId(), newRotationId(), newRotationId()];
    const results = await Promise.all(ids.map((rotationId) => runner.run({ input: request(client.clientId, 'emergency'), rotationId })));
    await expectOneEmergencyWon(client, ids, results);
  });

  async function expectOneEmergencyWon(client: { clientId: string; secretId: string; currentKeyId: string }, ids: string[], results: RunResult[]) {
    const winners = ids.filter((_, i) => results[i].status === 'SUCCEEDED');
    expect(winners).toHaveLength(1);
    for (const [i, r] of results.entries()) {
      if (r.status === 'SUCCEEDED') continue;
      // Stopped by a later emergency (aborted), or refused outright.
      if (executions.stopped.has(ids[i])) continue;
      expect(r.error).toBe('RotationInProgress');
    }
    await expectConsistent(deps, client.clientId);
    expect(await labels(client.secretId)).toMatchObject({ [winners[0]]: [Stage.CURRENT, Stage.PENDING] });
    expect(await restingViolations(client.clientId)).toEqual({});
    await onlyCurrentKeyWorks(client.clientId);
    const published = await notices(clientTopic);
    expect(published.map((n) => [n.eventType, n.rotationId])).toEqual([['key.emergency', winners[0]]]);
    await noticeTellsTheTruth(published[0], client.clientId);
    expect(published[0].revokedKeyIds).toContain(client.currentKeyId);
  }
});

describe('a rotation racing the kill switch', () => {
  it('current key revoked (forced) between testSecret and finishSecret: the rotation finishes, the old key stays revoked, no overlap is promised', async () => {
    const client = await registerTestClient(deps);
    const oldKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    const gate = gateBefore(RotationStates.FINISH_SECRET);
    // The old key's state at every later step: it must never come back.
    const states: (KeyState | undefined)[] = [];
    let revoked = false;
    const rotationId = newRotationId();
    const rotation = runner.run({
      input: request(client.clientId),
      rotationId,
      beforeTask: async (state) => {
        await gate.beforeTask(state);
        if (revoked) states.push(await stateOf(client.currentKeyHash));
      },
    });
    await gate.reached;
    await expect(revokeKey(ops, { clientId: client.clientId, keyId: client.currentKeyId, force: true, requestedBy: 'sec-oncall', reason: 'leaked' })).resolves.toMatchObject({
      outcome: 'revoked',
      wasCurrent: true,
    });
    revoked = true;
    gate.open();

    expect((await rotation).status).toBe('SUCCEEDED');
    expect(states.length).toBeGreaterThan(2);
    expect(states.every((s) => s === KeyState.REVOKED)).toBe(true);
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    expect(await verdict(oldKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    await expectConsistent(deps, client.clientId);
    const published = await notices(clientTopic);
    expect(published.map((n) => [n.eventType, n.rotationId])).toEqual([
      ['key.emergency', 'none'],
      ['key.rotated', rotationId],
      ['key.retired', rotationId],
    ]);
    // The old key was revoked before the rotation finished: the notice must not say it stays valid.
    const rotated = published[1];
    expect(rotated.previousKeyNotAfter).toBeUndefined();
    expect(rotated.summary).not.toMatch(/stays valid until/);
    expect(rotated.summary).toContain(`previous key ${client.currentKeyId} had already been revoked`);
  });

  it('current key revoked (forced) before testSecret: the rotation fails its proof and rolls back; the key stays revoked; an emergency then recovers', async () => {
    const client = await registerTestClient(deps);
    const gate = gateBefore(RotationStates.TEST_SECRET);
    const rotation = runner.run({ input: request(client.clientId), rotationId: newRotationId(), beforeTask: gate.beforeTask });
    await gate.reached;
    await revokeKey(ops, { clientId: client.clientId, keyId: client.currentKeyId, force: true, requestedBy: 'sec-oncall', reason: 'leaked' });
    gate.open();
    const result = await rotation;
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'KeyVerificationFailed' });
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    // No rotation in flight, one AWSCURRENT, the table agrees on which; that key is revoked on purpose.
    expect((await deps.keys.requireClient(client.clientId)).lock).toBeUndefined();
    expect(await labels(client.secretId)).toEqual({ [client.currentVersionId]: [Stage.CURRENT] });

    expect((await runner.run({ input: request(client.clientId, 'emergency'), rotationId: newRotationId() })).status).toBe('SUCCEEDED');
    await expectConsistent(deps, client.clientId);
    await onlyCurrentKeyWorks(client.clientId);
  });

  it('current key revoked (forced) inside finishSecret, between its read of the old key and its commit: the old key stays revoked', async () => {
    const client = await registerTestClient(deps);
    const rotationId = newRotationId();
    let revoked = false;
    const rotation = runner.run({
      input: request(client.clientId),
      rotationId,
      beforeTask: async (state) => {
        if (state === RotationStates.FINISH_SECRET)
          interceptNextTransaction(async () => {
            await revokeKey(ops, { clientId: client.clientId, keyId: client.currentKeyId, force: true, requestedBy: 'sec-oncall', reason: 'leaked' });
            revoked = true;
          });
      },
    });
    const result = await rotation;
    expect(revoked).toBe(true);
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    expect(result.status).toBe('SUCCEEDED');
    await expectConsistent(deps, client.clientId);
    await onlyCurrentKeyWorks(client.clientId);
  });

  it('old key revoked during the overlap: the rotation retires it without bringing it back', async () => {
    const client = await registerTestClient(deps);
    const gate = gateBefore(RotationStates.CHECK_USAGE);
    const seen: (KeyState | undefined)[] = [];
    const rotationId = newRotationId();
    const rotation = runner.run({
      input: request(client.clientId),
      rotationId,
      beforeTask: async (state) => {
        await gate.beforeTask(state);
        if (state === RotationStates.RETIRE_OLD_KEY) seen.push(await stateOf(client.currentKeyHash));
      },
    });
    await gate.reached;
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.RETIRING);
    await expect(revokeKey(ops, { clientId: client.clientId, keyId: client.currentKeyId, requestedBy: 'sec-oncall', reason: 'leaked' })).resolves.toMatchObject({
      outcome: 'revoked',
      wasCurrent: false,
      previousState: KeyState.RETIRING,
    });
    gate.open();
    expect((await rotation).status).toBe('SUCCEEDED');
    expect(seen).toEqual([KeyState.REVOKED]);
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    await expectConsistent(deps, client.clientId);
    expect(await labels(client.secretId)).toEqual({ [rotationId]: [Stage.CURRENT, Stage.PENDING] });
    const published = await notices(clientTopic);
    expect(published.map((n) => n.eventType)).toEqual(['key.rotated', 'key.emergency', 'key.retired']);
  });

  it('old key revoked while finishSecret commits (the kill switch read it ACTIVE, finish made it RETIRING): the revocation still lands', async () => {
    const client = await registerTestClient(deps);
    const rotationId = newRotationId();
    let outcome: unknown;
    const result = await runner.run({
      input: request(client.clientId),
      rotationId,
      beforeTask: async (state) => {
        // The kill switch reads the key (ACTIVE, current: refused unforced) — so revoke by force
        // right after finishSecret's commit, before the overlap begins.
        if (state === RotationStates.FINISH_SECRET)
          interceptNextTransaction(
            async () => undefined,
            async () => {
              outcome = await revokeKey(ops, { clientId: client.clientId, keyId: client.currentKeyId, requestedBy: 'sec-oncall', reason: 'leaked' });
            },
          );
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(outcome).toMatchObject({ outcome: 'revoked', previousState: KeyState.RETIRING });
    expect(await stateOf(client.currentKeyHash)).toBe(KeyState.REVOKED);
    await expectConsistent(deps, client.clientId);
    await onlyCurrentKeyWorks(client.clientId);
  });

  it('pending key revoked between testSecret and finishSecret: the revoked key is never made current', async () => {
    const client = await registerTestClient(deps);
    const gate = gateBefore(RotationStates.FINISH_SECRET);
    const rotationId = newRotationId();
    const rotation = runner.run({ input: request(client.clientId), rotationId, beforeTask: gate.beforeTask });
    await gate.reached;
    const pendingKeyId = await keyIdOfVersion(client.secretId, rotationId);
    await expect(revokeKey(ops, { clientId: client.clientId, keyId: pendingKeyId, requestedBy: 'sec-oncall', reason: 'pending key exposed' })).resolves.toMatchObject({
      outcome: 'revoked',
      previousState: KeyState.ACTIVE,
    });
    gate.open();
    const result = await rotation;
    expect(result.status).toBe('FAILED');
    // The old key is still current and working; the revoked pending key stays revoked.
    await expectConsistent(deps, client.clientId);
    expect((await deps.keys.requireClient(client.clientId)).currentKeyId).toBe(client.currentKeyId);
    expect((await deps.keys.listClientKeys(client.clientId)).find((k) => k.keyId === pendingKeyId)?.state).toBe(KeyState.REVOKED);
  });

  it('pending key revoked while finishSecret commits (after its check): the commit is refused and the rotation rolls back', async () => {
    const client = await registerTestClient(deps);
    const rotationId = newRotationId();
    let pendingKeyId: string | undefined;
    const result = await runner.run({
      input: request(client.clientId),
      rotationId,
      beforeTask: async (state) => {
        if (state !== RotationStates.FINISH_SECRET) return;
        pendingKeyId = await keyIdOfVersion(client.secretId, rotationId);
        interceptNextTransaction(async () => {
          await revokeKey(ops, { clientId: client.clientId, keyId: pendingKeyId!, requestedBy: 'sec-oncall', reason: 'pending key exposed' });
        });
      },
    });
    expect(result.status).toBe('FAILED');
    await expectConsistent(deps, client.clientId);
    expect((await deps.keys.requireClient(client.clientId)).currentKeyId).toBe(client.currentKeyId);
    expect((await deps.keys.listClientKeys(client.clientId)).find((k) => k.keyId === pendingKeyId)?.state).toBe(KeyState.REVOKED);
    expect((await notices(clientTopic)).map((n) => n.eventType)).toEqual(['key.emergency']);
  });
});

/**
 * Runs `before` just before the next DynamoDB TransactWriteItems of the handlers is sent
 * and `after` just after it returns: a write of another party landing between a step's
 * reads and its commit, or right after it.
 */
function interceptNextTransaction(before: () => Promise<void>, after: () => Promise<void> = async () => undefined): void {
  const stack = dynamoDbClient().middlewareStack as unknown as { add(m: unknown, o: unknown): void; remove(name: string): boolean };
  let armed = true;
  stack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      if (!armed || !(context.commandName ?? '').startsWith('TransactWrite')) return next(args);
      armed = false;
      stack.remove('concurrencyInterceptor');
      // The operator's calls are not the step's: they run as no principal (the IAM check skips them).
      await asNoPrincipal(before);
      const result = await next(args);
      await asNoPrincipal(after);
      return result;
    },
    { step: 'initialize', name: 'concurrencyInterceptor', priority: 'low' },
  );
}
