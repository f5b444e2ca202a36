/**
 * Reused and colliding rotation ids, and `keyroll unlock`, through the CLI in-process against
 * moto, with rotations run by `rotate --local` (the synthesized state machine and the real
 * handlers). Issue 15 item 9 as the runbook's rehearsal would hit it: the same --rotation-id run
 * twice must report the first run, never undo it (and never make a kill-switched key current
 * again); item 3: a rotation id equal to the client's computable initial version id is refused.
 */
import { createHash, randomUUID } from 'node:crypto';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { CliWorld, json, KEY_SHAPE } from './cli-harness';

let world: CliWorld;
let keys: KeyRepository;

beforeAll(async () => {
  world = await CliWorld.create();
  keys = new KeyRepository(dynamoDbClient(), world.outputs.TableName);
});

afterAll(() => {
  expect(world.transcript.join('\n')).not.toMatch(KEY_SHAPE);
});

interface Status {
  client: { currentKeyId: string; lock?: { rotationId: string } };
  keys: { keyId: string; state: string; role: string }[];
}
interface Rotated {
  rotationId: string;
  status: string;
  currentKeyId: string;
  previousKeyId: string;
}
const statusOf = async (id: string) => json<Status>(await world.cli('--json', 'status', id));

describe('the same --rotation-id run twice with --local (issue 15 item 9)', () => {
  it('a rotation left in its overlap is reported, not re-run: the new key stays current, nothing changes', async () => {
    const id = await world.addClient(`r1-${randomUUID().slice(0, 8)}`);
    const rotationId = `manual-${randomUUID()}`;
    const first = await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--rotation-id', rotationId, '--reason', 'rehearsal');
    expect(first.code).toBe(0);
    const rotated = json<Rotated>(first);
    expect(rotated).toMatchObject({ status: 'IN_OVERLAP', rotationId });

    const before = await world.snapshot();
    const second = await world.cli('rotate', id, '--local', '--leave-in-overlap', '--rotation-id', rotationId, '--reason', 'rehearsal');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`RotationAlreadyRan: Rotation '${rotationId}' of client '${id}' already ran: it finished at`);
    expect(second.stderr).toContain(`is in its overlap: its key ${rotated.currentKeyId} is current`);
    expect(await world.snapshot()).toBe(before);
    expect((await statusOf(id)).client).toMatchObject({ currentKeyId: rotated.currentKeyId, lock: { rotationId } });

    const asJson = await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--rotation-id', rotationId, '--reason', 'rehearsal');
    expect(json(asJson)).toEqual({ error: expect.objectContaining({ name: 'RotationAlreadyRan', exitCode: 1 }) });
  });

  it('with the retiring key kill-switched in between: the REVOKED key never becomes current again', async () => {
    const id = await world.addClient(`r1-${randomUUID().slice(0, 8)}`);
    const rotationId = `manual-${randomUUID()}`;
    const rotated = json<Rotated>(await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--rotation-id', rotationId, '--reason', 'rehearsal'));
    expect((await world.cli('revoke', id, rotated.previousKeyId, '--reason', 'rehearsal: kill switch')).code).toBe(0);

    const before = await world.snapshot();
    const second = await world.cli('rotate', id, '--local', '--leave-in-overlap', '--rotation-id', rotationId, '--reason', 'rehearsal');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('RotationAlreadyRan');
    expect(await world.snapshot()).toBe(before);
    const status = await statusOf(id);
    expect(status.client.currentKeyId).toBe(rotated.currentKeyId);
    expect(status.keys.find((k) => k.keyId === rotated.currentKeyId)).toMatchObject({ state: 'ACTIVE', role: 'current' });
    expect(status.keys.find((k) => k.keyId === rotated.previousKeyId)).toMatchObject({ state: 'REVOKED' });
  });

  it('a succeeded emergency run again is reported as finished; the lock stays free', async () => {
    const id = await world.addClient(`r1-${randomUUID().slice(0, 8)}`);
    const rotationId = `emergency-${randomUUID()}`;
    const first = await world.cli('--json', 'rotate', id, '--emergency', '--local', '--rotation-id', rotationId, '--reason', 'rehearsal: INC drill');
    expect(json(first)).toMatchObject({ status: 'SUCCEEDED', rotationId });
    const before = await world.snapshot();
    const second = await world.cli('rotate', id, '--emergency', '--local', '--rotation-id', rotationId, '--reason', 'rehearsal: INC drill');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`RotationAlreadyRan: Rotation '${rotationId}' of client '${id}' already ran: it finished at`);
    expect(await world.snapshot()).toBe(before);
    expect((await statusOf(id)).client.lock).toBeUndefined();
  });

  it('the help says what reusing an id does now', async () => {
    const help = await world.cli('rotate', '--help');
    expect(help.stdout).not.toContain('reusing one resumes that rotation');
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(
      "a rotation that still holds the client's lock and has not finished is resumed; one that finished, is in its overlap, was rolled back or failed is reported (RotationAlreadyRan)",
    );
  });
});

it("a rotation id equal to the client's initial version id (computable: initial-<sha256(clientId)[:40]>) is refused by name (issue 15 item 3)", async () => {
  const id = await world.addClient();
  const initial = `initial-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
  const before = await world.snapshot();
  const refused = await world.cli('--json', 'rotate', id, '--local', '--rotation-id', initial, '--reason', 'crafted');
  expect(refused.code).toBe(1);
  expect(json(refused)).toEqual({ error: expect.objectContaining({ name: 'RotationIdCollision', exitCode: 1 }) });
  expect(await world.snapshot()).toBe(before);
  expect((await statusOf(id)).client.lock).toBeUndefined();
});

describe('keyroll unlock', () => {
  it('is refused while the lock holder runs (the stand-in execution of a rotation in its overlap)', async () => {
    const id = await world.addClient();
    const rotated = json<Rotated>(await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'planned'));
    const before = await world.snapshot();
    const refused = await world.cli('--json', 'unlock', id, '--reason', 'looks stuck');
    expect(refused.code).toBe(1);
    expect(json(refused)).toEqual({ error: expect.objectContaining({ name: 'RotationInProgress', exitCode: 1 }) });
    expect(refused.stderr).toContain(`already being rotated by '${rotated.rotationId}'; one rotation per client at a time. Its execution is RUNNING.`);
    expect(await world.snapshot()).toBe(before);
  });

  it('releases a lock whose holder has no execution and is older than the zombie window, audited with actor and reason; then there is nothing to do', async () => {
    const id = await world.addClient();
    const holder = `manual-${randomUUID()}`;
    const taken = new Date(Date.now() - 5 * 60_000);
    await keys.acquireLock(
      id,
      { rotationId: holder, acquiredAt: taken.toISOString(), expiresAt: new Date(taken.getTime() + 30 * 86_400_000).toISOString() },
      { clientId: id, at: taken.toISOString(), action: 'rotation.started.manual', actor: 'test', reason: 'holder' },
    );

    const released = await world.cli('--json', 'unlock', id, '--reason', 'INC-5150 state machine replaced');
    expect(released.code).toBe(0);
    expect(json(released)).toMatchObject({ clientId: id, outcome: 'released', releasedRotationId: holder, holderStatus: 'not-found', actor: 'test-operator' });
    expect((await statusOf(id)).client.lock).toBeUndefined();
    const audit = json<{ events: { action: string; actor: string; reason: string; rotationId?: string }[] }>(await world.cli('--json', 'audit', id, '--limit', '100')).events;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'lock.released_by_operator', actor: 'test-operator', reason: 'INC-5150 state machine replaced', rotationId: holder }));

    const again = await world.cli('unlock', id, '--reason', 'again');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Client ${id} has no rotation lock; nothing was changed.`);
  });

  it('needs --reason, and is listed in the help', async () => {
    expect((await world.cli('unlock', 'some-client')).code).toBe(2);
    expect((await world.cli('--help')).stdout).toMatch(/unlock/);
  });
});
