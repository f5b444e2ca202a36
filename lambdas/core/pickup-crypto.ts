/**
 * The pickup protocol's cryptography, all of it through `jose` (no hand-written crypto):
 * verifying a client assertion with the registered public key it names, and encrypting the
 * answer to that same key. Pure (no AWS, no clock of its own), so the client SDK's tests and
 * the endpoint share one definition of what is accepted.
 */
import { CompactEncrypt, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import type { PickupPublicKey } from './delivery';
import { ASSERTION_CLOCK_TOLERANCE_SECONDS, JTI_MAX_LENGTH, JTI_MIN_LENGTH, MAX_ASSERTION_LIFETIME_SECONDS, PICKUP_CONTENT_TYPE, PickupRefusal, PickupRefusedError, type PickupPlaintext } from './pickup';

/** Signature algorithms by key type: ES256 for EC P-256; PS256 and RS256 for RSA (2048 bits or more: jose checks). */
export function signatureAlgorithmsFor(jwk: Readonly<Record<string, string>>): string[] {
  const allowed = jwk.kty === 'EC' && jwk.crv === 'P-256' ? ['ES256'] : jwk.kty === 'RSA' ? ['PS256', 'RS256'] : [];
  // A key registered with an `alg` is used with that algorithm only.
  return jwk.alg === undefined ? allowed : allowed.filter((alg) => alg === jwk.alg);
}

/** The key-management algorithm the answer is encrypted with: ECDH-ES+A256KW (EC) or RSA-OAEP-256 (RSA). */
export function encryptionAlgorithmFor(jwk: Readonly<Record<string, string>>): 'ECDH-ES+A256KW' | 'RSA-OAEP-256' | undefined {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ECDH-ES+A256KW';
  if (jwk.kty === 'RSA') return 'RSA-OAEP-256';
  return undefined;
}

/**
 * The public members only. A registered JWK's `use`, `key_ops` or `alg` would make WebCrypto
 * refuse the other use (the same key both verifies and encrypts), and a private member (`d`),
 * had one slipped through registration, is never imported.
 */
function publicMembers(jwk: Readonly<Record<string, string>>): JWK {
  return jwk.kty === 'EC' ? { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: 'RSA', n: jwk.n, e: jwk.e };
}

/** What a verified assertion tells: the `jti` to spend, and until when it could be replayed. */
export interface VerifiedAssertion {
  readonly jti: string;
  /** The assertion's `exp` (epoch seconds). */
  readonly exp: number;
}

/**
 * Verifies a client assertion with `key`: the signature with an algorithm the key type allows,
 * `iss` = `sub` = `clientId`, `aud` = `audience` exactly, `exp` required (and `iat`, `jti`),
 * `exp - iat` at most {@link MAX_ASSERTION_LIFETIME_SECONDS}, `iat` not in the future and `nbf`
 * passed (each within {@link ASSERTION_CLOCK_TOLERANCE_SECONDS}), `jti` a string of
 * {@link JTI_MIN_LENGTH}-{@link JTI_MAX_LENGTH} characters. Does not spend the `jti`.
 * @throws PickupRefusedError (InvalidAssertion) naming what failed (jose's error name), never a claim value
 */
export async function verifyPickupAssertion(assertion: string, options: { clientId: string; key: PickupPublicKey; audience: string; nowMs: number }): Promise<VerifiedAssertion> {
  const invalid = (detail: string) => new PickupRefusedError(PickupRefusal.INVALID_ASSERTION, detail);
  const algorithms = signatureAlgorithmsFor(options.key.jwk);
  if (algorithms.length === 0) throw invalid('the registered key has no supported signature algorithm');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, (header) => importJWK(publicMembers(options.key.jwk), header.alg), {
      algorithms,
      issuer: options.clientId,
      subject: options.clientId,
      audience: options.audience,
      requiredClaims: ['exp', 'iat', 'jti'],
      clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(options.nowMs),
    }));
  } catch (error) {
    const name = error instanceof Error ? ((error as { code?: string }).code ?? error.name) : 'unknown';
    throw invalid(`jose refused it (${name})`);
  }
  const { exp, iat, jti, aud } = payload as Record<string, unknown>;
  // jose accepts an `aud` array that contains the audience; the protocol wants exactly one.
  if (aud !== options.audience) throw invalid('aud is not exactly the pickup URL');
  if (typeof exp !== 'number' || typeof iat !== 'number') throw invalid('exp or iat not a number');
  if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) throw invalid('exp - iat is over the limit');
  if (iat > options.nowMs / 1000 + ASSERTION_CLOCK_TOLERANCE_SECONDS) throw invalid('iat is in the future');
  if (typeof jti !== 'string' || jti.length < JTI_MIN_LENGTH || jti.length > JTI_MAX_LENGTH) throw invalid('jti not a string of the allowed length');
  return { jti, exp };
}

/**
 * Encrypts the answer to the registered key: compact JWE, alg per key type, enc A256GCM,
 * protected header `kid` (the key's) and `cty` {@link PICKUP_CONTENT_TYPE}.
 */
export async function encryptPickup(plaintext: PickupPlaintext, key: PickupPublicKey): Promise<string> {
  const alg = encryptionAlgorithmFor(key.jwk);
  if (!alg) throw new PickupRefusedError(PickupRefusal.UNKNOWN_KEY, 'the registered key has no supported encryption algorithm');
  const publicKey = await importJWK(publicMembers(key.jwk), alg);
  const body = JSON.stringify({ clientId: plaintext.clientId, keyId: plaintext.keyId, apiKey: plaintext.apiKey, issuedAt: plaintext.issuedAt });
  return new CompactEncrypt(new TextEncoder().encode(body)).setProtectedHeader({ alg, enc: 'A256GCM', kid: key.kid, cty: PICKUP_CONTENT_TYPE }).encrypt(publicKey);
}
