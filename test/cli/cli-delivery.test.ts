/**
 * The delivery flags of `keyroll clients add` and `keyroll clients update` against moto,
 * in-process: what reaches the record and the projection, --json output, refusals with
 * nothing changed (a private JWK file is named, never printed), and the Lambda projector's
 * handling of the delivery function's answers.
 *
 * The projector is a recording test double of the agreed DeliveryProjector interface
 * (lambdas/aws/delivery/delivery-projector.ts), handed to the CLI as its local delivery: the
 * local environment has no delivery function.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { exportJWK, generateKeyPair } from 'jose';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import type { DeliveryProjectionResult, DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { LambdaDeliveryProjector } from '../../operator/cli/lambda-delivery-projector';
import type { OpsDeps } from '../../operator/ops';
import { generateApiKey } from '../../lambdas/core/api-key';
import { CliWorld, json, KEY_SHAPE } from './cli-harness';

const ROLE = 'arn:aws:iam::210987654321:role/acme-app';
const QUEUE = 'arn:aws:sqs:eu-west-1:210987654321:acme-keyroll';

/** Records each projection (client id, and whether the record was offboarded then). */
const projections: { clientId: string; readers: readonly string[]; offboarded: boolean }[] = [];
const RESULT = (clientId: string): DeliveryProjectionResult => ({
  clientId,
  secretPolicy: 'put',
  grants: { created: 1, revoked: 0, kept: 0 },
  subscriptions: { created: 1, removed: 0, kept: 0, pendingConfirmation: 0 },
});

let world: CliWorld;
let keys: KeyRepository;
const dir = mkdtempSync(path.join(tmpdir(), 'keyroll-jwk-'));

beforeAll(async () => {
  world = await CliWorld.create({
    localDelivery: {
      projector: (deps: OpsDeps): DeliveryProjector => ({
        async project(clientId) {
          const client = await deps.keys.requireClient(clientId);
          projections.push({ clientId, readers: client.delivery?.readers ?? [], offboarded: client.offboardedAt !== undefined });
          return RESULT(clientId);
        },
      }),
    },
  });
  keys = new KeyRepository(dynamoDbClient(), world.outputs.TableName);
});

afterAll(() => {
  expect(world.transcript.join('\n')).not.toMatch(KEY_SHAPE);
});

async function jwkFile(kind: 'public' | 'private', extra: Record<string, unknown> = {}): Promise<{ file: string; jwk: Record<string, unknown> }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(kind === 'public' ? publicKey : privateKey)), ...extra };
  const file = path.join(dir, `${randomUUID()}.jwk`);
  writeFileSync(file, JSON.stringify(jwk));
  return { file, jwk };
}

const newId = () => `deliv-${randomUUID().slice(0, 8)}`;

describe('clients add with delivery flags', () => {
  it('stores readers, endpoints and a pickup key, projects, and shows them without secrets', async () => {
    const id = newId();
    const { file } = await jwkFile('public', { kid: 'acme-2026' });
    const added = await world.cli(
      '--json',
      'clients',
      'add',
      id,
      '--scopes',
      'orders:read',
      '--reader',
      ROLE,
      '--notify',
      `sqs:${QUEUE}`,
      '--notify',
      'https://hooks.acme.example/keyroll?token=s3cret',
      '--notify',
      'email:ops@acme.example',
      '--pickup-key',
      file,
    );
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(json(added)).toMatchObject({
      delivery: { readers: [ROLE], endpoints: ['email:o***@acme.example', 'https:hooks.acme.example', `sqs:${QUEUE}`], pickupKeyIds: ['acme-2026'] },
      projection: RESULT(id),
    });
    expect(added.stdout).not.toMatch(/s3cret|ops@/);
    expect(projections.filter((p) => p.clientId === id)).toEqual([{ clientId: id, readers: [ROLE], offboarded: false }]);
    const record = await keys.requireClient(id);
    expect(record.delivery?.endpoints).toContainEqual({ protocol: 'https', endpoint: 'https://hooks.acme.example/keyroll?token=s3cret' });

    const shown = await world.cli('clients', 'show', id);
    expect(shown.stdout).toMatch(/readers\s+arn:aws:iam::210987654321:role\/acme-app/);
    expect(shown.stdout).toMatch(/pickup keys\s+acme-2026/);
    expect(shown.stdout).not.toMatch(/s3cret|"x":/);
  });

  it('refuses a private JWK file by name without printing it, before anything is read', async () => {
    const id = newId();
    const { file, jwk } = await jwkFile('private');
    const before = await world.snapshot();
    for (const argv of [
      ['--json', 'clients', 'add', id, '--scopes', 'orders:read', '--pickup-key', file],
      ['clients', 'add', id, '--scopes', 'orders:read', '--pickup-key', file],
    ]) {
      const refused = await world.cli(...argv);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("PrivateKeyFile: --pickup-key #1: the file holds a private key (it has the private member 'd')");
      expect(`${refused.stdout}${refused.stderr}`).not.toContain(String(jwk.d));
      expect(`${refused.stdout}${refused.stderr}`).not.toContain(String(jwk.x));
    }
    expect(await world.snapshot()).toEqual(before);
  });

  it('refuses bad delivery values with exit 2, naming the field, printing no value, changing nothing', async () => {
    const id = newId();
    const apiKey = generateApiKey(world.outputs.KeyPrefix);
    const notJson = path.join(dir, 'not.jwk');
    writeFileSync(notJson, `-----BEGIN PRIVATE KEY-----\n${apiKey}\n`);
    const before = await world.snapshot();
    const cases: [string[], RegExp][] = [
      [['--reader', apiKey], /delivery\.readers\[0\]: must be an IAM principal ARN, not an API key/],
      [['--reader', 'arn:aws:sts::210987654321:assumed-role/acme-app/session'], /STS session ARN.*register the role/],
      [['--notify', 'ftp://x.example'], /UsageError: --notify #1 must be sqs:<queue ARN>, https:\/\/<url> or email:<address>/],
      [['--notify', 'https://user:pw@hooks.example/'], /credentials/],
      [['--pickup-key', notJson], /--pickup-key #1: the file is not JSON/],
      [['--pickup-key', path.join(dir, 'missing.jwk')], /cannot read the file \(ENOENT\)/],
    ];
    for (const [flags, expected] of cases) {
      const refused = await world.cli('clients', 'add', id, '--scopes', 'orders:read', ...flags);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(expected);
      expect(refused.stderr).not.toContain(apiKey);
      expect(refused.stderr).not.toContain('pw@');
    }
    expect(await world.snapshot()).toEqual(before);
  });
});

describe('clients update', () => {
  it('replaces the given kinds, keeps the others, clears with --no-…, and a re-run changes nothing', async () => {
    const id = newId();
    await world.cli('clients', 'add', id, '--scopes', 'orders:read', '--reader', ROLE, '--notify', `sqs:${QUEUE}`);
    const other = 'arn:aws:iam::210987654321:role/acme-batch';
    const updated = await world.cli('--json', 'clients', 'update', id, '--reader', other, '--reader', ROLE, '--reason', 'batch job reads too');
    expect(updated).toMatchObject({ code: 0, stderr: '' });
    expect(json(updated)).toMatchObject({ clientId: id, changed: true, delivery: { readers: [other, ROLE].sort(), endpoints: [`sqs:${QUEUE}`] }, projection: RESULT(id), actor: 'test-operator' });
    const audit = (await keys.listAudit(id)).find((e) => e.action === 'client.delivery_updated');
    expect(audit).toMatchObject({ reason: 'batch job reads too', detail: `readers +${other}` });

    const before = await world.snapshot();
    const again = await world.cli('clients', 'update', id, '--reader', ROLE, '--reader', other);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Unchanged (already as asked; projected again): delivery of client ${id}`);
    expect(await world.snapshot()).toEqual(before);

    const cleared = json(await world.cli('--json', 'clients', 'update', id, '--no-notify', '--no-readers'));
    expect(cleared).toMatchObject({ changed: true, delivery: { readers: [], endpoints: [], pickupKeyIds: [] } });
    expect((await keys.requireClient(id)).delivery).toBeUndefined();
  });

  it('refuses a flag with its --no-… form, an unknown client and an offboarded one; each projection of the removal runs at offboarding', async () => {
    const id = newId();
    await world.cli('clients', 'add', id, '--scopes', 'orders:read', '--reader', ROLE);
    const conflict = await world.cli('--json', 'clients', 'update', id, '--notify', `sqs:${QUEUE}`, '--no-notify');
    expect(conflict.code).toBe(2);
    expect(json<{ error: { name: string; issues: string[] } }>(conflict).error).toMatchObject({ name: 'UsageError', issues: ['--notify and --no-notify cannot be used together'] });
    const unknown = await world.cli('clients', 'update', 'nobody-here', '--reader', ROLE);
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain('UnknownClient');

    const removed = json<{ delivery: DeliveryProjectionResult }>(await world.cli('--json', 'clients', 'remove', id, '--reason', 'contract ended'));
    expect(removed.delivery).toEqual(RESULT(id));
    expect(projections.filter((p) => p.clientId === id).at(-1)).toMatchObject({ offboarded: true });
    const late = await world.cli('clients', 'update', id, '--reader', ROLE);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('ClientOffboarded');
  });

  it('without a delivery function or a local projection the flags are refused: DeliveryUnavailable, exit 3, nothing written', async () => {
    const plain = await CliWorld.create();
    const id = newId();
    const refused = await plain.cli('--json', 'clients', 'add', id, '--scopes', 'orders:read', '--reader', ROLE);
    expect(refused.code).toBe(3);
    expect(json<{ error: { name: string } }>(refused).error.name).toBe('DeliveryUnavailable');
    expect(await new KeyRepository(dynamoDbClient(), plain.outputs.TableName).getClient(id)).toBeUndefined();
  });
});

describe('LambdaDeliveryProjector', () => {
  /** A LambdaClient stand-in answering every invoke with `answer` (the payload it was sent is kept). */
  function lambdaAnswering(answer: Partial<InvokeCommandOutput>): { client: LambdaClient; sent: unknown[] } {
    const sent: unknown[] = [];
    const client = {
      send: (command: { input: { FunctionName: string; Payload: Uint8Array } }) => {
        sent.push({ functionName: command.input.FunctionName, payload: JSON.parse(new TextDecoder().decode(command.input.Payload)) as unknown });
        return Promise.resolve(answer);
      },
    } as unknown as LambdaClient;
    return { client, sent };
  }
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('invokes the function with {clientId} and returns its result', async () => {
    const { client, sent } = lambdaAnswering({ StatusCode: 200, Payload: encode(RESULT('acme')) as InvokeCommandOutput['Payload'] });
    await expect(new LambdaDeliveryProjector(client, 'KeyRoll-Delivery').project('acme')).resolves.toEqual(RESULT('acme'));
    expect(sent).toEqual([{ functionName: 'KeyRoll-Delivery', payload: { clientId: 'acme' } }]);
  });

  it('surfaces a function error as DeliveryProjectionFailed with its name and a bounded, redacted message', async () => {
    const apiKey = generateApiKey('kr');
    const { client } = lambdaAnswering({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: encode({ errorType: 'UnknownClient', errorMessage: `no client; ${apiKey}\n${'x'.repeat(1000)}` }) as InvokeCommandOutput['Payload'],
    });
    const error = await new LambdaDeliveryProjector(client, 'f').project('acme').then(
      () => {
        throw new Error('projected');
      },
      (e: unknown) => e as Error & { errorName: string },
    );
    expect(error).toMatchObject({ name: 'DeliveryProjectionFailed', errorName: 'UnknownClient' });
    expect(error.message).not.toContain(apiKey);
    expect(error.message.length).toBeLessThan(600);
    const odd = lambdaAnswering({ StatusCode: 200, Payload: encode({ clientId: 'other' }) as InvokeCommandOutput['Payload'] });
    await expect(new LambdaDeliveryProjector(odd.client, 'f').project('acme')).rejects.toMatchObject({ name: 'DeliveryProjectionFailed', errorName: 'UnexpectedResponse' });
  });
});
