/**
 * Rotation ids used again, through the synthesized state machine with the real handlers
 * against moto (issue 15 items 3 and 9), on their own at beginRotation (no CLI pre-check):
 * a second execution under the id of a rotation in its overlap, finished, or an emergency that
 * finished, is refused at ValidateAndLock with RotationAlreadyRan, a refusal (the first run's
 * lock stays), and changes nothing; an id equal to the client's current version id is
 * RotationIdCollision and leaves no lock behind.
 */
import { RotationStates } from '../../lib/rotation-definition';
import { makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { expectConsistent, snapshot } from '../support/invariants';
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

afterEach(async () => {
  await clientTopic.drain();
  await opsTopic.drain();
});

const request = (clientId: string, mode = 'manual') => ({ clientId, mode, reason: 'rehearsal', requestedBy: 'alice@example.com' });

it('an execution under the id of a rotation waiting in its overlap is refused; the first keeps its lock and finishes', async () => {
  const client = await registerTestClient(deps);
  const rotationId = newRotationId();
  let release!: () => void;
  const paused = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const inOverlap = new Promise<void>((resolve) => (reached = resolve));
  const first = runner.run({
    input: request(client.clientId),
    rotationId,
    beforeTask: async (state) => {
      if (state !== RotationStates.CHECK_USAGE) return;
      reached();
      await paused;
    },
  });
  await inOverlap;
  const before = await snapshot(deps, client.secretId);
  const again = await runner.run({ input: request(client.clientId), rotationId });
  expect(again).toMatchObject({ status: 'FAILED', error: 'RotationAlreadyRan' });
  expect(again.cause).toContain('is in its overlap');
  // A refusal: neither rolled back nor the lock released (it is the first run's).
  expect(again.attempts.get(RotationStates.ROLLBACK)).toBeUndefined();
  expect(await snapshot(deps, client.secretId)).toEqual(before);
  expect((await deps.keys.requireClient(client.clientId)).lock?.rotationId).toBe(rotationId);
  release();
  expect((await first).status).toBe('SUCCEEDED');
  await expectConsistent(deps, client.clientId);
});

it.each(['manual', 'emergency'])('an execution under the id of a succeeded %s rotation is refused and changes nothing', async (mode) => {
  const client = await registerTestClient(deps);
  const rotationId = newRotationId();
  expect((await runner.run({ input: request(client.clientId, mode), rotationId })).status).toBe('SUCCEEDED');
  const before = await snapshot(deps, client.secretId);
  const again = await runner.run({ input: request(client.clientId, mode), rotationId });
  expect(again).toMatchObject({ status: 'FAILED', error: 'RotationAlreadyRan' });
  expect(again.cause).toContain('it finished at');
  expect(await snapshot(deps, client.secretId)).toEqual(before);
  expect((await deps.keys.requireClient(client.clientId)).lock).toBeUndefined();
  await expectConsistent(deps, client.clientId);
});

it("an execution named after the client's current version id is refused with RotationIdCollision and leaves no lock", async () => {
  const client = await registerTestClient(deps);
  const before = await snapshot(deps, client.secretId);
  const crafted = await runner.run({ input: request(client.clientId), rotationId: client.currentVersionId });
  expect(crafted).toMatchObject({ status: 'FAILED', error: 'RotationIdCollision' });
  expect(await snapshot(deps, client.secretId)).toEqual(before);
  expect((await deps.keys.requireClient(client.clientId)).lock).toBeUndefined();
  // The client rotates normally right after.
  expect((await runner.run({ input: request(client.clientId), rotationId: newRotationId() })).status).toBe('SUCCEEDED');
});
