/**
 * The pure parts of the pickup protocol (lambdas/core/pickup.ts, pickup-crypto.ts): form
 * parsing and its size bound (raw and base64), the unverified ids, the algorithm allow-list
 * per key type, and what the verifier and the encryption take from a registered JWK. The
 * endpoint end to end is test/handlers/pickup.test.ts.
 */
import { compactDecrypt, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import type { PickupPublicKey } from '../../lambdas/core/delivery';
import { JWT_BEARER_ASSERTION_TYPE, MAX_PICKUP_BODY_BYTES, PickupRefusal, parsePickupForm, peekAssertion, PickupRefusedError } from '../../lambdas/core/pickup';
import { encryptionAlgorithmFor, encryptPickup, signatureAlgorithmsFor, verifyPickupAssertion } from '../../lambdas/core/pickup-crypto';

const FORM = 'application/x-www-form-urlencoded';
const form = (assertion: string) => `client_assertion_type=${encodeURIComponent(JWT_BEARER_ASSERTION_TYPE)}&client_assertion=${assertion}`;

function refusal(run: () => unknown): PickupRefusedError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PickupRefusedError);
    return error as PickupRefusedError;
  }
  throw new Error('expected a refusal');
}

describe('parsePickupForm', () => {
  it('reads the assertion (and client_id), ignores unknown parameters, accepts a charset', () => {
    expect(parsePickupForm(`${form('a.b.c')}&scope=x`, false, `${FORM}; charset=utf-8`)).toEqual({ assertion: 'a.b.c' });
    expect(parsePickupForm(`${form('a.b.c')}&client_id=acme`, false, FORM)).toEqual({ assertion: 'a.b.c', clientId: 'acme' });
    expect(parsePickupForm(Buffer.from(form('a.b.c')).toString('base64'), true, FORM)).toEqual({ assertion: 'a.b.c' });
  });

  it('refuses above 8 KiB, raw or decoded from base64, before parsing; accepts exactly 8 KiB', () => {
    const exact = (size: number) => `${form('a.b.c')}&pad=${'x'.repeat(size - Buffer.byteLength(`${form('a.b.c')}&pad=`))}`;
    expect(parsePickupForm(exact(MAX_PICKUP_BODY_BYTES), false, FORM).assertion).toBe('a.b.c');
    expect(parsePickupForm(Buffer.from(exact(MAX_PICKUP_BODY_BYTES)).toString('base64'), true, FORM).assertion).toBe('a.b.c');
    for (const [body, base64] of [
      [exact(MAX_PICKUP_BODY_BYTES + 1), false],
      [Buffer.from(exact(MAX_PICKUP_BODY_BYTES + 1)).toString('base64'), true],
      ['A'.repeat(20_000_000), true],
    ] as const) {
      const error = refusal(() => parsePickupForm(body, base64, FORM));
      expect({ reason: error.reason, detail: error.detail, status: error.status }).toEqual({ reason: PickupRefusal.MALFORMED_REQUEST, detail: 'body too large', status: 400 });
    }
    // A multi-byte body is measured in bytes, not characters.
    expect(refusal(() => parsePickupForm(`${form('a.b.c')}&pad=${'é'.repeat(MAX_PICKUP_BODY_BYTES / 2)}`, false, FORM)).detail).toBe('body too large');
  });

  it.each([
    ['no body', null, FORM],
    ['an empty body', '', FORM],
    ['another content type', form('a.b.c'), 'application/json'],
    ['no content type', form('a.b.c'), undefined],
    ['another assertion type', 'client_assertion_type=urn:x&client_assertion=a.b.c', FORM],
    ['no assertion', `client_assertion_type=${encodeURIComponent(JWT_BEARER_ASSERTION_TYPE)}`, FORM],
    ['an empty assertion', form(''), FORM],
    ['a repeated assertion', `${form('a.b.c')}&client_assertion=d.e.f`, FORM],
    ['a repeated type', `${form('a.b.c')}&client_assertion_type=x`, FORM],
  ])('refuses %s with MalformedRequest (400)', (_name, body, contentType) => {
    expect(refusal(() => parsePickupForm(body, false, contentType)).status).toBe(400);
  });
});

describe('peekAssertion', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const jws = (header: unknown, claims: unknown) => `${b64(header)}.${b64(claims)}.sig`;

  it('reads sub and kid without verifying', () => {
    expect(peekAssertion(jws({ alg: 'ES256', kid: 'k-1' }, { sub: 'acme', iss: 'acme' }))).toEqual({ clientId: 'acme', kid: 'k-1' });
    expect(peekAssertion(jws({ alg: 'ES256', kid: 'k-1' }, { sub: 'acme', iss: 'acme' }), 'acme')).toEqual({ clientId: 'acme', kid: 'k-1' });
  });

  it.each([
    ['garbage', 'not a jws'],
    ['a JSON array as claims', `${b64({ alg: 'ES256', kid: 'k' })}.${b64([1])}.sig`],
    ['no sub', jws({ alg: 'ES256', kid: 'k' }, { iss: 'acme' })],
    ['a numeric sub', jws({ alg: 'ES256', kid: 'k' }, { sub: 1, iss: 1 })],
    ['a sub that is no client id', jws({ alg: 'ES256', kid: 'k' }, { sub: 'a/b', iss: 'a/b' })],
    ['iss other than sub', jws({ alg: 'ES256', kid: 'k' }, { sub: 'acme', iss: 'other' })],
    ['no kid', jws({ alg: 'ES256' }, { sub: 'acme', iss: 'acme' })],
    ['a kid with a newline', jws({ alg: 'ES256', kid: 'a\nb' }, { sub: 'acme', iss: 'acme' })],
    ['a kid of 129 characters', jws({ alg: 'ES256', kid: 'k'.repeat(129) }, { sub: 'acme', iss: 'acme' })],
  ])('refuses %s with MalformedAssertion (401)', (_name, assertion) => {
    const error = refusal(() => peekAssertion(assertion));
    expect({ reason: error.reason, status: error.status }).toEqual({ reason: PickupRefusal.MALFORMED_ASSERTION, status: 401 });
  });

  it('refuses a client_id that is not sub', () => {
    expect(refusal(() => peekAssertion(jws({ alg: 'ES256', kid: 'k' }, { sub: 'acme', iss: 'acme' }), 'other')).reason).toBe(PickupRefusal.MALFORMED_ASSERTION);
  });
});

describe('algorithms by key type', () => {
  it('EC P-256: ES256 / ECDH-ES+A256KW; RSA: PS256, RS256 / RSA-OAEP-256; a registered alg narrows; other keys: none', () => {
    expect(signatureAlgorithmsFor({ kty: 'EC', crv: 'P-256' })).toEqual(['ES256']);
    expect(signatureAlgorithmsFor({ kty: 'RSA' })).toEqual(['PS256', 'RS256']);
    expect(signatureAlgorithmsFor({ kty: 'RSA', alg: 'PS256' })).toEqual(['PS256']);
    expect(signatureAlgorithmsFor({ kty: 'RSA', alg: 'HS256' })).toEqual([]);
    expect(signatureAlgorithmsFor({ kty: 'EC', crv: 'P-384' })).toEqual([]);
    expect(signatureAlgorithmsFor({ kty: 'oct' })).toEqual([]);
    expect(signatureAlgorithmsFor({ kty: 'OKP', crv: 'Ed25519' })).toEqual([]);
    expect(encryptionAlgorithmFor({ kty: 'EC', crv: 'P-256' })).toBe('ECDH-ES+A256KW');
    expect(encryptionAlgorithmFor({ kty: 'RSA' })).toBe('RSA-OAEP-256');
    expect(encryptionAlgorithmFor({ kty: 'oct' })).toBeUndefined();
  });

  it("a registered key's use, key_ops and alg do not stop it from encrypting; a stray private member is never used", async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const key: PickupPublicKey = { kid: 'k', jwk: { ...((await exportJWK(publicKey)) as Record<string, string>), use: 'sig', alg: 'ES256', d: privateJwk.d! } };
    const jwe = await encryptPickup({ clientId: 'acme', keyId: 'kid', apiKey: 'not-a-real-key', issuedAt: '2026-12-03T00:00:00.000Z' }, key);
    const { plaintext } = await compactDecrypt(jwe, await importJWK(privateJwk, 'ECDH-ES+A256KW'));
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toMatchObject({ clientId: 'acme', apiKey: 'not-a-real-key' });

    const now = Date.parse('2026-12-03T12:00:00Z');
    const signed = await new SignJWT({ jti: 'j'.repeat(16) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer('acme')
      .setSubject('acme')
      .setAudience('https://x/pickup')
      .setIssuedAt(now / 1000)
      .setExpirationTime(now / 1000 + 60)
      .sign(privateKey);
    await expect(verifyPickupAssertion(signed, { clientId: 'acme', key, audience: 'https://x/pickup', nowMs: now })).resolves.toEqual({ jti: 'j'.repeat(16), exp: now / 1000 + 60 });
    // The 30 s tolerance: 29 s after exp is accepted, 31 s after is refused.
    await expect(verifyPickupAssertion(signed, { clientId: 'acme', key, audience: 'https://x/pickup', nowMs: now + 89_000 })).resolves.toBeDefined();
    await expect(verifyPickupAssertion(signed, { clientId: 'acme', key, audience: 'https://x/pickup', nowMs: now + 91_000 })).rejects.toMatchObject({ reason: PickupRefusal.INVALID_ASSERTION });
  });
});
