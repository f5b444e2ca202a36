/**
 * Onboarding and offboarding over moto: a client with its first key, its policy and its
 * schedule (expression, time zone, window, target, input, DLQ, retry); validation errors that
 * change nothing; idempotent re-runs; offboarding that revokes every key, deletes the schedule,
 * stops a rotation in flight, keeps the audit trail and refuses every rotation afterwards.
 */
import { GetScheduleCommand, UpdateScheduleCommand } from '@aws-sdk/client-scheduler';
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { generateApiKey, hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { verifyApiKey } from '../../lambdas/core/verification';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { describeClient, offboardClient, onboardClient, startRotation } from '../../operator/ops';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { Stage } from '../../lambdas/aws/secret-store';
import { newRotationId, registerTestClient, scanTable } from '../support/fixtures';
import { labels, rotationRequest } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, scheduler, START, WEEKLY_BERLIN, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
});

/** Secrets under this world's prefix. */
async function secretNames(): Promise<string[]> {
  const { SecretList } = await secretsManagerClient().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [w.outputs.SecretNamePrefix] }] }));
  return (SecretList ?? []).map((s) => s.Name!).filter((name) => name.startsWith(w.outputs.SecretNamePrefix));
}

async function schedule(clientId: string) {
  const { $metadata: _m, ...found } = await scheduler.send(new GetScheduleCommand({ Name: clientId, GroupName: w.outputs.ScheduleGroupName }));
  return found;
}

async function scheduleExists(clientId: string): Promise<boolean> {
  return (await w.ops.schedules.get(clientId)) !== undefined;
}

const verdict = (apiKey: string) => verifyApiKey(apiKey, (hash) => w.ops.keys.getKey(hash), w.clock, w.outputs.KeyPrefix);

describe('onboardClient', () => {
  it('registers the client with its first key and policy, and creates its schedule', async () => {
    const request = onboarding();
    const result = await onboardClient(w.ops, request);

    expect(result).toMatchObject({ registered: true, schedule: 'created' });
    const client = result.client;
    expect(client).toMatchObject({ clientId: request.clientId, scopes: request.scopes, overlapSeconds: 7200, policy: WEEKLY_BERLIN });
    const current = await w.ops.secrets.readStage(client.secretId, Stage.CURRENT);
    expect(hashApiKey(current!.value.apiKey)).toBe(client.currentKeyHash);
    expect((await w.ops.keys.getKey(client.currentKeyHash))?.state).toBe(KeyState.ACTIVE);
    expect(await verdict(current!.value.apiKey)).toMatchObject({ accepted: true });

    // Weekly: a rate expression whose first run is the next 02:00 in Berlin (CET in November: 01:00 UTC).
    expect(result.plan).toEqual({ expression: 'rate(7 days)', timeZone: 'Europe/Berlin', startDate: '2026-11-29T01:00:00.000Z', flexibleWindowMinutes: 120 });
    const found = await schedule(request.clientId);
    expect(found).toMatchObject({
      Name: request.clientId,
      GroupName: w.outputs.ScheduleGroupName,
      ScheduleExpression: 'rate(7 days)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 120 },
      State: 'ENABLED',
      Target: {
        Arn: w.outputs.ScheduledStartFunctionArn,
        RoleArn: w.outputs.SchedulerRoleArn,
        DeadLetterConfig: { Arn: w.outputs.ScheduleDeadLetterQueueArn },
        RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 21_600 },
      },
    });
    expect(found.StartDate?.toISOString()).toBe('2026-11-29T01:00:00.000Z');
    expect(JSON.parse(found.Target!.Input!)).toEqual({ clientId: request.clientId, scheduledTime: '<aws.scheduler.scheduled-time>' });

    const audit = await w.ops.keys.listAudit(request.clientId);
    expect(audit.map((e) => e.action)).toEqual(['client.registered', 'schedule.created']);
    expect(audit[1]).toMatchObject({ actor: 'alice@example.com', reason: 'new partner integration', detail: 'rate(7 days) Europe/Berlin' });
  });

  it('a daily policy becomes a cron expression at the window start, in the client time zone', async () => {
    const request = onboarding({ policy: { intervalDays: 1, overlapSeconds: 3600, maxOverlapSeconds: 14_400, timeZone: 'America/New_York', window: { start: '23:30', end: '01:00' } } });
    const result = await onboardClient(w.ops, request);
    expect(result.plan).toEqual({ expression: 'cron(30 23 * * ? *)', timeZone: 'America/New_York', flexibleWindowMinutes: 90 });
    const found = await schedule(request.clientId);
    expect(found).toMatchObject({ ScheduleExpression: 'cron(30 23 * * ? *)', ScheduleExpressionTimezone: 'America/New_York', FlexibleTimeWindow: { MaximumWindowInMinutes: 90 } });
    expect(found.StartDate).toBeUndefined();
  });

  it('is idempotent: a re-run keeps the key and the schedule and writes no second audit entry', async () => {
    const request = onboarding();
    const first = await onboardClient(w.ops, request);
    const items = await scanTable(w.outputs.TableName);
    w.clock.advance(3_600_000);
    const again = await onboardClient(w.ops, request);
    expect(again).toMatchObject({ registered: false, schedule: 'unchanged' });
    expect(again.client).toEqual(first.client);
    expect(await scanTable(w.outputs.TableName)).toEqual(items);
    expect(await secretNames()).toEqual([first.client.secretId]);
  });

  it('a re-run repairs a schedule that drifted', async () => {
    const request = onboarding();
    await onboardClient(w.ops, request);
    const drifted = await schedule(request.clientId);
    await scheduler.send(
      new UpdateScheduleCommand({ Name: request.clientId, GroupName: w.outputs.ScheduleGroupName, ScheduleExpression: 'rate(1 days)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: drifted.Target! }),
    );
    const again = await onboardClient(w.ops, request);
    expect(again.schedule).toBe('updated');
    expect(await schedule(request.clientId)).toMatchObject({ ScheduleExpression: 'rate(7 days)', FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 120 } });
    expect((await w.ops.keys.listAudit(request.clientId)).map((e) => e.action)).toContain('schedule.updated');
  });

  it('adopts a client registered from code without a policy', async () => {
    const legacy = await registerTestClient(w.steps, undefined, { scopes: ['orders:read', 'orders:write'] });
    const result = await onboardClient(w.ops, onboarding({ clientId: legacy.clientId }));
    expect(result).toMatchObject({ registered: false, schedule: 'created' });
    expect(result.client).toMatchObject({ currentKeyHash: legacy.currentKeyHash, policy: WEEKLY_BERLIN, overlapSeconds: 7200 });
  });

  it('refuses other scopes or another policy for a registered client, changing nothing', async () => {
    const request = onboarding();
    await onboardClient(w.ops, request);
    const items = await scanTable(w.outputs.TableName);
    const before = await schedule(request.clientId);
    const scopes = await failure(onboardClient(w.ops, { ...request, scopes: ['orders:read'] }));
    expect(scopes).toMatchObject({ name: 'RegistrationConflict', fields: ['scopes'] });
    const policy = await failure(onboardClient(w.ops, { ...request, policy: { ...WEEKLY_BERLIN, intervalDays: 14 } }));
    expect(policy).toMatchObject({ name: 'RegistrationConflict', fields: ['policy'] });
    expect(await scanTable(w.outputs.TableName)).toEqual(items);
    expect(await schedule(request.clientId)).toEqual(before);
  });

  interface InvalidCase {
    name: string;
    patch: Record<string, unknown>;
    issue: RegExp;
  }
  const invalid: InvalidCase[] = [
    { name: 'a zero interval', patch: { policy: { ...WEEKLY_BERLIN, intervalDays: 0 } }, issue: /^policy\.intervalDays: must be at least 1$/ },
    { name: 'a fractional interval', patch: { policy: { ...WEEKLY_BERLIN, intervalDays: 1.5 } }, issue: /^policy\.intervalDays: must be a whole number of days$/ },
    { name: 'an unknown time zone', patch: { policy: { ...WEEKLY_BERLIN, timeZone: 'Mars/Olympus_Mons' } }, issue: /^policy\.timeZone: must be an IANA time zone name/ },
    { name: 'a window time of 24:00', patch: { policy: { ...WEEKLY_BERLIN, window: { start: '24:00', end: '02:00' } } }, issue: /^policy\.window\.start: must be HH:MM \(24-hour\)$/ },
    { name: 'an empty window', patch: { policy: { ...WEEKLY_BERLIN, window: { start: '02:00', end: '02:00' } } }, issue: /^policy\.window: start and end must differ$/ },
    { name: 'an overlap over the hard deadline', patch: { policy: { ...WEEKLY_BERLIN, overlapSeconds: 90_000 } }, issue: /^policy\.overlapSeconds: must not exceed maxOverlapSeconds$/ },
    {
      name: 'a deadline that outlasts the interval',
      patch: { policy: { ...WEEKLY_BERLIN, intervalDays: 1, maxOverlapSeconds: 86_400 } },
      issue: /^policy\.maxOverlapSeconds: .*must end before the next scheduled rotation/,
    },
    {
      name: 'the deployment maximum as implicit deadline of a daily rotation',
      patch: { policy: { intervalDays: 1, timeZone: 'UTC', window: { start: '02:00', end: '03:00' } } },
      issue: /^policy\.maxOverlapSeconds: .*the deployment maximum/,
    },
    { name: 'an overlap under the deployment minimum', patch: { policy: { ...WEEKLY_BERLIN, overlapSeconds: 30 } }, issue: /^policy\.overlapSeconds: must be at least 60$/ },
    { name: 'an unknown policy field', patch: { policy: { ...WEEKLY_BERLIN, jitter: 5 } }, issue: /^policy\.jitter: is not allowed/ },
    { name: 'a bad scope', patch: { scopes: ['orders read'] }, issue: /^scopes\[0\]: must be 1-64 characters/ },
    // A key fits the scope alphabet; stored as a scope it would sit in the table in plaintext (invariant 5).
    { name: 'an API key as a scope', patch: { scopes: ['orders:read', generateApiKey('kr')] }, issue: /^scopes\[1\]: must not be an API key$/ },
    { name: 'a missing reason', patch: { reason: undefined }, issue: /^reason: / },
    { name: 'a bad client id', patch: { clientId: 'acme/../x' }, issue: /^clientId: must be 1-64 characters/ },
  ];

  it.each(invalid)('rejects $name with InvalidOperationInput and creates nothing', async ({ patch, issue }) => {
    const request = { ...onboarding(), ...patch };
    const error = await failure(onboardClient(w.ops, request));
    expect(error.name).toBe('InvalidOperationInput');
    expect((error as unknown as { issues: string[] }).issues).toEqual(expect.arrayContaining([expect.stringMatching(issue)]));
    expect(await scanTable(w.outputs.TableName)).toEqual([]);
    expect(await secretNames()).toEqual([]);
    if (typeof request.clientId === 'string' && /^[A-Za-z0-9._-]+$/.test(request.clientId)) expect(await scheduleExists(request.clientId)).toBe(false);
  });

  it('never echoes a value in its errors (a key pasted into a field stays out of the message)', async () => {
    const pasted = 'krt_' + 'A'.repeat(49);
    const error = await failure(onboardClient(w.ops, { ...onboarding(), reason: `\u0007${pasted}`, policy: { ...WEEKLY_BERLIN, timeZone: pasted, [pasted]: 1 } }));
    expect(error.name).toBe('InvalidOperationInput');
    expect(error.message).not.toContain(pasted);
    expect(JSON.stringify((error as unknown as { issues: string[] }).issues)).not.toContain(pasted);
  });
});

describe('offboardClient', () => {
  it('revokes every key, deletes the schedule, keeps the audit trail and refuses rotations afterwards', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const firstKey = (await w.ops.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    // A finished rotation in its overlap: the first key RETIRING, a second one ACTIVE.
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.MANUAL, { overlapSeconds: 3600 }), rotationId: newRotationId() });
    await createSecret(w.steps, context);
    await setSecret(w.steps, context);
    await testSecret(w.steps, context);
    await finishSecret(w.steps, context);
    const secondKey = (await w.ops.secrets.readStage(client.secretId, Stage.CURRENT))!.value.apiKey;
    expect((await w.ops.keys.getKey(hashApiKey(firstKey)))?.state).toBe(KeyState.RETIRING);

    w.clock.advance(60_000);
    const result = await offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'bob@example.com', reason: 'contract ended' });

    expect(result).toMatchObject({ clientId: client.clientId, offboardedAt: new Date(START + 60_000).toISOString(), scheduleDeleted: true, stoppedRotationId: context.rotationId });
    expect([...result.revokedKeyIds].sort()).toEqual([client.currentKeyId, (await describeClient(w.ops, client.clientId)).client.currentKeyId].sort());
    for (const key of await w.ops.keys.listClientKeys(client.clientId)) expect(key).toMatchObject({ state: KeyState.REVOKED, revokedAt: result.offboardedAt });
    expect(await verdict(firstKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await verdict(secondKey)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(await scheduleExists(client.clientId)).toBe(false);
    const after = await w.ops.keys.requireClient(client.clientId);
    expect(after).toMatchObject({ offboardedAt: result.offboardedAt });
    expect(after.lock).toBeUndefined();

    const audit = await w.ops.keys.listAudit(client.clientId);
    expect(audit.map((e) => e.action)).toEqual(expect.arrayContaining(['client.registered', 'rotation.finished', 'client.offboarded', 'key.revoked']));
    expect(audit.find((e) => e.action === 'client.offboarded')).toMatchObject({ actor: 'bob@example.com', reason: 'contract ended' });

    // Rotations are refused, by the state machine's first step and by the operator API.
    const refused = await failure(beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.EMERGENCY), rotationId: newRotationId() }));
    expect(refused).toMatchObject({ name: 'ClientOffboarded', clientId: client.clientId });
    expect((await failure(startRotation(w.ops, rotationRequest(client.clientId, RotationMode.MANUAL)))).name).toBe('ClientOffboarded');
    expect((await failure(onboardClient(w.ops, onboarding({ clientId: client.clientId })))).name).toBe('ClientOffboarded');
    expect(await w.executionNames()).toEqual([]);
  });

  it('stops a rotation in flight and undoes it: its pending key revoked, AWSPENDING gone, the lock released', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
    await createSecret(w.steps, context);
    await setSecret(w.steps, context);
    const pendingKeyId = ((await w.ops.keys.requireClient(client.clientId)) as { pendingKeyId?: string }).pendingKeyId;

    const result = await offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'bob', reason: 'fraud' });

    expect(result.stoppedRotationId).toBe(rotationId);
    expect(await w.executionStatus(rotationId)).toBe('ABORTED');
    expect(await labels(client.secretId)).toEqual({ [client.currentVersionId]: [Stage.CURRENT] });
    const keys = await w.ops.keys.listClientKeys(client.clientId);
    expect(keys.map((k) => k.state)).toEqual([KeyState.REVOKED, KeyState.REVOKED]);
    expect(keys.map((k) => k.keyId)).toContain(pendingKeyId);
    const after = (await w.ops.keys.requireClient(client.clientId)) as { lock?: unknown; pendingRotationId?: string };
    expect(after.lock).toBeUndefined();
    expect(after.pendingRotationId).toBeUndefined();
    // The stopped rotation's steps can no longer write.
    expect((await failure(finishSecret(w.steps, context))).name).toBe('RotationStateConflict');
  });

  it('is idempotent: a re-run revokes nothing more and keeps the first offboarding time', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const request = { clientId: client.clientId, requestedBy: 'bob', reason: 'contract ended' };
    const first = await offboardClient(w.ops, request);
    const items = await scanTable(w.outputs.TableName);
    w.clock.advance(3_600_000);
    const again = await offboardClient(w.ops, request);
    expect(again).toEqual({ clientId: client.clientId, offboardedAt: first.offboardedAt, revokedKeyIds: [], scheduleDeleted: false });
    expect(first.revokedKeyIds).toEqual([client.currentKeyId]);
    const changed = (await scanTable(w.outputs.TableName)).filter((item) => !items.some((old) => JSON.stringify(old) === JSON.stringify(item)));
    // Only the client record's updatedAt moves.
    expect(changed.map((item) => item.sk)).toEqual(['CLIENT']);
  });

  it('a re-run by another operator keeps the first entry (append-only audit) and records its own', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const first = await offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'bob', reason: 'contract ended' });
    w.clock.advance(60_000);
    const again = await offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'carol', reason: 'make sure' });
    expect(again).toMatchObject({ offboardedAt: first.offboardedAt, revokedKeyIds: [] });
    const audit = await w.ops.keys.listAudit(client.clientId);
    expect(audit.filter((e) => e.action.startsWith('client.offboard'))).toEqual([
      { clientId: client.clientId, at: first.offboardedAt, action: 'client.offboarded', actor: 'bob', reason: 'contract ended' },
      {
        clientId: client.clientId,
        at: new Date(Date.parse(first.offboardedAt) + 60_000).toISOString(),
        action: 'client.offboarding_resumed',
        actor: 'carol',
        reason: 'make sure',
        detail: `offboarding began ${first.offboardedAt}`,
      },
    ]);
  });

  it('a re-run by another operator after a crash before the lock was released converges; the undo stays on record once', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
    await createSecret(w.steps, context);
    const crash = jest.spyOn(w.ops.keys, 'releaseLock').mockRejectedValueOnce(new Error('crashed before releasing the lock'));
    expect((await failure(offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'bob', reason: 'fraud' }))).message).toContain('crashed');
    crash.mockRestore();
    expect((await w.ops.keys.requireClient(client.clientId)).lock?.rotationId).toBe(rotationId);

    w.clock.advance(60_000);
    const again = await offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'carol', reason: 'finish it' });
    expect(again).toMatchObject({ stoppedRotationId: rotationId, revokedKeyIds: [client.currentKeyId] });
    expect((await w.ops.keys.requireClient(client.clientId)).lock).toBeUndefined();
    const rolledBack = (await w.ops.keys.listAudit(client.clientId)).filter((e) => e.action === 'rotation.rolled_back');
    expect(rolledBack).toEqual([expect.objectContaining({ rotationId, actor: 'bob', reason: 'fraud', sequence: `offboarding of ${client.clientId}` })]);
  });

  it('refuses an unknown client and bad input without changing anything', async () => {
    expect((await failure(offboardClient(w.ops, { clientId: 'nobody-here', requestedBy: 'bob', reason: 'x' }))).name).toBe('UnknownClient');
    const bad = await failure(offboardClient(w.ops, { clientId: 'x', requestedBy: '', reason: 'x', extra: true }));
    expect(bad.name).toBe('InvalidOperationInput');
    expect((bad as unknown as { issues: string[] }).issues).toEqual(['requestedBy: must not be empty', 'extra: is not allowed; the fields are clientId, requestedBy, reason']);
    expect(await scanTable(w.outputs.TableName)).toEqual([]);
  });
});
