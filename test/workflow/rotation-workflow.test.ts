/**
 * The synthesized state machine, executed by aws-local-stepfunctions with the real
 * handlers against moto: happy path, rollback, concurrency, emergency mode, invalid input,
 * and no plaintext anywhere. Crash-and-retry at every AWS call is the crash matrix
 * (crash-matrix.test.ts).
 */
import { KeyVerificationFailedError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import { verifyApiKey } from '../../lambdas/core/verification';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { expectConsistent, snapshot } from '../support/invariants';
import { labels } from '../support/step-helpers';
import { SourceKind } from '../support/secret-tap';
import { Tap, type WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';
import { MAX_PAYLOAD_BYTES, measurePayloads } from '../../local/step-functions-limits';

jest.setTimeout(120_000);

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let runner: WorkflowRunner;
const tap = new Tap();

beforeAll(async () => {
  ({ deps, clientTopic, opsTopic, runner } = await setUpWorkflow({ tap, tapTopics: true }));
});

const request = (clientId: string, extra: Record<string, unknown> = {}) => ({
  clientId,
  mode: 'manual',
  reason: 'quarterly rotation',
  requestedBy: 'alice@example.com',
  ...extra,
});

async function currentKeyOf(secretId: string): Promise<string> {
  return (await deps.secrets.readStage(secretId, Stage.CURRENT))!.value.apiKey;
}

async function verdict(apiKey: string) {
  return verifyApiKey(apiKey, (hash) => deps.keys.getKey(hash), deps.clock, deps.settings.keyPrefix);
}

async function drainAll() {
  return { client: await clientTopic.drain(), ops: await opsTopic.drain() };
}

// A failed test must not leave its notices to the next one.
afterEach(async () => {
  await drainAll();
});

describe('a scheduled/manual rotation', () => {
  it('rotates with both keys accepted during the overlap and the old one rejected after retirement', async () => {
    const client = await registerTestClient(deps);
    const oldKey = await currentKeyOf(client.secretId);
    const rotationId = newRotationId();
    let duringOverlap: { oldAccepted: boolean; newAccepted: boolean; labels: Record<string, readonly string[]> } | undefined;
    let atNotAfter: Awaited<ReturnType<typeof verdict>> | undefined;

    const result = await runner.run({
      input: request(client.clientId, { overlapSeconds: 7200 }),
      rotationId,
      beforeTask: async (state) => {
        // At RetireOldKey the clock stands at the not-after: from then on the old key is refused.
        if (state === RotationStates.RETIRE_OLD_KEY) atNotAfter = await verdict(oldKey);
        if (state !== RotationStates.CHECK_USAGE || duringOverlap) return;
        const newKey = await currentKeyOf(client.secretId);
        duringOverlap = {
          oldAccepted: (await verdict(oldKey)).accepted,
          newAccepted: (await verdict(newKey)).accepted,
          labels: await deps.secrets.versionStages(client.secretId),
        };
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    expect(duringOverlap).toMatchObject({ oldAccepted: true, newAccepted: true });
    expect([...duringOverlap!.labels[rotationId]].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(duringOverlap!.labels[client.currentVersionId]).toEqual(['AWSPREVIOUS']);
    expect(atNotAfter).toMatchObject({ accepted: false, reason: 'expired' });

    const newKey = await currentKeyOf(client.secretId);
    expect(newKey).not.toBe(oldKey);
    expect(await verdict(oldKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await verdict(newKey)).toMatchObject({ accepted: true });
    await expectConsistent(deps, client.clientId);
    const stages = await deps.secrets.versionStages(client.secretId);
    // Retirement removed AWSPREVIOUS; AWSPENDING rests on the current version.
    expect([...stages[rotationId]].sort()).toEqual(['AWSCURRENT', 'AWSPENDING']);
    expect(Object.values(stages).flat()).not.toContain('AWSPREVIOUS');

    const { client: published, ops } = await drainAll();
    expect(ops).toHaveLength(0);
    expect(published.map((m) => m.attributes)).toEqual([
      { clientId: client.clientId, eventType: 'key.rotated' },
      { clientId: client.clientId, eventType: 'key.retired' },
    ]);
    const rotated = JSON.parse(published[0].message) as Record<string, unknown>;
    expect(rotated).toMatchObject({ eventType: 'key.rotated', rotationId, previousKeyNotAfter: new Date(Date.parse(rotated.occurredAt as string) + 7200_000).toISOString() });

    const audit = (await deps.keys.listAudit(client.clientId)).map((e) => e.action);
    expect(audit).toEqual(expect.arrayContaining(['rotation.started.manual', 'key.created', 'key.activated', 'rotation.finished', 'key.retired']));
  });
});

describe('a failure before finishSecret', () => {
  it('rolls back: pending key revoked, AWSPENDING removed, old key untouched, ops told, named error', async () => {
    const client = await registerTestClient(deps);
    const oldKey = await currentKeyOf(client.secretId);
    const rotationId = newRotationId();
    const result = await runner.run({
      input: request(client.clientId),
      rotationId,
      failStep: { state: RotationStates.TEST_SECRET, error: new KeyVerificationFailedError('pending', 'simulated rejection') },
    });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('KeyVerificationFailed');
    expect(await currentKeyOf(client.secretId)).toBe(oldKey);
    expect(await verdict(oldKey)).toMatchObject({ accepted: true });
    await expectConsistent(deps, client.clientId);
    const after = await deps.keys.requireClient(client.clientId);
    expect(after.currentVersionId).toBe(client.currentVersionId);
    const keys = await deps.keys.listClientKeys(client.clientId);
    expect(keys.find((k) => k.rotationId === rotationId)?.state).toBe(KeyState.REVOKED);
    const stages = await deps.secrets.versionStages(client.secretId);
    expect(stages[rotationId] ?? []).toEqual([]);

    const { client: published, ops } = await drainAll();
    expect(published).toHaveLength(0);
    expect(ops).toHaveLength(1);
    expect(ops[0].attributes).toEqual({ clientId: client.clientId, eventType: 'rotation.failed' });
    expect(JSON.parse(ops[0].message)).toMatchObject({ rolledBack: true, error: 'KeyVerificationFailed' });
  });
});

/**
 * Step Functions fails an execution whose state input, output or task result is over 256 KiB
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); the runner
 * enforces it. The request is dropped after ValidateAndLock, so a state carries the rotation
 * context and step results, bounded by the request's validated lengths: measured here with
 * every field at its longest in 3-byte UTF-8 characters, on the success and the rollback paths.
 */
describe('payload sizes', () => {
  it('the largest state payload of a worst-case rotation and rollback stays far under 262,144 bytes', async () => {
    const client = await registerTestClient(deps, `c${'9'.repeat(63)}`);
    const longest = { reason: '漢'.repeat(512), requestedBy: '漢'.repeat(128), overlapSeconds: 7200 };
    const measuring = measurePayloads();
    let sizes: Map<string, number>;
    try {
      expect((await runner.run({ input: request(client.clientId, longest), rotationId: newRotationId() })).status).toBe('SUCCEEDED');
      const failed = await runner.run({
        input: request(client.clientId, longest),
        rotationId: newRotationId(),
        failStep: { state: RotationStates.FINISH_SECRET, error: new KeyVerificationFailedError('pending', 'simulated rejection') },
      });
      expect(failed.status).toBe('FAILED');
    } finally {
      sizes = measuring.stop();
    }
    const [where, largest] = [...sizes].reduce((a, b) => (b[1] > a[1] ? b : a));
    // A figure for the closing note, and a guard against state that grows with data.
    process.stderr.write(`largest rotation state payload: ${largest} bytes (${where}) of ${MAX_PAYLOAD_BYTES}\n`);
    expect(largest).toBeLessThan(MAX_PAYLOAD_BYTES / 16);
  });
});

describe('one rotation per client', () => {
  it('refuses a second rotation while one is in flight, and the refusal changes nothing', async () => {
    const client = await registerTestClient(deps);
    let release!: () => void;
    const paused = new Promise<void>((resolve) => (release = resolve));
    let reachedTest!: () => void;
    const atTest = new Promise<void>((resolve) => (reachedTest = resolve));
    const first = runner.run({
      input: request(client.clientId),
      rotationId: newRotationId(),
      beforeTask: async (state) => {
        if (state === RotationStates.TEST_SECRET) {
          reachedTest();
          await paused;
        }
      },
    });
    await atTest;
    const before = await snapshot(deps, client.secretId);
    const second = await runner.run({ input: request(client.clientId), rotationId: newRotationId() });
    expect(second).toMatchObject({ status: 'FAILED', error: 'RotationInProgress' });
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    release();
    expect((await first).status).toBe('SUCCEEDED');
    await expectConsistent(deps, client.clientId);
    await drainAll();
  });

  it('lets exactly one of several simultaneous starts proceed', async () => {
    const client = await registerTestClient(deps);
    const results = await Promise.all(Array.from({ length: 4 }, () => runner.run({ input: request(client.clientId), rotationId: newRotationId() })));
    expect(results.filter((r) => r.status === 'SUCCEEDED')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'FAILED')) expect(r.error).toBe('RotationInProgress');
    await expectConsistent(deps, client.clientId);
    expect(await deps.keys.listClientKeys(client.clientId)).toHaveLength(2);
    await drainAll();
  });
});

describe('emergency mode', () => {
  it('revokes every other key at finish, without waiting, and says so', async () => {
    const client = await registerTestClient(deps);
    const oldKey = await currentKeyOf(client.secretId);
    const rotationId = newRotationId();
    const startMs = deps.clock.nowMs();
    const result = await runner.run({ input: { ...request(client.clientId), mode: 'emergency', reason: 'key leaked in a public repo' }, rotationId });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.attempts.has(RotationStates.RETIRE_OLD_KEY)).toBe(false);
    expect(deps.clock.nowMs()).toBe(startMs);
    expect(await verdict(oldKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    await expectConsistent(deps, client.clientId);
    // AWSPREVIOUS stays on the version AWSCURRENT left, whose key is revoked (one write fewer).
    expect(await labels(client.secretId)).toEqual({ [rotationId]: ['AWSCURRENT', 'AWSPENDING'], [client.currentVersionId]: ['AWSPREVIOUS'] });
    const { client: published } = await drainAll();
    expect(published).toHaveLength(1);
    expect(published[0].attributes).toEqual({ clientId: client.clientId, eventType: 'key.emergency' });
    expect(JSON.parse(published[0].message)).toMatchObject({ severity: 'high', revokedKeyIds: [client.currentKeyId] });
  });
});

describe('invalid input', () => {
  // Object rows: with array rows shorter than the test function's arity, jest passes its
  // `done` callback as the last argument and waits for it.
  interface InvalidCase {
    name: string;
    build: (clientId: string) => unknown;
    expectedError: string;
    rotationId?: string;
  }
  const cases: InvalidCase[] = [
    { name: 'an unknown client', build: () => request('no-such-client'), expectedError: 'UnknownClient' },
    { name: 'a negative overlap', build: (id) => request(id, { overlapSeconds: -5 }), expectedError: 'InvalidRotationInput' },
    { name: 'an absurd overlap', build: (id) => request(id, { overlapSeconds: 10 * 365 * 24 * 3600 }), expectedError: 'InvalidRotationInput' },
    { name: 'a fractional overlap', build: (id) => request(id, { overlapSeconds: 90.5 }), expectedError: 'InvalidRotationInput' },
    { name: 'an overlap in emergency mode', build: (id) => request(id, { mode: 'emergency', overlapSeconds: 600 }), expectedError: 'InvalidRotationInput' },
    { name: 'an unknown mode', build: (id) => request(id, { mode: 'yolo' }), expectedError: 'InvalidRotationInput' },
    { name: 'a missing reason', build: (id) => ({ clientId: id, mode: 'manual', requestedBy: 'x' }), expectedError: 'InvalidRotationInput' },
    { name: 'an extra field', build: (id) => request(id, { apiKey: 'kr_smuggled' }), expectedError: 'InvalidRotationInput' },
    { name: 'a client id of the wrong type', build: () => request('x', { clientId: 42 }), expectedError: 'InvalidRotationInput' },
    { name: 'an injection-like client id', build: () => request("x' OR 1=1 --"), expectedError: 'InvalidRotationInput' },
    { name: 'a rotation id too short for a ClientRequestToken', build: (id) => request(id), expectedError: 'InvalidRotationId', rotationId: 'short-id' },
  ];

  it.each(cases)('rejects $name with a named error and changes nothing', async ({ build, expectedError, rotationId }) => {
    const client = await registerTestClient(deps);
    const before = await snapshot(deps, client.secretId);
    const result = await runner.run({ input: build(client.clientId), rotationId: rotationId ?? newRotationId() });
    // Compare a small projection: a diff over the whole result (events included) is slow to print.
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: expectedError });
    expect(result.cause).toBeTruthy();
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    const { client: published, ops } = await drainAll();
    expect([...published, ...ops]).toHaveLength(0);
  });
});

describe('plaintext keys', () => {
  it('appear nowhere in state I/O, events, logs, SNS messages, DynamoDB items or errors', async () => {
    await drainAll();
    await tap.addStore(deps);
    const stats = tap.expectNoPlaintext({
      // About 600 since the crash runs moved to crash-matrix.test.ts, which checks its own tap.
      minRecords: 400,
      kinds: [SourceKind.STATE_INPUT, SourceKind.STATE_OUTPUT, SourceKind.EXECUTION_EVENT, SourceKind.LOG, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM, SourceKind.ERROR],
    });
    // Every client rotated at least once: more keys than clients (secrets of this file only).
    expect(stats.keys).toBeGreaterThan(15);
  });
});
