/**
 * Delivery settings through the operator API over moto: onboarding stores them and projects,
 * `updateClientDelivery` compare-and-sets them with its audit entry (idempotent, racing
 * updates and offboarding decided again), offboarding projects the removal, and every bad
 * input changes nothing (table items and audit counted before and after).
 *
 * The projector here is a recording test double of the agreed DeliveryProjector interface
 * (lambdas/aws/delivery/delivery-projector.ts), not the delivery function: it records each
 * call with the record it saw. The real projection is run end to end in
 * test/cli/cli-delivery.test.ts once it exists on this branch.
 */
import { GetResourcePolicyCommand } from '@aws-sdk/client-secrets-manager';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { generateApiKey } from '../../lambdas/core/api-key';
import type { ClientDelivery } from '../../lambdas/core/delivery';
import type { ClientRecord } from '../../lambdas/core/model';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import type { DeliveryProjectionResult, DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';
import { offboardClient, onboardClient, updateClientDelivery, type OpsDeps } from '../../operator/ops';
import { scanTable } from '../support/fixtures';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

const ROLE = 'arn:aws:iam::210987654321:role/acme-consumer';
const OTHER_ROLE = 'arn:aws:iam::210987654321:role/acme-batch';
const QUEUE = 'arn:aws:sqs:eu-west-1:210987654321:acme-notices';

/** Records every projection with the client record it found (the delivery function reads the same). */
class RecordingProjector implements DeliveryProjector {
  readonly calls: { clientId: string; delivery?: ClientDelivery; offboarded: boolean }[] = [];
  constructor(private readonly deps: () => OpsDeps) {}

  async project(clientId: string): Promise<DeliveryProjectionResult> {
    const client = await this.deps().keys.requireClient(clientId);
    this.calls.push({ clientId, ...(client.delivery ? { delivery: client.delivery } : {}), offboarded: client.offboardedAt !== undefined });
    return { clientId, secretPolicy: 'unchanged', grants: { created: 0, revoked: 0, kept: 0 }, subscriptions: { created: 0, removed: 0, kept: 0, pendingConfirmation: 0 } };
  }
}

let w: OpsWorld;
let projector: RecordingProjector;
/** The operator API with the recording projector. */
let ops: OpsDeps;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
  projector = new RecordingProjector(() => ops);
  ops = { ...w.ops, delivery: projector };
});

async function publicJwk(kid?: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(publicKey)), ...(kid ? { kid } : {}) };
}

async function privateJwk(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return exportJWK(privateKey);
}

/** Table items as sorted JSON, to compare before and after a refused call. */
async function tableState(): Promise<string[]> {
  return (await scanTable(w.outputs.TableName)).map((item) => JSON.stringify(item)).sort();
}

async function onboarded(delivery?: unknown): Promise<ClientRecord> {
  const result = await onboardClient(ops, onboarding(delivery === undefined ? {} : { delivery }));
  return result.client;
}

function update(clientId: string, delivery: unknown, extra: Record<string, unknown> = {}) {
  return updateClientDelivery(ops, { clientId, delivery, requestedBy: 'bob@example.com', reason: 'consumer moved', ...extra });
}

describe('onboarding with delivery settings', () => {
  it('stores them on the record, projects, and leaves the secret policy to the delivery function', async () => {
    const jwk = await publicJwk('acme-2026');
    const result = await onboardClient(ops, onboarding({ delivery: { readers: [ROLE, ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }], pickupKeys: [jwk] } }));
    expect(result.client.delivery).toEqual({ readers: [ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }], pickupKeys: [{ kid: 'acme-2026', jwk }] });
    expect(result.delivery).toMatchObject({ clientId: result.client.clientId });
    expect(projector.calls).toEqual([{ clientId: result.client.clientId, delivery: result.client.delivery, offboarded: false }]);
    // The operator side wrote no resource policy: the delivery function's denies PutResourcePolicy to everyone else.
    const { ResourcePolicy } = await secretsManagerClient().send(new GetResourcePolicyCommand({ SecretId: result.client.secretId }));
    expect(ResourcePolicy).toBeUndefined();
  });

  it('a re-run with the same settings changes nothing and projects again; other settings are a RegistrationConflict naming delivery', async () => {
    const request = onboarding({ delivery: { readers: [ROLE] } });
    await onboardClient(ops, request);
    const before = await tableState();
    const again = await onboardClient(ops, { ...request, delivery: { readers: [ROLE], endpoints: [] } });
    expect(again.registered).toBe(false);
    expect(await tableState()).toEqual(before);
    expect(projector.calls).toHaveLength(2);

    for (const other of [{ readers: [OTHER_ROLE] }, undefined]) {
      const error = await failure(onboardClient(ops, { ...request, delivery: other }));
      expect(error).toMatchObject({ name: 'RegistrationConflict', fields: ['delivery'] });
      expect(error.message).toContain('keyroll clients update');
    }
    expect(await tableState()).toEqual(before);
    expect(projector.calls).toHaveLength(2);
  });

  it('without a delivery projector: settings are refused before anything is written; none at all keeps the KeyRoll secret policy', async () => {
    const before = await tableState();
    const error = await failure(onboardClient(w.ops, onboarding({ delivery: { readers: [ROLE] } })));
    expect(error.name).toBe('DeliveryUnavailable');
    expect(await tableState()).toEqual(before);

    const plain = await onboardClient(w.ops, onboarding({ delivery: { readers: [] } }));
    expect(plain.client.delivery).toBeUndefined();
    expect(plain.delivery).toBeUndefined();
    const { ResourcePolicy } = await secretsManagerClient().send(new GetResourcePolicyCommand({ SecretId: plain.client.secretId }));
    expect(JSON.parse(ResourcePolicy!)).toMatchObject({ Statement: [expect.objectContaining({ Effect: 'Deny', Action: 'secretsmanager:RotateSecret' })] });
  });

  it('lists the delivery issues with the other issues of the request, and writes nothing', async () => {
    const before = await tableState();
    const error = await failure(onboardClient(ops, onboarding({ scopes: 'x', delivery: { readers: ['arn:aws:sts::210987654321:assumed-role/r/s'], pickupKeys: [await privateJwk()] } })));
    expect(error).toMatchObject({ name: 'InvalidOperationInput' });
    const issues = (error as unknown as { issues: string[] }).issues;
    expect(issues).toEqual([expect.stringMatching(/^scopes: /), expect.stringMatching(/^delivery\.readers\[0\]: is an STS session ARN/), expect.stringMatching(/^delivery\.pickupKeys\[0\]: is a private key/)]);
    expect(await tableState()).toEqual(before);
    expect(projector.calls).toHaveLength(0);
  });
});

describe('updateClientDelivery', () => {
  it('replaces the given lists, keeps the others, audits what changed (email masked, https by host) and projects', async () => {
    const client = await onboarded({ readers: [ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }] });
    w.clock.advance(60_000);
    const result = await update(client.clientId, {
      readers: [OTHER_ROLE],
      endpoints: [
        { protocol: 'sqs', endpoint: QUEUE },
        { protocol: 'email', endpoint: 'ops.team@acme.example' },
        { protocol: 'https', endpoint: 'https://hooks.acme.example/keyroll?token=s3cret' },
      ],
    });
    expect(result.changed).toBe(true);
    expect(result.client.delivery).toEqual({
      readers: [OTHER_ROLE],
      endpoints: [
        { protocol: 'email', endpoint: 'ops.team@acme.example' },
        { protocol: 'https', endpoint: 'https://hooks.acme.example/keyroll?token=s3cret' },
        { protocol: 'sqs', endpoint: QUEUE },
      ],
      pickupKeys: [],
    });
    expect(projector.calls.at(-1)).toEqual({ clientId: client.clientId, delivery: result.client.delivery, offboarded: false });
    const audit = (await w.ops.keys.listAudit(client.clientId)).filter((e) => e.action === 'client.delivery_updated');
    expect(audit).toEqual([
      expect.objectContaining({
        actor: 'bob@example.com',
        reason: 'consumer moved',
        detail: `readers +${OTHER_ROLE} -${ROLE}; endpoints +email:o***@acme.example +https:hooks.acme.example`,
      }),
    ]);
    expect(JSON.stringify(audit)).not.toMatch(/ops\.team|s3cret/);
  });

  it('is idempotent: asking for what is stored writes nothing and still projects (a re-run repairs drift)', async () => {
    const client = await onboarded();
    const key = await publicJwk();
    const first = await update(client.clientId, { pickupKeys: [key] });
    expect(first.changed).toBe(true);
    const before = await tableState();
    w.clock.advance(1000);
    const again = await update(client.clientId, { pickupKeys: [key] });
    expect(again).toMatchObject({ changed: false, client: first.client });
    const empty = await update(client.clientId, {});
    expect(empty.changed).toBe(false);
    expect(await tableState()).toEqual(before);
    expect(projector.calls).toHaveLength(4);
  });

  it('clearing every list removes the settings from the record', async () => {
    const client = await onboarded({ readers: [ROLE] });
    const result = await update(client.clientId, { readers: [] });
    expect(result.changed).toBe(true);
    expect(result.client.delivery).toBeUndefined();
    expect((await w.ops.keys.listAudit(client.clientId)).find((e) => e.action === 'client.delivery_updated')).toMatchObject({ detail: `readers -${ROLE}` });
  });

  it('a racing update is decided again on the record it left: both changes stand, each audited', async () => {
    const client = await onboarded({ readers: [ROLE] });
    let raced = false;
    // The concurrent update lands between our read and our compare-and-set.
    const keys = new Proxy(w.ops.keys, {
      get(target, property, receiver) {
        if (property === 'applyChange' && !raced) {
          return async (change: Parameters<typeof target.applyChange>[0]) => {
            raced = true;
            await updateClientDelivery(ops, { clientId: client.clientId, delivery: { endpoints: [{ protocol: 'sqs', endpoint: QUEUE }] }, requestedBy: 'carol', reason: 'other change' });
            return target.applyChange(change);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const result = await updateClientDelivery({ ...ops, keys }, { clientId: client.clientId, delivery: { readers: [OTHER_ROLE] }, requestedBy: 'bob', reason: 'new reader' });
    expect(raced).toBe(true);
    expect(result.changed).toBe(true);
    expect(result.client.delivery).toEqual({ readers: [OTHER_ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }], pickupKeys: [] });
    const audit = (await w.ops.keys.listAudit(client.clientId)).filter((e) => e.action === 'client.delivery_updated');
    expect(audit.map((e) => [e.actor, e.detail])).toEqual(
      expect.arrayContaining([
        ['carol', `endpoints +sqs:${QUEUE}`],
        ['bob', `readers +${OTHER_ROLE} -${ROLE}`],
      ]),
    );
    expect(audit).toHaveLength(2);
  });

  it('an offboarding that races the update wins: ClientOffboarded, the settings stay as they were', async () => {
    const client = await onboarded({ readers: [ROLE] });
    let raced = false;
    const keys = new Proxy(w.ops.keys, {
      get(target, property, receiver) {
        if (property === 'applyChange' && !raced) {
          return async (change: Parameters<typeof target.applyChange>[0]) => {
            raced = true;
            await target.markOffboarded(client.clientId, new Date(w.clock.nowMs()).toISOString());
            return target.applyChange(change);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const error = await failure(updateClientDelivery({ ...ops, keys }, { clientId: client.clientId, delivery: { readers: [OTHER_ROLE] }, requestedBy: 'bob', reason: 'late change' }));
    expect(error.name).toBe('ClientOffboarded');
    expect((await w.ops.keys.requireClient(client.clientId)).delivery).toEqual({ readers: [ROLE], endpoints: [], pickupKeys: [] });
    expect((await w.ops.keys.listAudit(client.clientId)).map((e) => e.action)).not.toContain('client.delivery_updated');
  });

  it('refuses every bad input with nothing written and nothing projected', async () => {
    const client = await onboarded({ readers: [ROLE] });
    const callsBefore = projector.calls.length;
    const before = await tableState();
    const apiKey = generateApiKey('kr');
    const cases: [unknown, string][] = [
      [{ clientId: client.clientId, delivery: { pickupKeys: [await privateJwk()] }, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, delivery: { readers: [apiKey] }, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, delivery: { readers: Array.from({ length: 10_000 }, () => ROLE) }, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, delivery: { endpoints: [{ protocol: 'sqs', endpoint: { arn: QUEUE } }] }, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, delivery: { readers: [ROLE] }, requestedBy: 'bob', reason: apiKey }, 'InvalidOperationInput'],
      [{ clientId: client.clientId, delivery: { readers: ['arn:aws-cn:iam::210987654321:root'] }, requestedBy: 'bob', reason: 'x' }, 'InvalidOperationInput'],
      [[client.clientId], 'InvalidOperationInput'],
      [{ clientId: 'nobody-here', delivery: { readers: [OTHER_ROLE] }, requestedBy: 'bob', reason: 'x' }, 'UnknownClient'],
    ];
    for (const [raw, name] of cases) {
      const error = await failure(updateClientDelivery(ops, raw));
      expect(error.name).toBe(name);
      expect(error.message).not.toContain(apiKey);
    }
    // Without a projector: refused before the record is read.
    expect((await failure(updateClientDelivery(w.ops, { clientId: client.clientId, delivery: { readers: [OTHER_ROLE] }, requestedBy: 'bob', reason: 'x' }))).name).toBe('DeliveryUnavailable');
    expect(await tableState()).toEqual(before);
    expect(projector.calls).toHaveLength(callsBefore);
  });

  it('refuses an offboarded client with nothing written', async () => {
    const client = await onboarded({ readers: [ROLE] });
    await offboardClient(ops, { clientId: client.clientId, requestedBy: 'alice', reason: 'contract ended' });
    const before = await tableState();
    const error = await failure(update(client.clientId, { readers: [OTHER_ROLE] }));
    expect(error.name).toBe('ClientOffboarded');
    expect(await tableState()).toEqual(before);
  });
});

describe('offboarding', () => {
  it('projects after the revocations, so the delivery function removes readers, grants and subscriptions', async () => {
    const client = await onboarded({ readers: [ROLE], endpoints: [{ protocol: 'sqs', endpoint: QUEUE }] });
    const result = await offboardClient(ops, { clientId: client.clientId, requestedBy: 'alice', reason: 'contract ended' });
    expect(result.delivery).toMatchObject({ clientId: client.clientId });
    expect(result.revokedKeyIds).toEqual([client.currentKeyId]);
    expect(projector.calls.at(-1)).toMatchObject({ clientId: client.clientId, offboarded: true });
    // Without a projector offboarding is what it was.
    const plain = await onboardClient(w.ops, onboarding());
    expect((await offboardClient(w.ops, { clientId: plain.client.clientId, requestedBy: 'alice', reason: 'x' })).delivery).toBeUndefined();
  });

  it('without a projector, a client with delivery settings is still offboarded and revoked, then DeliveryCleanupPending; a re-run with one cleans up', async () => {
    const client = await onboarded({ readers: [ROLE] });
    await expect(offboardClient(w.ops, { clientId: client.clientId, requestedBy: 'alice', reason: 'incident' })).rejects.toMatchObject({ name: 'DeliveryCleanupPending' });
    const after = await w.ops.keys.requireClient(client.clientId);
    expect(after.offboardedAt).toBeDefined();
    expect((await w.ops.keys.getKey(client.currentKeyHash))?.state).toBe('REVOKED');
    await offboardClient(ops, { clientId: client.clientId, requestedBy: 'alice', reason: 'incident' });
    expect(projector.calls.at(-1)).toMatchObject({ clientId: client.clientId, offboarded: true });
  });
});
