/**
 * Incident response through the synthesized state machine (aws-local-stepfunctions, real
 * handlers, moto): an offboarded client's rotation is rejected with ClientOffboarded and
 * changes nothing; an emergency rotation with revokeImmediately succeeds, with the old key
 * refused from createSecret on and a high-severity notice that says so.
 */
import { KeyState } from '../../lambdas/core/key-state';
import { verifyApiKey } from '../../lambdas/core/verification';
import { Stage } from '../../lambdas/aws/secret-store';
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { expectConsistent, snapshot } from '../support/invariants';
import { SourceKind } from '../support/secret-tap';
import { Tap, type WorkflowRunner } from '../support/workflow';
import { setUpWorkflow } from '../support/workflow-fixture';

jest.setTimeout(120_000);

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let clientTopic: RecordedTopic;
let opsTopic: RecordedTopic;
let runner: WorkflowRunner;
const tap = new Tap();

beforeAll(async () => {
  ({ deps, clientTopic, opsTopic, runner } = await setUpWorkflow({ tap, tapTopics: true }));
});

const verdict = (apiKey: string) => verifyApiKey(apiKey, (hash) => deps.keys.getKey(hash), deps.clock, deps.settings.keyPrefix);

describe('an offboarded client', () => {
  it('is refused with ClientOffboarded (RotationRejected) and nothing changes', async () => {
    const client = await registerTestClient(deps);
    await deps.keys.markOffboarded(client.clientId, new Date(deps.clock.nowMs()).toISOString());
    const before = await snapshot(deps, client.secretId);
    const result = await runner.run({ input: { clientId: client.clientId, mode: 'emergency', reason: 'x', requestedBy: 'y' }, rotationId: newRotationId() });
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'ClientOffboarded' });
    expect(result.attempts.get(RotationStates.VALIDATE_AND_LOCK)).toBe(1);
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    expect([...(await clientTopic.drain()), ...(await opsTopic.drain())]).toEqual([]);
  });
});

describe('an emergency rotation with revokeImmediately', () => {
  it('refuses the old key from createSecret on, makes the new key current and says so', async () => {
    const client = await registerTestClient(deps);
    const oldKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    let atSetSecret: Awaited<ReturnType<typeof verdict>> | undefined;
    const rotationId = newRotationId();
    const result = await runner.run({
      input: { clientId: client.clientId, mode: 'emergency', revokeImmediately: true, reason: 'key leaked', requestedBy: 'sec-oncall' },
      rotationId,
      beforeTask: async (state) => {
        if (state === RotationStates.SET_SECRET) atSetSecret = await verdict(oldKey);
      },
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(atSetSecret).toMatchObject({ accepted: false, reason: 'revoked' });
    const newKey = (await deps.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    expect(await verdict(newKey)).toMatchObject({ accepted: true });
    await expectConsistent(deps, client.clientId);
    expect((await deps.keys.listClientKeys(client.clientId)).map((k) => k.state).sort()).toEqual([KeyState.ACTIVE, KeyState.REVOKED]);
    const published = await clientTopic.drain();
    expect(published.map((m) => m.attributes)).toEqual([{ clientId: client.clientId, eventType: 'key.emergency' }]);
    expect(JSON.parse(published[0].message)).toMatchObject({ severity: 'high', revokedImmediately: true, revokedKeyIds: [client.currentKeyId], rotationId });
    expect(await opsTopic.drain()).toEqual([]);
  });
});

describe('plaintext keys (invariant 5)', () => {
  it('appear nowhere in what the incident rotations produced, nor in what they left in the table', async () => {
    await Promise.all([clientTopic.drain(), opsTopic.drain()]);
    await tap.addStore(deps);
    tap.expectNoPlaintext({ kinds: [SourceKind.LOG, SourceKind.STATE_INPUT, SourceKind.STATE_OUTPUT, SourceKind.EXECUTION_EVENT, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM, SourceKind.ERROR] });
  });
});
