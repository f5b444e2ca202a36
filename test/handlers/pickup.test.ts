/**
 * The key pickup endpoint over moto, through the local server (local/pickup-server.ts: the
 * real handler behind a loopback HTTP server, run as the `pickup` function so the IAM check
 * judges every call against its synthesized role), with real jose keys (EC P-256 and RSA).
 *
 * Writes: only an assertion whose signature and claims were verified writes, and only its jti
 * item (`PICKUP#<clientId>` / `JTI#<jti>`). Every other refusal leaves the table as it was;
 * nothing ever writes a secret (the role cannot). Each refusal below checks the table.
 *
 * The plaintext tap: every key this file reads is searched for in everything printed (log
 * lines and EMF metrics), in every non-200 body and in the table; it may appear only inside
 * a JWE body (encrypted).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { compactDecrypt, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { clientItemKey, TTL_ATTRIBUTE } from '../../lambdas/aws/table-keys';
import { hashApiKey } from '../../lambdas/core/api-key';
import type { PickupPublicKey } from '../../lambdas/core/delivery';
import type { ClientRecord } from '../../lambdas/core/model';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { JWT_BEARER_ASSERTION_TYPE, MAX_PICKUP_BODY_BYTES, PICKUP_CONTENT_TYPE, type PickupPlaintext } from '../../lambdas/core/pickup';
import { PICKUP_METRICS_SERVICE } from '../../lambdas/core/pickup-metric-names';
import { startPickupServer, type PickupServer } from '../../local/pickup-server';
import { makeTestDeps, newRotationId, registerTestClient, scanTable } from '../support/fixtures';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { SecretTap, SourceKind } from '../support/secret-tap';
import { rotationRequest } from '../support/step-helpers';
import { captureStdout, type StdoutCapture } from '../hostile/stdout-capture';

// ---------------------------------------------------------------------------------------
// keys, assertions and requests

/** A client's pickup key pair as the client holds it. */
interface PickupKeyPair {
  readonly kid: string;
  readonly alg: 'ES256' | 'PS256' | 'RS256';
  readonly signingKey: CryptoKey;
  /** The private JWK, to import for decryption (ECDH-ES / RSA-OAEP-256). */
  readonly privateJwk: JWK;
  readonly registered: PickupPublicKey;
}

async function keyPair(kid: string, alg: PickupKeyPair['alg']): Promise<PickupKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { kid, alg, signingKey: privateKey, privateJwk: await exportJWK(privateKey), registered: { kid, jwk: { ...(publicJwk as Record<string, string>), kid } } };
}

let counter = 0;
const newJti = () => `jti-${Date.now().toString(36)}-${(++counter).toString().padStart(8, '0')}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** An assertion for `clientId` signed with `key`; `claims` override or (undefined) drop the defaults. */
async function assertion(clientId: string, key: PickupKeyPair, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const iat = nowSeconds();
  const payload = Object.fromEntries(Object.entries({ iss: clientId, sub: clientId, aud: server.url, iat, exp: iat + 120, jti: newJti(), ...claims }).filter(([, v]) => v !== undefined));
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.signingKey);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const form = (value: string, type = JWT_BEARER_ASSERTION_TYPE) => new URLSearchParams({ client_assertion_type: type, client_assertion: value }).toString();

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function post(body: string, contentType = 'application/x-www-form-urlencoded', target = server.url): Promise<Answer> {
  const response = await fetch(target, { method: 'POST', headers: { 'content-type': contentType }, body });
  const answer = { status: response.status, headers: response.headers, body: await response.text() };
  if (answer.status !== 200) returned.push(answer.body);
  return answer;
}

/** Decrypts a 200's JWE with the client's private key. */
async function open(answer: Answer, key: PickupKeyPair): Promise<{ plaintext: PickupPlaintext; header: Record<string, unknown> }> {
  expect(answer.status).toBe(200);
  const alg = key.alg === 'ES256' ? 'ECDH-ES+A256KW' : 'RSA-OAEP-256';
  const decryptionKey = await importJWK(key.privateJwk, alg);
  const { plaintext, protectedHeader } = await compactDecrypt(answer.body, decryptionKey, { keyManagementAlgorithms: [alg], contentEncryptionAlgorithms: ['A256GCM'] });
  return { plaintext: JSON.parse(new TextDecoder().decode(plaintext)) as PickupPlaintext, header: protectedHeader };
}

// ---------------------------------------------------------------------------------------
// the world: a table and secrets in moto, clients with registered pickup keys, the server

let deps: Awaited<ReturnType<typeof makeTestDeps>>;
let server: PickupServer;
let ecKey: PickupKeyPair;
let rsaKey: PickupKeyPair;
let rsKey: PickupKeyPair;
let otherKey: PickupKeyPair;
let capture: StdoutCapture;
const tap = new SecretTap();
const plaintextKeys = new Set<string>();
const returned: string[] = [];

async function setPickupKeys(clientId: string, keys: readonly PickupKeyPair[]): Promise<void> {
  await dynamoDbClient().send(
    new UpdateCommand({
      TableName: deps.tableName,
      Key: clientItemKey(clientId),
      UpdateExpression: 'SET delivery = :d',
      ExpressionAttributeValues: { ':d': { readers: [], endpoints: [], pickupKeys: keys.map((k) => k.registered) } },
    }),
  );
}

/** A registered client with `keys` as its pickup keys, and its current key (remembered for the tap). */
async function pickupClient(keys: readonly PickupKeyPair[]): Promise<{ client: ClientRecord; apiKey: string }> {
  const client = await registerTestClient(deps);
  await setPickupKeys(client.clientId, keys);
  const apiKey = (await deps.secrets.readVersion(client.secretId, client.currentVersionId))!.apiKey;
  plaintextKeys.add(apiKey);
  return { client, apiKey };
}

const pickupItems = async (clientId: string) => (await scanTable(deps.tableName)).filter((item) => item.pk === `PICKUP#${clientId}`);

beforeAll(async () => {
  deps = await makeTestDeps();
  [ecKey, rsaKey, rsKey, otherKey] = await Promise.all([keyPair('ec-1', 'ES256'), keyPair('rsa-1', 'PS256'), keyPair('rsa-rs', 'RS256'), keyPair('other-1', 'ES256')]);
  server = await startPickupServer({ tableName: deps.tableName, logger: new Logger({ serviceName: PICKUP_METRICS_SERVICE }) });
});

afterAll(async () => {
  await server.close();
  tap.addItems('table', await scanTable(deps.tableName));
  tap.add('non-200 bodies', returned, SourceKind.HTTP_BODY);
  tap.addKeys(plaintextKeys);
  tap.expectNoPlaintext({ minRecords: 40, kinds: [SourceKind.LOG, SourceKind.METRIC, SourceKind.DYNAMODB_ITEM, SourceKind.HTTP_BODY] });
});

beforeEach(() => {
  capture = captureStdout();
});

afterEach(() => {
  capture.restore();
  tap.add('stdout', capture.text(), SourceKind.LOG);
});

/** The log lines of the pickup function printed in this test. */
const pickupLogs = () =>
  capture
    .text()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"message":"pickup"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

// ---------------------------------------------------------------------------------------
// success

describe('a pickup', () => {
  it('with an EC key: 200 application/jose, no-store; the JWE decrypts with the private key to the current key; the jti is spent with a TTL', async () => {
    const { client, apiKey } = await pickupClient([ecKey]);
    const jti = newJti();
    const before = Date.now();
    const answer = await post(form(await assertion(client.clientId, ecKey, { jti })));
    expect(answer.headers.get('content-type')).toBe('application/jose');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).not.toContain(apiKey);
    const { plaintext, header } = await open(answer, ecKey);
    expect(header).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: 'ec-1', cty: PICKUP_CONTENT_TYPE });
    expect(plaintext).toEqual({ clientId: client.clientId, keyId: client.currentKeyId, apiKey, issuedAt: expect.any(String) as string });
    expect(Date.parse(plaintext.issuedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(hashApiKey(plaintext.apiKey)).toBe(client.currentKeyHash);

    const items = await pickupItems(client.clientId);
    expect(items).toEqual([{ pk: `PICKUP#${client.clientId}`, sk: `JTI#${jti}`, [TTL_ATTRIBUTE]: expect.any(Number) as number }]);
    const exp = Math.floor(before / 1000) + 120;
    expect(items[0][TTL_ATTRIBUTE]).toBeGreaterThan(exp);
    expect(items[0][TTL_ATTRIBUTE]).toBeLessThanOrEqual(exp + 3600);

    // Logged: the ids, a jti hash and the outcome; not the jti itself, not the assertion.
    const [line] = pickupLogs();
    expect(line).toMatchObject({ outcome: 'succeeded', clientId: client.clientId, kid: 'ec-1', jtiHash: expect.stringMatching(/^[0-9a-f]{16}$/) as string });
    expect(capture.text()).not.toContain(jti);
    expect(capture.text()).toContain('"PickupSucceeded"');
  });

  it('with RSA keys: PS256 and RS256 assertions, answers encrypted with RSA-OAEP-256; a client with two keys may use either', async () => {
    const { client, apiKey } = await pickupClient([rsaKey, ecKey]);
    for (const key of [rsaKey, ecKey]) {
      const { plaintext, header } = await open(await post(form(await assertion(client.clientId, key))), key);
      expect(header).toMatchObject({ alg: key.alg === 'ES256' ? 'ECDH-ES+A256KW' : 'RSA-OAEP-256', enc: 'A256GCM', kid: key.kid, cty: PICKUP_CONTENT_TYPE });
      expect(plaintext.apiKey).toBe(apiKey);
    }
    const other = await pickupClient([rsKey]);
    expect((await open(await post(form(await assertion(other.client.clientId, rsKey))), rsKey)).plaintext.apiKey).toBe(other.apiKey);
  });

  it('after a rotation, the new key (the version the table names current)', async () => {
    const { client, apiKey } = await pickupClient([ecKey]);
    const context = await beginRotation(deps, { request: rotationRequest(client.clientId, RotationMode.EMERGENCY), rotationId: newRotationId() });
    await createSecret(deps, context);
    await setSecret(deps, context);
    // Between setSecret and finishSecret the new key is AWSPENDING only: the table still names the old one.
    expect((await open(await post(form(await assertion(client.clientId, ecKey))), ecKey)).plaintext.apiKey).toBe(apiKey);
    await testSecret(deps, context);
    await finishSecret(deps, context);
    const rotated = (await deps.keys.getClient(client.clientId))!;
    const newKey = (await deps.secrets.readVersion(rotated.secretId, rotated.currentVersionId))!;
    plaintextKeys.add(newKey.apiKey);
    expect(newKey.apiKey).not.toBe(apiKey);
    const { plaintext } = await open(await post(form(await assertion(client.clientId, ecKey))), ecKey);
    expect(plaintext).toMatchObject({ keyId: rotated.currentKeyId, apiKey: newKey.apiKey });
  });

  it('accepts a base64 body (API Gateway binary media types) and a matching client_id parameter', async () => {
    const base64Server = await startPickupServer({ tableName: deps.tableName, base64Bodies: true });
    try {
      const { client, apiKey } = await pickupClient([ecKey]);
      const signed = await new SignJWT({ iss: client.clientId, sub: client.clientId, aud: base64Server.url, jti: newJti() })
        .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
        .setIssuedAt()
        .setExpirationTime('2m')
        .sign(ecKey.signingKey);
      const body = `${form(signed)}&client_id=${client.clientId}`;
      expect((await open(await post(body, 'application/x-www-form-urlencoded; charset=utf-8', base64Server.url), ecKey)).plaintext.apiKey).toBe(apiKey);
    } finally {
      await base64Server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// refusals: same body whatever failed, no write

const INVALID_CLIENT = '{"error":"invalid_client"}';
const INVALID_REQUEST = '{"error":"invalid_request"}';

/** Posts `body` and expects `status` with its one body, the table unchanged, and a refusal logged with `reason`. */
async function expectRefused(body: string, status: 400 | 401, reason: string, contentType?: string): Promise<void> {
  const before = await scanTable(deps.tableName);
  const answer = await post(body, contentType);
  expect({ status: answer.status, body: answer.body }).toEqual({ status, body: status === 400 ? INVALID_REQUEST : INVALID_CLIENT });
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(await scanTable(deps.tableName)).toEqual(before);
  expect(pickupLogs().at(-1)).toMatchObject({ outcome: 'refused', reason });
  expect(capture.text()).toContain('"PickupRefusedByReason"');
}

describe('refused assertions (401 invalid_client, nothing written)', () => {
  let client: ClientRecord;
  beforeAll(async () => {
    ({ client } = await pickupClient([ecKey, rsaKey]));
  });

  const claimCases: [string, () => Record<string, unknown>][] = [
    ['another audience', () => ({ aud: 'https://example.com/pickup' })],
    ['the audience with a trailing slash', () => ({ aud: `${server.url}/` })],
    ['the audience among others (an array)', () => ({ aud: [server.url, 'https://example.com'] })],
    ['expired (beyond the 30 s tolerance)', () => ({ iat: nowSeconds() - 200, exp: nowSeconds() - 31 })],
    ['exp - iat over 300 s', () => ({ iat: nowSeconds(), exp: nowSeconds() + 301 })],
    ['no exp', () => ({ exp: undefined })],
    ['no iat', () => ({ iat: undefined })],
    ['iat in the future', () => ({ iat: nowSeconds() + 120, exp: nowSeconds() + 200 })],
    ['nbf in the future', () => ({ nbf: nowSeconds() + 120 })],
    ['no jti', () => ({ jti: undefined })],
    ['a jti of 15 characters', () => ({ jti: 'x'.repeat(15) })],
    ['a jti of 129 characters', () => ({ jti: 'x'.repeat(129) })],
    ['a numeric jti', () => ({ jti: 1234567890123456 })],
    ['a string exp', () => ({ exp: String(nowSeconds() + 60) })],
  ];
  it.each(claimCases)('%s', async (_name, claims) => {
    await expectRefused(form(await assertion(client.clientId, ecKey, claims())), 401, 'InvalidAssertion');
  });

  it('iss not sub (refused before any key is looked up)', async () => {
    await expectRefused(form(await assertion(client.clientId, ecKey, { iss: 'someone-else' })), 401, 'MalformedAssertion');
  });

  it('alg none', async () => {
    const iat = nowSeconds();
    const unsigned = `${b64url({ alg: 'none', kid: 'ec-1' })}.${b64url({ iss: client.clientId, sub: client.clientId, aud: server.url, iat, exp: iat + 60, jti: newJti() })}.`;
    await expectRefused(form(unsigned), 401, 'InvalidAssertion');
  });

  it('HS256 with the registered public key as the secret (either spelling)', async () => {
    for (const secret of [JSON.stringify(ecKey.registered.jwk), ecKey.registered.jwk.x, JSON.stringify(rsaKey.registered.jwk)]) {
      const forged = await new SignJWT({ iss: client.clientId, sub: client.clientId, aud: server.url, jti: newJti() })
        .setProtectedHeader({ alg: 'HS256', kid: secret === JSON.stringify(rsaKey.registered.jwk) ? 'rsa-1' : 'ec-1' })
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(new TextEncoder().encode(secret));
      await expectRefused(form(forged), 401, 'InvalidAssertion');
    }
  });

  it('an algorithm of another key type (RS256 header on the EC key)', async () => {
    const forged = await new SignJWT({ iss: client.clientId, sub: client.clientId, aud: server.url, jti: newJti() })
      .setProtectedHeader({ alg: 'PS256', kid: 'ec-1' })
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(rsaKey.signingKey);
    await expectRefused(form(forged), 401, 'InvalidAssertion');
  });

  it('signed with another key under a registered kid', async () => {
    await expectRefused(form(await assertion(client.clientId, { ...otherKey, kid: 'ec-1' })), 401, 'InvalidAssertion');
  });

  it('a kid the client has not registered', async () => {
    await expectRefused(form(await assertion(client.clientId, otherKey)), 401, 'UnknownKey');
  });

  it("another client's key: sub = A, signed with B's registered key (B's kid, or A's kid)", async () => {
    const b = await pickupClient([otherKey]);
    await expectRefused(form(await assertion(client.clientId, otherKey)), 401, 'UnknownKey');
    await expectRefused(form(await assertion(client.clientId, { ...otherKey, kid: 'ec-1' })), 401, 'InvalidAssertion');
    // And B's own assertion for A's audience and kid does not give A's key either way.
    await expectRefused(form(await assertion(b.client.clientId, ecKey)), 401, 'UnknownKey');
  });

  it('an unknown client, and an offboarded one', async () => {
    await expectRefused(form(await assertion('no-such-client', ecKey)), 401, 'UnknownClient');
    const gone = await pickupClient([ecKey]);
    await deps.keys.markOffboarded(gone.client.clientId, new Date().toISOString());
    await expectRefused(form(await assertion(gone.client.clientId, ecKey)), 401, 'Offboarded');
  });

  it('a client without pickup keys', async () => {
    const bare = await registerTestClient(deps);
    await expectRefused(form(await assertion(bare.clientId, ecKey)), 401, 'UnknownKey');
  });

  it('malformed JWS and non-string ids: garbage, two parts, a non-JSON payload, numeric sub, sub not a client id, no kid, numeric kid, client_id not sub', async () => {
    const iat = nowSeconds();
    const claims = { iss: client.clientId, sub: client.clientId, aud: server.url, iat, exp: iat + 60, jti: newJti() };
    const cases = [
      'not-a-jws',
      `${b64url({ alg: 'ES256', kid: 'ec-1' })}.${b64url(claims)}`,
      `${b64url({ alg: 'ES256', kid: 'ec-1' })}.${Buffer.from('not json').toString('base64url')}.AAAA`,
      await assertion(client.clientId, ecKey, { sub: 42, iss: 42 }),
      await assertion(client.clientId, ecKey, { sub: '../etc', iss: '../etc' }),
      `${b64url({ alg: 'ES256' })}.${b64url(claims)}.AAAA`,
      `${b64url({ alg: 'ES256', kid: 7 })}.${b64url(claims)}.AAAA`,
    ];
    for (const value of cases) await expectRefused(form(value), 401, 'MalformedAssertion');
    await expectRefused(`${form(await assertion(client.clientId, ecKey))}&client_id=someone-else`, 401, 'MalformedAssertion');
  });
});

describe('malformed requests (400 invalid_request, nothing written)', () => {
  let client: ClientRecord;
  beforeAll(async () => {
    ({ client } = await pickupClient([ecKey]));
  });

  it('another assertion type, none, or no assertion', async () => {
    const signed = await assertion(client.clientId, ecKey);
    await expectRefused(form(signed, 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer'), 400, 'MalformedRequest');
    await expectRefused(new URLSearchParams({ client_assertion: signed }).toString(), 400, 'MalformedRequest');
    await expectRefused(new URLSearchParams({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE }).toString(), 400, 'MalformedRequest');
    await expectRefused('', 400, 'MalformedRequest');
  });

  it('a parameter given twice', async () => {
    const signed = await assertion(client.clientId, ecKey);
    await expectRefused(`${form(signed)}&client_assertion=${signed}`, 400, 'MalformedRequest');
  });

  it('not form-encoded (JSON)', async () => {
    const signed = await assertion(client.clientId, ecKey);
    await expectRefused(JSON.stringify({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: signed }), 400, 'MalformedRequest', 'application/json');
  });

  it('a body over 8 KiB, even with a valid assertion in it', async () => {
    const signed = await assertion(client.clientId, ecKey);
    const body = `${form(signed)}&padding=${'a'.repeat(MAX_PICKUP_BODY_BYTES)}`;
    await expectRefused(body, 400, 'MalformedRequest');
    expect(pickupLogs().at(-1)).toMatchObject({ detail: 'body too large' });
    // Exactly at the limit it is parsed (and then the assertion works).
    const exact = `${form(signed)}&padding=`;
    const atLimit = exact + 'a'.repeat(MAX_PICKUP_BODY_BYTES - Buffer.byteLength(exact));
    expect((await post(atLimit)).status).toBe(200);
  });
});

describe('single use', () => {
  it('a replayed assertion is refused (401), and writes nothing more', async () => {
    const { client, apiKey } = await pickupClient([ecKey]);
    const signed = form(await assertion(client.clientId, ecKey));
    expect((await open(await post(signed), ecKey)).plaintext.apiKey).toBe(apiKey);
    const items = await pickupItems(client.clientId);
    await expectRefused(signed, 401, 'Replayed');
    expect(await pickupItems(client.clientId)).toEqual(items);
  });

  it('two concurrent identical requests: exactly one succeeds', async () => {
    for (let round = 0; round < 3; round++) {
      const { client } = await pickupClient([ecKey]);
      const signed = form(await assertion(client.clientId, ecKey));
      const answers = await Promise.all([post(signed), post(signed)]);
      expect(answers.map((a) => a.status).sort()).toEqual([200, 401]);
      expect(answers.find((a) => a.status === 401)!.body).toBe(INVALID_CLIENT);
      expect(await pickupItems(client.clientId)).toHaveLength(1);
    }
  });

  it('the same jti is single use per client only: another client may use it', async () => {
    const a = await pickupClient([ecKey]);
    const b = await pickupClient([ecKey]);
    const jti = newJti();
    expect((await post(form(await assertion(a.client.clientId, ecKey, { jti })))).status).toBe(200);
    expect((await post(form(await assertion(b.client.clientId, ecKey, { jti })))).status).toBe(200);
  });
});

describe('when the secret does not hold the key the table names', () => {
  it('500 server_error, PickupKeyMismatch logged without the key; the jti is spent (the assertion was genuine)', async () => {
    const { client, apiKey } = await pickupClient([ecKey]);
    const wrong = { apiKey: `${apiKey.slice(0, -4)}AAAA`, keyId: client.currentKeyId };
    const scripted = await startPickupServer({ tableName: deps.tableName, secrets: { readVersion: () => Promise.resolve(wrong) } });
    try {
      const signed = await new SignJWT({ iss: client.clientId, sub: client.clientId, aud: scripted.url, jti: newJti() })
        .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
        .setIssuedAt()
        .setExpirationTime('1m')
        .sign(ecKey.signingKey);
      const answer = await post(form(signed), undefined, scripted.url);
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 500, body: '{"error":"server_error"}' });
      expect(pickupLogs().at(-1)).toMatchObject({ outcome: 'failed', error: { name: 'PickupKeyMismatch' } });
      expect(capture.text()).not.toContain(wrong.apiKey);
      expect(capture.text()).toContain('"PickupFailed"');
      expect(await pickupItems(client.clientId)).toHaveLength(1);
      const missing = await startPickupServer({ tableName: deps.tableName, secrets: { readVersion: () => Promise.resolve(undefined) } });
      try {
        const again = await new SignJWT({ iss: client.clientId, sub: client.clientId, aud: missing.url, jti: newJti() })
          .setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
          .setIssuedAt()
          .setExpirationTime('1m')
          .sign(ecKey.signingKey);
        expect((await post(form(again), undefined, missing.url)).status).toBe(500);
        expect(pickupLogs().at(-1)).toMatchObject({ error: { name: 'PickupKeyMismatch', message: expect.stringContaining('version-missing') as string } });
      } finally {
        await missing.close();
      }
    } finally {
      await scripted.close();
    }
    plaintextKeys.add(wrong.apiKey);
  });

  it('another path or method is not the endpoint (403, as API Gateway answers)', async () => {
    expect((await fetch(server.url.replace('/pickup', '/other'), { method: 'POST', body: 'x' })).status).toBe(403);
    expect((await fetch(server.url)).status).toBe(403);
  });
});
