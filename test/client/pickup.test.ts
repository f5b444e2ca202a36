/**
 * PickupKeySource / PickupKeyProvider (client/pickup.ts) against a small pickup server written
 * here with jose that follows the agreed protocol exactly (notes: "Pickup protocol"): form body
 * with an RFC 7523 client assertion (kid, ES256 | PS256 | RS256, iss = sub = clientId, aud = the
 * URL exactly, exp - iat <= 300 s, jti single use 16-128 chars), 200 application/jose with a
 * compact JWE (ECDH-ES+A256KW | RSA-OAEP-256, A256GCM, kid, cty keyroll-pickup+json) of
 * {clientId,keyId,apiKey,issuedAt}; 401 invalid_client, 400 invalid_request, nothing else.
 */
import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CompactEncrypt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { ManualClock } from '../../lambdas/core/clock';
import { createAuthenticatedFetch, KeyUnavailableError, applyRotationNotification, InvalidClientOptionsError, PickupFailedError, PickupUnauthorizedError } from '../../client';
import { PickupKeyProvider, PickupKeySource, PICKUP_CONTENT_TYPE } from '../../client/pickup';
import { errorText, newSecretValue, RecordingLogger } from './helpers';

interface Registered {
  readonly clientId: string;
  readonly kid: string;
  readonly publicKey: KeyObject;
}

/** What the server saw of each accepted or refused assertion. */
interface Seen {
  readonly header: ReturnType<typeof decodeProtectedHeader>;
  readonly payload: JWTPayload;
}

/** A pickup server following the protocol; `mode` lets a test make it misbehave. */
class PickupServer {
  readonly registered: Registered[] = [];
  readonly seen: Seen[] = [];
  readonly usedJtis = new Set<string>();
  readonly keys = new Map<string, ReturnType<typeof newSecretValue>>();
  requests = 0;
  mode: 'protocol' | 'error-500' | 'text-plain' | 'other-kid' | 'other-cty' | 'other-client' | 'hang' = 'protocol';
  url = '';
  #server: Server | undefined;

  async start(): Promise<void> {
    this.#server = createServer((request, response) => void this.#handle(request, response));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/pickup`;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (this.mode === 'hang') return;
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (this.mode === 'error-500') {
      json(500, { error: 'server_error', detail: 'Traceback: SECRET-INTERNAL-DETAIL at line 3' });
      return;
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const assertion = form.get('client_assertion');
    if (request.headers['content-type'] !== 'application/x-www-form-urlencoded' || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !assertion) {
      {
        json(400, { error: 'invalid_request' });
        return;
      }
    }
    const refuse = (): void => {
      json(401, { error: 'invalid_client', error_description: 'SECRET-REASON-NOT-FOR-LOGS' });
    };
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      {
        json(400, { error: 'invalid_request' });
        return;
      }
    }
    const key = this.registered.find((r) => r.kid === header.kid);
    if (!key) {
      refuse();
      return;
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, key.publicKey, {
        algorithms: ['ES256', 'PS256', 'RS256'],
        issuer: key.clientId,
        subject: key.clientId,
        audience: this.url,
        requiredClaims: ['iat', 'exp', 'jti'],
      }));
    } catch {
      {
        refuse();
        return;
      }
    }
    this.seen.push({ header, payload });
    const jti = payload.jti!;
    if (payload.exp! - payload.iat! > 300 || jti.length < 16 || jti.length > 128 || this.usedJtis.has(jti)) {
      refuse();
      return;
    }
    this.usedJtis.add(jti);
    const value = this.keys.get(key.clientId)!;
    const plaintext = { clientId: this.mode === 'other-client' ? 'someone-else' : key.clientId, keyId: value.keyId, apiKey: value.apiKey, issuedAt: new Date().toISOString() };
    const alg = key.publicKey.asymmetricKeyType === 'ec' ? 'ECDH-ES+A256KW' : 'RSA-OAEP-256';
    const jwe = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(plaintext)))
      .setProtectedHeader({ alg, enc: 'A256GCM', kid: this.mode === 'other-kid' ? 'other' : key.kid, cty: this.mode === 'other-cty' ? 'json' : PICKUP_CONTENT_TYPE })
      .encrypt(key.publicKey);
    response.writeHead(200, { 'content-type': this.mode === 'text-plain' ? 'text/plain' : 'application/jose' });
    response.end(jwe);
  }
}

const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 });

let server: PickupServer;
beforeEach(async () => {
  server = new PickupServer();
  await server.start();
});
afterEach(async () => {
  await server.stop();
});

/** Registers a fresh key pair for `clientId` under `kid` and gives the client a key. */
function register(clientId: string, kid: string, pair: { publicKey: KeyObject; privateKey: KeyObject } = ec()) {
  server.registered.push({ clientId, kid, publicKey: pair.publicKey });
  if (!server.keys.has(clientId)) server.keys.set(clientId, newSecretValue());
  return pair;
}

describe('PickupKeySource', () => {
  it('signs a fresh ES256 assertion per read (iss = sub = clientId, aud = URL, exp = iat + 60, 32-char jti, kid) and decrypts the key', async () => {
    const clock = new ManualClock(Date.parse('2026-12-03T12:00:00Z'));
    const { privateKey } = register('acme', 'acme-1');
    const jwk = privateKey.export({ format: 'jwk' });
    const source = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey: { ...jwk, kty: jwk.kty!, d: jwk.d! }, clock });
    // jose verifies exp against the wall clock; a wall-clock iat keeps the server's check meaningful.
    clock.advance(Date.now() - clock.nowMs());

    const first = await source.read();
    const second = await source.read();
    expect(first).toEqual(expect.objectContaining(server.keys.get('acme')));
    expect(second.apiKey).toBe(first.apiKey);
    expect(server.seen).toHaveLength(2);
    for (const { header, payload } of server.seen) {
      expect(header).toEqual({ alg: 'ES256', kid: 'acme-1' });
      expect(payload).toEqual({
        iss: 'acme',
        sub: 'acme',
        aud: server.url,
        iat: Math.floor(clock.nowMs() / 1000),
        exp: Math.floor(clock.nowMs() / 1000) + 60,
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      });
    }
    expect(server.seen[0].payload.jti).not.toBe(server.seen[1].payload.jti);
  });

  it('uses PS256 and RSA-OAEP-256 with an RSA KeyObject, and accepts a CryptoKey', async () => {
    const pair = register('rsa-client', 'rsa-1', rsa());
    const fromKeyObject = new PickupKeySource({ pickupUrl: server.url, clientId: 'rsa-client', kid: 'rsa-1', privateKey: pair.privateKey });
    await expect(fromKeyObject.read()).resolves.toMatchObject({ keyId: server.keys.get('rsa-client')!.keyId });
    expect(server.seen[0].header.alg).toBe('PS256');

    const webKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const { KeyObject } = await import('node:crypto');
    register('web-client', 'web-1', { publicKey: KeyObject.from(webKeys.publicKey), privateKey: KeyObject.from(webKeys.privateKey) });
    const fromCryptoKey = new PickupKeySource({ pickupUrl: server.url, clientId: 'web-client', kid: 'web-1', privateKey: webKeys.privateKey });
    await expect(fromCryptoKey.read()).resolves.toMatchObject({ keyId: server.keys.get('web-client')!.keyId });
  });

  it('a key the platform did not register gives PickupUnauthorized, without the body', async () => {
    register('acme', 'acme-1');
    const stranger = ec();
    const source = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey: stranger.privateKey });
    const error = await source.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PickupUnauthorizedError);
    expect(errorText(error)).not.toContain('SECRET-REASON');
  });

  it("another client cannot read acme's key with its own registered key (sub/iss must match the kid's client)", async () => {
    register('acme', 'acme-1');
    const other = register('globex', 'globex-1');
    const posing = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'globex-1', privateKey: other.privateKey });
    await expect(posing.read()).rejects.toBeInstanceOf(PickupUnauthorizedError);
  });

  it('5xx, a wrong content type, a JWE for another kid, cty or client give PickupFailed and no key', async () => {
    const { privateKey } = register('acme', 'acme-1');
    const source = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey });
    const outcomes: Record<string, unknown> = {};
    for (const mode of ['error-500', 'text-plain', 'other-kid', 'other-cty', 'other-client'] as const) {
      server.mode = mode;
      const error = await source.read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PickupFailedError);
      expect(errorText(error)).not.toContain(server.keys.get('acme')!.apiKey);
      expect(errorText(error)).not.toContain('SECRET-INTERNAL-DETAIL');
      outcomes[mode] = { status: (error as PickupFailedError).status, code: (error as PickupFailedError).code };
    }
    expect(outcomes).toEqual({
      'error-500': { status: 500, code: undefined },
      'text-plain': { status: 200, code: undefined },
      'other-kid': { status: 200, code: undefined },
      'other-cty': { status: 200, code: undefined },
      'other-client': { status: 200, code: undefined },
    });
  });

  it('400 invalid_request is reported with its code', async () => {
    const { privateKey } = register('acme', 'acme-1');
    const badFetch = (url: string | URL | Request, init?: RequestInit) => fetch(url, { ...init, body: 'client_assertion_type=nope' });
    const source = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey, fetch: badFetch });
    await expect(source.read()).rejects.toMatchObject({ name: 'PickupFailed', status: 400, code: 'invalid_request' });
  });

  it('a server that never answers fails the read after timeoutMs', async () => {
    const { privateKey } = register('acme', 'acme-1');
    server.mode = 'hang';
    const source = new PickupKeySource({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey, timeoutMs: 200 });
    await expect(source.read()).rejects.toMatchObject({ name: 'PickupFailed', status: undefined });
  });

  it('refuses bad options: plain http off loopback, a public key, a curve or size it cannot use', () => {
    const { privateKey, publicKey } = ec();
    const base = { clientId: 'acme', kid: 'k', privateKey };
    expect(() => new PickupKeySource({ ...base, pickupUrl: 'http://pickup.example.com/pickup' })).toThrow(InvalidClientOptionsError);
    expect(() => new PickupKeySource({ ...base, pickupUrl: server.url, privateKey: publicKey })).toThrow(/must be a private key/);
    expect(() => new PickupKeySource({ ...base, pickupUrl: server.url, privateKey: generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey })).toThrow(/P-256/);
    expect(() => new PickupKeySource({ ...base, pickupUrl: server.url, privateKey: { kty: 'EC', d: 'not-a-key' } })).toThrow(InvalidClientOptionsError);
  });
});

describe('PickupKeyProvider', () => {
  it('caches, shares one pickup between concurrent callers, follows a rotation notice and recovers from a 401 with a refresh', async () => {
    const { privateKey } = register('acme', 'acme-1');
    const logger = new RecordingLogger();
    const keys = new PickupKeyProvider({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey, logger });
    const first = server.keys.get('acme')!;
    const [a, b] = await Promise.all([keys.getKey(), keys.getKey()]);
    expect([a, b]).toEqual([first.apiKey, first.apiKey]);
    expect(server.requests).toBe(1);

    // key.rotated: the provider picks the new key up.
    const second = newSecretValue();
    server.keys.set('acme', second);
    await applyRotationNotification(keys, 'acme', { clientId: 'acme', eventType: 'key.rotated', currentKeyId: second.keyId });
    await expect(keys.getKey()).resolves.toBe(second.apiKey);

    // key.emergency seen by nobody: the API's 401 makes the fetch wrapper refresh and retry once.
    const third = newSecretValue();
    server.keys.set('acme', third);
    const api = createAuthenticatedFetch(keys, {
      fetch: async (_url, init) => new Response(null, { status: new Headers(init?.headers).get('authorization') === `Bearer ${third.apiKey}` ? 200 : 401 }),
    });
    await expect(api('https://api.example.com/orders')).resolves.toMatchObject({ status: 200 });
    expect(keys.currentKeyId()).toBe(third.keyId);
    expect(server.requests).toBe(3);
    for (const value of [first, second, third]) expect(logger.text()).not.toContain(value.apiKey);
  });

  it('an unregistered key surfaces as KeyUnavailableError access-denied (PickupUnauthorized)', async () => {
    register('acme', 'acme-1');
    const keys = new PickupKeyProvider({ pickupUrl: server.url, clientId: 'acme', kid: 'acme-1', privateKey: ec().privateKey });
    const error = await keys.getKey().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnavailableError);
    expect(error).toMatchObject({ reason: 'access-denied', causeName: 'PickupUnauthorized' });
  });

  it('rotating its own key pair: with two registered kids, a source for either works', async () => {
    const old = register('acme', 'acme-2026-11');
    const next = register('acme', 'acme-2026-12');
    for (const [kid, pair] of [
      ['acme-2026-11', old],
      ['acme-2026-12', next],
    ] as const) {
      const keys = new PickupKeyProvider({ pickupUrl: server.url, clientId: 'acme', kid, privateKey: pair.privateKey });
      await expect(keys.getKey()).resolves.toBe(server.keys.get('acme')!.apiKey);
    }
  });
});
