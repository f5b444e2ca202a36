/**
 * PickupKeyProvider against the real pickup handler (local/pickup-server.ts: the handler behind
 * a loopback server, run as the `pickup` function under the tests' IAM check) over moto: the
 * key the client registered at onboarding (its public JWK in the client record), rotations by
 * the project's own steps, a key of its own rotated with two registered kids, and a key the
 * platform never registered.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { clientItemKey } from '../../lambdas/aws/table-keys';
import type { PickupPublicKey } from '../../lambdas/core/delivery';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { PICKUP_METRICS_SERVICE } from '../../lambdas/core/pickup-metric-names';
import { Stage } from '../../lambdas/aws/secret-store';
import { startPickupServer, type PickupServer } from '../../local/pickup-server';
import { applyRotationNotification, KeyUnavailableError } from '../../client';
import { PickupKeyProvider } from '../../client/pickup';
import { makeTestDeps, newRotationId, registerTestClient } from '../support/fixtures';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { rotationRequest } from '../support/step-helpers';
import { errorText, RecordingLogger } from './helpers';

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let server: PickupServer;

beforeAll(async () => {
  deps = await makeTestDeps();
  // The handler's own log lines are the pickup helper's to test; keep this file's output quiet.
  server = await startPickupServer({ tableName: deps.tableName, logger: new Logger({ serviceName: PICKUP_METRICS_SERVICE, logLevel: 'SILENT' }) });
});

afterAll(async () => {
  await server.close();
});

/** A key pair as a client makes one: the public JWK (with its kid) is what it registers. */
function keyPair(kid: string, type: 'ec' | 'rsa' = 'ec'): { privateKey: KeyObject; registered: PickupPublicKey } {
  const { publicKey, privateKey } = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, registered: { kid, jwk: { ...(publicKey.export({ format: 'jwk' }) as Record<string, string>), kid } } };
}

/** A client registered with `keys` as its pickup keys (written to the record as `keyroll clients update` would). */
async function pickupClient(keys: readonly PickupPublicKey[]) {
  const client = await registerTestClient(deps);
  await dynamoDbClient().send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: clientItemKey(client.clientId),
      UpdateExpression: 'SET delivery = :d',
      ExpressionAttributeValues: { ':d': { readers: [], endpoints: [], pickupKeys: keys } },
    }),
  );
  return client;
}

async function currentValue(secretId: string) {
  return (await deps.secrets.readStage(secretId, Stage.CURRENT))!.value;
}

/** A whole rotation through the project's own steps; returns the notice. */
async function rotate(clientId: string, mode: RotationMode) {
  const rotationId = newRotationId();
  const context = await beginRotation(deps, { request: rotationRequest(clientId, mode), rotationId });
  await createSecret(deps, context);
  await setSecret(deps, context);
  await testSecret(deps, context);
  const { notice } = await finishSecret(deps, context);
  await deps.keys.releaseLock(clientId, rotationId);
  return notice;
}

describe('PickupKeyProvider against the pickup handler (moto)', () => {
  it('picks up the current key (EC), follows a scheduled and an emergency rotation by their notices, and logs no key', async () => {
    const { privateKey, registered } = keyPair('acme-ec-1');
    const client = await pickupClient([registered]);
    const logger = new RecordingLogger();
    const keys = new PickupKeyProvider({ pickupUrl: server.url, clientId: client.clientId, kid: 'acme-ec-1', privateKey, logger });
    const first = await currentValue(client.secretId);
    await expect(keys.getKey()).resolves.toBe(first.apiKey);
    expect(keys.currentKeyId()).toBe(client.currentKeyId);

    const rotated = await rotate(client.clientId, RotationMode.SCHEDULED);
    await expect(applyRotationNotification(keys, client.clientId, { clientId: client.clientId, eventType: rotated.eventType, currentKeyId: rotated.currentKeyId })).resolves.toBe('refreshed');
    const second = await currentValue(client.secretId);
    await expect(keys.getKey()).resolves.toBe(second.apiKey);

    const emergency = await rotate(client.clientId, RotationMode.EMERGENCY);
    expect(emergency.eventType).toBe('key.emergency');
    await applyRotationNotification(keys, client.clientId, { clientId: client.clientId, eventType: emergency.eventType, currentKeyId: emergency.currentKeyId });
    const third = await currentValue(client.secretId);
    await expect(keys.getKey()).resolves.toBe(third.apiKey);
    for (const value of [first, second, third]) expect(logger.text()).not.toContain(value.apiKey);
  });

  it('works with an RSA key (PS256, RSA-OAEP-256), and with either of two registered keys while the client rotates its own', async () => {
    const rsa = keyPair('acme-rsa-1', 'rsa');
    const next = keyPair('acme-ec-2');
    const client = await pickupClient([rsa.registered, next.registered]);
    const current = (await currentValue(client.secretId)).apiKey;
    for (const [kid, privateKey] of [
      ['acme-rsa-1', rsa.privateKey],
      ['acme-ec-2', next.privateKey],
    ] as const) {
      const keys = new PickupKeyProvider({ pickupUrl: server.url, clientId: client.clientId, kid, privateKey });
      await expect(keys.getKey()).resolves.toBe(current);
    }
  });

  it("a key the platform never registered, or another client's key, is refused as access-denied (PickupUnauthorized) with no key in the error", async () => {
    const { registered } = keyPair('acme-ec-1');
    const client = await pickupClient([registered]);
    const other = keyPair('globex-ec-1');
    const globex = await pickupClient([other.registered]);
    const attempts = [
      new PickupKeyProvider({ pickupUrl: server.url, clientId: client.clientId, kid: 'acme-ec-1', privateKey: keyPair('x').privateKey }),
      new PickupKeyProvider({ pickupUrl: server.url, clientId: client.clientId, kid: 'globex-ec-1', privateKey: other.privateKey }),
    ];
    for (const keys of attempts) {
      const error = await keys.getKey().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyUnavailableError);
      expect(error).toMatchObject({ reason: 'access-denied', causeName: 'PickupUnauthorized' });
      for (const secretId of [client.secretId, globex.secretId]) expect(errorText(error)).not.toContain((await currentValue(secretId)).apiKey);
    }
  });
});
