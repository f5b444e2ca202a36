/**
 * registerClient over moto: a secret with the first key as AWSCURRENT, that key ACTIVE in
 * DynamoDB and a client record pointing at it; idempotent; bad input changes nothing.
 */
import { ListSecretsCommand } from '@aws-sdk/client-secrets-manager';
import { hashApiKey, keyIdOf, parseApiKey } from '../../lambdas/core/api-key';
import { InvalidRotationInputError } from '../../lambdas/core/errors';
import { KeyState } from '../../lambdas/core/key-state';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { registerClient, secretNameFor, type ClientRegistration, type ProvisioningSettings } from '../../lambdas/aws/client-provisioning';
import { Stage } from '../../lambdas/aws/secret-store';
import { makeTestDeps, scanTable, uniqueName } from '../support/fixtures';
import { allVersionIds, labels, leakedKeys, type TestDeps } from '../support/step-helpers';

let deps: TestDeps;
let settings: ProvisioningSettings;

beforeEach(async () => {
  deps = await makeTestDeps();
  settings = { keyPrefix: deps.settings.keyPrefix, secretNamePrefix: deps.secretNamePrefix };
});

const register = (registration: Partial<ClientRegistration> & { clientId: string }) =>
  registerClient({ secrets: deps.secrets, keys: deps.keys, clock: deps.clock, settings }, { scopes: ['orders:read', 'orders:write'], requestedBy: 'alice', reason: 'onboarding', ...registration });

/** Secret names created under this test's prefix. */
async function secretsUnderPrefix(): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await secretsManagerClient().send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [deps.secretNamePrefix] }], NextToken: token }));
    names.push(...(page.SecretList ?? []).map((s) => s.Name!).filter((name) => name.startsWith(deps.secretNamePrefix)));
    token = page.NextToken || undefined;
  } while (token);
  return names;
}

describe('registerClient', () => {
  it('creates the secret (AWSCURRENT), an ACTIVE key and a client record that agree with each other', async () => {
    const clientId = uniqueName('acme');
    const client = await register({ clientId, overlapSeconds: 7200 });

    expect(client.secretId).toBe(secretNameFor(settings, clientId));
    // (Also proves that the "creates nothing" checks below can see a secret.)
    expect(await secretsUnderPrefix()).toEqual([client.secretId]);
    const stages = await labels(client.secretId);
    expect(stages).toEqual({ [client.currentVersionId]: [Stage.CURRENT] });

    const current = await deps.secrets.readStage(client.secretId, Stage.CURRENT);
    expect(current?.versionId).toBe(client.currentVersionId);
    const apiKey = current!.value.apiKey;
    expect(parseApiKey(apiKey, deps.settings.keyPrefix).key).toBe(apiKey);
    expect(current!.value.keyId).toBe(keyIdOf(apiKey));

    // Invariant 1: DynamoDB agrees with AWSCURRENT.
    expect(client.currentKeyHash).toBe(hashApiKey(apiKey));
    expect(client.currentKeyId).toBe(keyIdOf(apiKey));
    expect(client).toMatchObject({ clientId, scopes: ['orders:read', 'orders:write'], overlapSeconds: 7200 });
    expect(client.lock).toBeUndefined();
    expect(await deps.keys.getClient(clientId)).toEqual(client);

    const key = await deps.keys.getKey(hashApiKey(apiKey));
    expect(key).toMatchObject({
      keyHash: client.currentKeyHash,
      keyId: client.currentKeyId,
      clientId,
      secretVersionId: client.currentVersionId,
      rotationId: 'initial',
      state: KeyState.ACTIVE,
      scopes: ['orders:read', 'orders:write'],
    });
    expect(await deps.keys.listClientKeys(clientId)).toEqual([key]);
    expect(await deps.keys.listAudit(clientId)).toEqual([expect.objectContaining({ action: 'client.registered', actor: 'alice', reason: 'onboarding', keyId: client.currentKeyId })]);

    // Invariant 5: the plaintext is in the secret only.
    expect(leakedKeys(await scanTable(deps.tableName), [apiKey])).toEqual([]);
    expect(leakedKeys(client, [apiKey])).toEqual([]);
  });

  it('registering twice returns the same record and leaves the secret alone', async () => {
    const clientId = uniqueName('acme');
    const first = await register({ clientId });
    const value = await deps.secrets.readStage(first.secretId, Stage.CURRENT);
    const items = await scanTable(deps.tableName);

    const second = await register({ clientId, scopes: ['admin'], reason: 'again' });
    expect(second).toEqual(first);
    expect(await deps.secrets.readStage(first.secretId, Stage.CURRENT)).toEqual(value);
    expect(await allVersionIds(first.secretId)).toEqual([first.currentVersionId]);
    expect(await scanTable(deps.tableName)).toEqual(items);
  });

  it('adopts the existing secret when a registration crashed after creating it', async () => {
    const clientId = uniqueName('acme');
    const secretId = secretNameFor(settings, clientId);
    // First attempt: the secret is created, then the table write fails (simulated by a repository that throws).
    const failingKeys = Object.create(deps.keys) as typeof deps.keys;
    failingKeys.createClient = async () => {
      throw new Error('simulated DynamoDB outage');
    };
    await expect(registerClient({ secrets: deps.secrets, keys: failingKeys, clock: deps.clock, settings }, { clientId, scopes: ['orders:read'], requestedBy: 'alice', reason: 'onboarding' })).rejects.toThrow(
      'simulated DynamoDB outage',
    );
    const stored = await deps.secrets.readStage(secretId, Stage.CURRENT);
    expect(stored).toBeDefined();

    const client = await register({ clientId, scopes: ['orders:read'] });
    expect(await deps.secrets.readStage(secretId, Stage.CURRENT)).toEqual(stored);
    expect(client.currentVersionId).toBe(stored!.versionId);
    expect(client.currentKeyHash).toBe(hashApiKey(stored!.value.apiKey));
    expect((await deps.keys.getKey(client.currentKeyHash))?.state).toBe(KeyState.ACTIVE);
  });

  it.each([
    ['an invalid client id', { clientId: 'bad id!' }, 'clientId'],
    ['an empty client id', { clientId: '' }, 'clientId'],
    ['a client id starting with a dot', { clientId: '.hidden' }, 'clientId'],
    ['an invalid scope', { clientId: 'valid-client', scopes: ['orders read'] }, 'scopes'],
    ['too many scopes', { clientId: 'valid-client', scopes: Array.from({ length: 51 }, (_, i) => `s${i}`) }, 'scopes'],
  ])('rejects %s with InvalidRotationInput and creates nothing', async (_label, registration, field) => {
    let thrown: unknown;
    try {
      await register(registration);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidRotationInputError);
    expect((thrown as Error).name).toBe('InvalidRotationInput');
    expect((thrown as InvalidRotationInputError).issues.some((issue) => issue.startsWith(`${field}:`))).toBe(true);
    expect(await secretsUnderPrefix()).toEqual([]);
    expect(await scanTable(deps.tableName)).toEqual([]);
  });
});
