/**
 * The incident playbook through the CLI, with rotations run by `rotate --local` (the
 * synthesized state machine and the real handlers, in-process, against moto): an emergency
 * rotation end to end, rollback during the overlap, the kill switch as the verifier sees it
 * (rejected once its 10 s cache bound has passed), and the client notices they cause.
 */
import { ListSecretVersionIdsCommand } from '@aws-sdk/client-secrets-manager';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { generateApiKey } from '../../lambdas/core/api-key';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyVerifier } from '../../lambdas/core/key-verifier';
import { SecretTap, SourceKind, tapTopic } from '../support/secret-tap';
import { CliWorld, json, KEY_SHAPE, secretsManager, subscribeQueue } from './cli-harness';

let world: CliWorld;
let keys: KeyRepository;
let notices: Awaited<ReturnType<typeof subscribeQueue>>;
/** Every notice the incident commands caused, and at the end the CLI's output and the table. */
const tap = new SecretTap();

beforeAll(async () => {
  world = await CliWorld.create();
  keys = new KeyRepository(dynamoDbClient(), world.outputs.TableName);
  notices = tapTopic(tap, await subscribeQueue(world.outputs.ClientTopicArn!), 'client');
});

afterAll(async () => {
  await notices.drain();
  tap.addKeys(await world.allPlaintextKeys());
  for (const [i, text] of world.transcript.entries()) tap.add(`cli run ${i >> 1} ${i % 2 ? 'stderr' : 'stdout'}`, text, SourceKind.CLI_OUTPUT);
  await tap.addStore({ tableName: world.outputs.TableName, secretNamePrefix: world.outputs.SecretNamePrefix });
  tap.expectNoPlaintext({ kinds: [SourceKind.CLI_OUTPUT, SourceKind.SNS_MESSAGE, SourceKind.DYNAMODB_ITEM] });
  expect(world.transcript.join('\n')).not.toMatch(KEY_SHAPE);
});

/** A verifier as the auth layer runs it (10 s cache), on a manual clock at the real time. */
function verifierAt(clock: ManualClock): KeyVerifier {
  return new KeyVerifier({ lookup: (hash) => keys.getKey(hash), clock, keyPrefix: world.outputs.KeyPrefix, cacheTtlMs: 10_000 });
}

async function stagesOf(clientId: string): Promise<Record<string, string[]>> {
  const { Versions } = await secretsManager.send(new ListSecretVersionIdsCommand({ SecretId: `${world.outputs.SecretNamePrefix}${clientId}` }));
  return Object.fromEntries((Versions ?? []).filter((v) => v.VersionStages?.length).map((v) => [v.VersionId!, [...v.VersionStages!].sort()]));
}

interface Status {
  client: { currentKeyId: string; lock?: { rotationId: string } };
  keys: { keyId: string; state: string; role: string }[];
  executions: { lockHolder?: { status: string } };
}

it('a leaked current key: emergency rotation --local preempts the rotation in flight, revokes every old key, and the verifier rejects the leaked key within 10 s', async () => {
  const id = await world.addClient();
  await notices.drain();
  // A normal rotation sits in its overlap (as a deployed execution would for a day).
  const first = await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'quarterly rotation');
  expect(first.code).toBe(0);
  const inOverlap = json<{ rotationId: string; status: string; currentKeyId: string; previousKeyId: string }>(first);
  expect(inOverlap).toMatchObject({ status: 'IN_OVERLAP', newKeyCurrent: true, local: true });
  const leaked = await world.keyAt(id, 'AWSCURRENT');
  const clock = new ManualClock(Date.now());
  const verifier = verifierAt(clock);
  expect(await verifier.verify(leaked)).toMatchObject({ accepted: true, principal: { keyRole: 'current' } });

  // Another ordinary rotation is refused while that one holds the lock.
  const duplicate = await world.cli('rotate', id, '--reason', 'a second one', '--local');
  expect(duplicate.code).toBe(1);
  expect(duplicate.stderr).toContain(`RotationInProgress: Client '${id}' is already being rotated by '${inOverlap.rotationId}'`);

  const emergency = await world.cli('--json', 'rotate', id, '--emergency', '--local', '--reason', 'INC-4711: key pasted in a public gist');
  expect(emergency.code).toBe(0);
  expect(emergency.stderr).toContain(`rotation ${inOverlap.rotationId} holds the lock`);
  const out = json<{ rotationId: string; currentKeyId: string; revokedKeyIds: string[] }>(emergency);
  expect(out).toMatchObject({ status: 'SUCCEEDED', mode: 'emergency', newKeyCurrent: true, preemptedRotationId: inOverlap.rotationId });
  expect(out.rotationId).toMatch(/^emergency-/);
  expect([...out.revokedKeyIds].sort()).toEqual([inOverlap.currentKeyId, inOverlap.previousKeyId].sort());

  const status = json<Status>(await world.cli('--json', 'status', id));
  expect(status.client.lock).toBeUndefined();
  expect(status.keys.map((k) => [k.keyId, k.state, k.role])).toEqual([
    [inOverlap.previousKeyId, 'REVOKED', 'none'],
    [inOverlap.currentKeyId, 'REVOKED', 'none'],
    [out.currentKeyId, 'ACTIVE', 'current'],
  ]);
  // Secrets Manager agrees: AWSCURRENT (and AWSPENDING, where the finish leaves it) on the
  // emergency version; AWSPREVIOUS on the version AWSCURRENT left, whose key is REVOKED above.
  expect(await stagesOf(id)).toEqual({ [out.rotationId]: ['AWSCURRENT', 'AWSPENDING'], [inOverlap.rotationId]: ['AWSPREVIOUS'] });
  expect(json<{ labels: { agree: boolean } }>(await world.cli('--json', 'status', id)).labels.agree).toBe(true);
  // The stand-in execution of the preempted rotation was stopped.
  const stopped = json<Status>(await world.cli('--json', 'status', id));
  expect(stopped.executions.lockHolder).toBeUndefined();

  // The leaked key: still served from the verifier's cache until 10 s after it was read, rejected from then on.
  clock.advance(9_999);
  expect((await verifier.verify(leaked)).accepted).toBe(true);
  clock.advance(1);
  expect(await verifier.verify(leaked)).toMatchObject({ accepted: false, reason: 'revoked' });
  expect(await verifier.verify(await world.keyAt(id, 'AWSCURRENT'))).toMatchObject({ accepted: true, principal: { keyId: out.currentKeyId } });

  const published = await notices.drain();
  const emergencyNotice = published.find((n) => n.attributes.eventType === 'key.emergency' && n.message.rotationId === out.rotationId);
  expect(emergencyNotice?.message).toMatchObject({ severity: 'high', currentKeyId: out.currentKeyId, preemptedRotationId: inOverlap.rotationId });
  for (const notice of published) expect(notice.raw).not.toContain(leaked);

  // Nothing left to roll back: the emergency revoked the previous keys.
  const rollback = await world.cli('rollback', id, '--reason', 'undo?');
  expect(rollback.code).toBe(1);
  expect(rollback.stderr).toContain('RollbackNotPossible');
  const audit = json<{ events: { action: string }[] }>(await world.cli('--json', 'audit', id, '--limit', '100')).events.map((e) => e.action);
  expect(audit).toEqual(expect.arrayContaining(['rotation.preempted', 'rotation.started.emergency', 'rotation.finished.emergency', 'key.revoked']));
});

it('rollback during the overlap: the previous key is current again, the new one revoked, the execution stopped', async () => {
  const id = await world.addClient();
  const initialKeyId = json<Status>(await world.cli('--json', 'status', id)).client.currentKeyId;
  const rotated = json<{ rotationId: string; currentKeyId: string; previousKeyNotAfter: string }>(
    await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'planned rotation', '--overlap', '2h'),
  );
  expect(Date.parse(rotated.previousKeyNotAfter) - Date.now()).toBeGreaterThan(7_000_000);
  const status = json<Status>(await world.cli('--json', 'status', id));
  expect(status).toMatchObject({ client: { lock: { rotationId: rotated.rotationId } }, executions: { lockHolder: { status: 'RUNNING' } } });
  expect(status.keys.map((k) => [k.keyId, k.state, k.role])).toEqual([
    [initialKeyId, 'RETIRING', 'previous'],
    [rotated.currentKeyId, 'ACTIVE', 'current'],
  ]);
  const newKey = await world.keyAt(id, 'AWSCURRENT');
  await notices.drain();

  const rolledBack = await world.cli('--json', 'rollback', id, '--reason', 'client cannot load the new key');
  expect(rolledBack.code).toBe(0);
  expect(json(rolledBack)).toMatchObject({ outcome: 'rolled-back', execution: 'stopped', rotationId: rotated.rotationId, currentKeyId: initialKeyId });
  const after = json<Status & { executions: { lastRotation?: { status: string } } }>(await world.cli('--json', 'status', id));
  expect(after.client.lock).toBeUndefined();
  expect(after.executions.lastRotation?.status).toBe('ABORTED');
  expect(after.keys.map((k) => [k.keyId, k.state, k.role])).toEqual([
    [initialKeyId, 'ACTIVE', 'current'],
    [rotated.currentKeyId, 'REVOKED', 'none'],
  ]);
  expect((await world.cli('status', id)).stdout).toContain('(rolled back)');
  const stages = await stagesOf(id);
  expect(Object.entries(stages).find(([, labels]) => labels.includes('AWSCURRENT'))?.[0]).toMatch(/^initial-/);
  expect(await verifierAt(new ManualClock(Date.now())).verify(newKey)).toMatchObject({ accepted: false, reason: 'revoked' });
  const notice = (await notices.drain()).find((n) => n.message.incident === 'rotation.rolled_back');
  expect(notice?.message).toMatchObject({ eventType: 'key.emergency', severity: 'high', clientId: id, currentKeyId: initialKeyId, revokedKeyIds: [rotated.currentKeyId] });

  // A re-run converges and says so.
  expect(json(await world.cli('--json', 'rollback', id, '--reason', 'again'))).toMatchObject({ outcome: 'already-rolled-back', currentKeyId: initialKeyId });
});

it('kill switch: revoking the previous key takes effect in the verifier after at most 10 s', async () => {
  const id = await world.addClient();
  const rotated = json<{ previousKeyId: string; currentKeyId: string }>(await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'rotation before the leak'));
  const previous = await world.keyAt(id, 'AWSPREVIOUS');
  const clock = new ManualClock(Date.now());
  const verifier = verifierAt(clock);
  expect(await verifier.verify(previous)).toMatchObject({ accepted: true, principal: { keyRole: 'previous', keyId: rotated.previousKeyId } });
  await notices.drain();

  const revoked = await world.cli('--json', 'revoke', id, rotated.previousKeyId, '--reason', 'INC-4712: old key in a crash dump');
  expect(revoked.code).toBe(0);
  expect(json(revoked)).toMatchObject({ outcome: 'revoked', wasCurrent: false, previousState: 'RETIRING', keyId: rotated.previousKeyId });
  clock.advance(9_000);
  expect((await verifier.verify(previous)).accepted).toBe(true);
  clock.advance(1_000);
  expect(await verifier.verify(previous)).toMatchObject({ accepted: false, reason: 'revoked', keyId: rotated.previousKeyId });
  expect((await verifier.verify(await world.keyAt(id, 'AWSCURRENT'))).accepted).toBe(true);
  const notice = (await notices.drain()).find((n) => n.message.incident === 'key.revoked');
  expect(notice?.message).toMatchObject({ eventType: 'key.emergency', severity: 'high', revokedKeyIds: [rotated.previousKeyId], currentKeyId: rotated.currentKeyId });
  // With its previous key revoked, the rotation can no longer be rolled back.
  expect((await world.cli('rollback', id, '--reason', 'x')).code).toBe(1);
});

it('a full manual rotation --local compresses the overlap and retires the old key', async () => {
  const id = await world.addClient();
  const result = await world.cli('--json', 'rotate', id, '--local', '--reason', 'rehearsal', '--overlap', '90m');
  expect(result.code).toBe(0);
  const out = json<{ simulatedSeconds: number; previousKeyId: string; currentKeyId: string }>(result);
  expect(out).toMatchObject({ status: 'SUCCEEDED', mode: 'manual', newKeyCurrent: true });
  expect(out.simulatedSeconds).toBeGreaterThanOrEqual(5400 - 5);
  const status = json<Status>(await world.cli('--json', 'status', id));
  expect(status.keys.map((k) => [k.keyId, k.state])).toEqual([
    [out.previousKeyId, 'REVOKED'],
    [out.currentKeyId, 'ACTIVE'],
  ]);
  const retired = (await notices.drain()).find((n) => n.attributes.eventType === 'key.retired' && n.attributes.clientId === id);
  expect(retired?.message).toMatchObject({ previousKeyId: out.previousKeyId, severity: 'info' });
});

it('--local refuses to run without an emulator endpoint (exit 3, nothing changed)', async () => {
  const id = await world.addClient();
  const before = await world.snapshot();
  const result = await world.cliWith({ AWS_ENDPOINT_URL: '' }, 'rotate', id, '--local', '--reason', 'x');
  expect(result.code).toBe(3);
  expect(result.stderr).toContain('--local runs the rotation in this process and is for emulator demos only');
  const viaEnv = await world.cliWith({ AWS_ENDPOINT_URL: '', KEYROLL_LOCAL: '1' }, 'rotate', id, '--reason', 'x');
  expect(viaEnv.code).toBe(3);
  expect(await world.snapshot()).toBe(before);
});

it('identify: from a leaked key (on stdin) to its client, state and the playbook branch, never echoing it', async () => {
  const id = await world.addClient();
  const rotated = json<{ previousKeyId: string; currentKeyId: string }>(await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'before the leak'));
  const current = await world.keyAt(id, 'AWSCURRENT');
  const previous = await world.keyAt(id, 'AWSPREVIOUS');

  const ofCurrent = await world.cliStdin(`${current}\n`, '--json', 'identify');
  expect(ofCurrent.code).toBe(0);
  expect(json(ofCurrent)).toMatchObject({ keyId: rotated.currentKeyId, clientId: id, state: 'ACTIVE', role: 'current', advice: expect.stringContaining(`keyroll rotate ${id} --emergency`) });
  const ofPrevious = await world.cliStdin(previous, 'identify');
  expect(ofPrevious.stdout).toContain(`Key ${rotated.previousKeyId} belongs to client ${id}: RETIRING (previous key).`);
  expect(ofPrevious.stdout).toContain(`keyroll revoke ${id} ${rotated.previousKeyId}`);
  await world.cli('revoke', id, rotated.previousKeyId, '--reason', 'leaked');
  expect(json(await world.cliStdin(previous, '--json', 'identify'))).toMatchObject({ state: 'REVOKED', advice: expect.stringContaining('nothing to revoke') });

  const unknown = await world.cliStdin(generateApiKey(world.outputs.KeyPrefix), 'identify');
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('UnknownKey: No client has a key with id kr_kid_');
  const mistyped = `${current.slice(0, -1)}${current.endsWith('A') ? 'B' : 'A'}`;
  const malformed = await world.cliStdin(mistyped, 'identify');
  expect(malformed).toMatchObject({ code: 2, stdout: '' });
  expect(malformed.stderr).toContain('Standard input is not a KeyRoll key of this deployment');
  expect(malformed.stderr).not.toContain(mistyped.slice(3, 40));
});
