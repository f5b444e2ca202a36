/**
 * Usage-aware retirement in the executed state machine: a client that keeps calling with
 * its old key gets key.expiring reminders (and keeps working) until the hard deadline;
 * one that switched is retired right after the overlap. Use is recorded the way the auth
 * layer records it: the real verifier and usage recorder over the table, on the test clock.
 */
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, TEST_SETTINGS, type RecordedTopic } from '../support/fixtures';
import { expectConsistent } from '../support/invariants';
import { SourceKind } from '../support/secret-tap';
import { Tap, type WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';

jest.setTimeout(120_000);

const HOUR = 3600;
// A one-day hard deadline keeps the loop short: 2 h overlap, then reminders every 6 h.
const SETTINGS = { ...TEST_SETTINGS, overlapBounds: { minSeconds: 60, maxSeconds: 24 * HOUR }, reminderIntervalSeconds: 6 * HOUR, usageWindowSeconds: HOUR };

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let runner: WorkflowRunner;
let verifier: KeyVerifier;
let usage: UsageRecorder;
let opsTopic: RecordedTopic;
const tap = new Tap();

beforeAll(async () => {
  ({ deps, clientTopic, opsTopic, runner } = await setUpWorkflow({ settings: SETTINGS, tap, tapTopics: true }));
  // No cache: each simulated call sees the table as it is at that instant of the test clock.
  verifier = new KeyVerifier({ lookup: (hash) => deps.keys.getKey(hash), clock: deps.clock, keyPrefix: SETTINGS.keyPrefix, cacheTtlMs: 0, negativeCacheTtlMs: 0 });
  usage = new UsageRecorder(deps.keys, deps.clock, 60_000);
});

/** One API call by the client with `apiKey`, as the authorizer handles it. */
async function call(apiKey: string) {
  const verdict = await verifier.verify(apiKey);
  if (verdict.accepted) await usage.record(verdict.keyHash);
  return verdict;
}

const request = (clientId: string) => ({ clientId, mode: 'scheduled', reason: 'scheduled rotation', requestedBy: 'keyroll-scheduler', overlapSeconds: 2 * HOUR });

describe('usage-aware retirement', () => {
  it('keeps a still-used old key alive with reminders, and retires it at the hard deadline', async () => {
    const client = await registerTestClient(deps);
    const oldKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    const startMs = deps.clock.nowMs();
    const verdicts: { at: number; state: string; accepted: boolean; reason?: string }[] = [];

    const result = await runner.run({
      input: request(client.clientId),
      rotationId: newRotationId(),
      // A lagging client: calls with the old key whenever the workflow looks (the clock has
      // jumped to the check, shortly before the not-after), and once more at retirement.
      beforeTask: async (state) => {
        if (state !== RotationStates.CHECK_USAGE && state !== RotationStates.RETIRE_OLD_KEY) return;
        const verdict = await call(oldKey);
        verdicts.push({ at: deps.clock.nowMs() - startMs, state, accepted: verdict.accepted, reason: verdict.accepted ? undefined : verdict.reason });
      },
    });

    expect(result.status).toBe('SUCCEEDED');
    // Every call before retirement was accepted: the deadline moved ahead of the client.
    const beforeRetire = verdicts.filter((v) => v.state === RotationStates.CHECK_USAGE);
    expect(beforeRetire.every((v) => v.accepted)).toBe(true);
    // 2 h overlap, then 6 h extensions capped at 24 h: 8 h, 14 h, 20 h, 24 h.
    const { client: published } = { client: await clientTopic.drain() };
    const types = published.map((m) => m.attributes.eventType);
    expect(types).toEqual(['key.rotated', 'key.expiring', 'key.expiring', 'key.expiring', 'key.expiring', 'key.retired']);
    const deadlines = published.filter((m) => m.attributes.eventType === 'key.expiring').map((m) => JSON.parse(m.message).previousKeyNotAfter as string);
    expect(deadlines.map((d) => (Date.parse(d) - startMs) / 3_600_000)).toEqual([8, 14, 20, 24]);
    // Retired exactly at the hard deadline, and refused from then on.
    const retire = verdicts.find((v) => v.state === RotationStates.RETIRE_OLD_KEY)!;
    expect(retire).toMatchObject({ at: 24 * 3_600_000, accepted: false, reason: 'expired' });
    expect((await call(oldKey)).accepted).toBe(false);
    expect(result.attempts.get(RotationStates.CHECK_USAGE)).toBe(1 + 4 + 1); // first look, four reminders, the final look
    await expectConsistent(deps, client.clientId);
    const audit = (await deps.keys.listAudit(client.clientId)).filter((e) => e.action === 'key.extended');
    expect(audit).toHaveLength(4);
    expect(audit.every((e) => !JSON.stringify(e).includes(oldKey))).toBe(true);
  });

  it('retires an old key that is no longer used right after the overlap', async () => {
    const client = await registerTestClient(deps);
    const oldKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    const startMs = deps.clock.nowMs();
    // Used once at the start of the overlap (before the rotation), then never again.
    await call(oldKey);
    let retiredAt: number | undefined;
    const result = await runner.run({
      input: request(client.clientId),
      rotationId: newRotationId(),
      beforeTask: (state) => {
        if (state === RotationStates.RETIRE_OLD_KEY) retiredAt = deps.clock.nowMs() - startMs;
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(retiredAt).toBe(2 * 3_600_000);
    const published = await clientTopic.drain();
    expect(published.map((m) => m.attributes.eventType)).toEqual(['key.rotated', 'key.retired']);
    expect(result.attempts.get(RotationStates.CHECK_USAGE)).toBe(2);
    expect(await call(oldKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    await expectConsistent(deps, client.clientId);
  });

  it('does not count a use older than the usage window', async () => {
    const client = await registerTestClient(deps);
    const oldKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    let lastCallDone = false;
    const result = await runner.run({
      input: request(client.clientId),
      rotationId: newRotationId(),
      // Calls with the old key during the first hour of the overlap only: more than the
      // usage window (1 h) before the check at 1 h 55 min.
      beforeTask: async (state) => {
        if (state === RotationStates.CHECK_USAGE && !lastCallDone) {
          lastCallDone = true;
          expect((await call(oldKey)).accepted).toBe(true);
        }
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect((await clientTopic.drain()).map((m) => m.attributes.eventType)).toEqual(['key.rotated', 'key.retired']);
  });
});

describe('plaintext keys (invariant 5)', () => {
  it('appear nowhere in the reminders, state I/O, logs, usage records or audit entries', async () => {
    await Promise.all([clientTopic.drain(), opsTopic.drain()]);
    await tap.addStore(deps);
    tap.expectNoPlaintext({ kinds: [SourceKind.LOG, SourceKind.STATE_INPUT, SourceKind.STATE_OUTPUT, SourceKind.EXECUTION_EVENT, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM] });
  });
});
