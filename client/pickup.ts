/**
 * `@keyroll/client/pickup`: the current key for a consumer outside AWS, from KeyRoll's pickup
 * endpoint (stack output `PickupUrl`). The client proves itself with a short-lived assertion
 * signed by its own private key (RFC 7523 `private_key_jwt`), and the endpoint answers with the
 * key encrypted to that key pair's registered public key (a compact JWE), so neither a leaked
 * API key nor a captured response is enough to fetch or read one, and the private key never
 * leaves the process.
 *
 * The protocol (docs/design.md; agreed with the endpoint in lambdas/handlers/pickup.ts):
 * `POST <pickupUrl>`, `application/x-www-form-urlencoded`,
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=<JWS>`;
 * the JWS has header `kid`, alg ES256 (EC P-256) or PS256 (RSA), claims iss = sub = clientId,
 * aud = the pickup URL, iat, exp = iat + 60 s, a fresh random jti. Answer 200
 * `application/jose`: a JWE (ECDH-ES+A256KW or RSA-OAEP-256, A256GCM; header kid = the same key,
 * cty `keyroll-pickup+json`) of `{"clientId","keyId","apiKey","issuedAt"}`. Refusals: 401
 * `{"error":"invalid_client"}`, 400 `{"error":"invalid_request"}`.
 *
 * jose (MIT) is bundled into this entry, tree-shaken, so the package keeps no dependencies.
 * Shared code only through the main entry (packages/client/entries.ts).
 */
import { createPrivateKey, KeyObject, randomBytes, type JsonWebKey, type webcrypto } from 'node:crypto';
import { compactDecrypt, SignJWT } from 'jose';
import {
  InvalidClientOptionsError,
  KeyProvider,
  parseSecretValue,
  PickupFailedError,
  PickupUnauthorizedError,
  systemClock,
  type Clock,
  type FetchLike,
  type KeyProviderTiming,
  type KeyRead,
  type KeySource,
} from './index';

/** An error's name; an abort's reason is a DOMException, which may come from another realm than Error. */
function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : 'UnknownError';
}

/** The `cty` of a pickup response's JWE. */
export const PICKUP_CONTENT_TYPE = 'keyroll-pickup+json';
/** RFC 7523's client_assertion_type. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Lifetime of each assertion (the endpoint accepts at most 300 s). */
export const ASSERTION_LIFETIME_SECONDS = 60;
/** A pickup response is a few hundred bytes; anything much larger is not one. */
const MAX_RESPONSE_BYTES = 65_536;
const ERROR_CODES = new Set(['invalid_client', 'invalid_request']);

/** A private JWK (EC P-256 or RSA, with its private members). */
export interface PrivateJwk {
  readonly kty: string;
  readonly d: string;
  readonly [member: string]: unknown;
}

/** Options of a {@link PickupKeySource}. */
export interface PickupKeySourceOptions {
  /** The stack's `PickupUrl` output, exactly (it is the assertion's audience). */
  readonly pickupUrl: string;
  /** The client's id. */
  readonly clientId: string;
  /**
   * The private half of a key pair whose public JWK is registered with the platform for this
   * client: a private JWK, a `KeyObject`, or an extractable `CryptoKey`. EC P-256 (signs ES256,
   * decrypts ECDH-ES+A256KW) or RSA of 2048 bits or more (PS256, RSA-OAEP-256).
   */
  readonly privateKey: PrivateJwk | KeyObject | webcrypto.CryptoKey;
  /** The kid under which the public key is registered. */
  readonly kid: string;
  /** @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** Abort a pickup after this long. @default 10_000 */
  readonly timeoutMs?: number;
  /** For the assertion's iat and exp. @default systemClock */
  readonly clock?: Clock;
}

/** The algorithms a key pair is used with. */
interface KeyAlgorithms {
  readonly sign: 'ES256' | 'PS256';
  readonly decrypt: 'ECDH-ES+A256KW' | 'RSA-OAEP-256';
}

function isCryptoKey(value: unknown): value is webcrypto.CryptoKey {
  return typeof value === 'object' && value !== null && Object.prototype.toString.call(value) === '[object CryptoKey]';
}

/** A private KeyObject from any accepted form; throws InvalidClientOptionsError (never echoing the key). */
function privateKeyObject(key: PickupKeySourceOptions['privateKey']): KeyObject {
  let keyObject: KeyObject;
  try {
    if (key instanceof KeyObject) keyObject = key;
    else if (isCryptoKey(key)) keyObject = KeyObject.from(key);
    else keyObject = createPrivateKey({ key: key as unknown as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new InvalidClientOptionsError(`privateKey is not a usable private key (${errorName(error)}).`, { cause: error });
  }
  if (keyObject.type !== 'private') throw new InvalidClientOptionsError(`privateKey must be a private key; got a ${keyObject.type} key.`);
  return keyObject;
}

function algorithmsFor(key: KeyObject): KeyAlgorithms {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return { sign: 'ES256', decrypt: 'ECDH-ES+A256KW' };
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) return { sign: 'PS256', decrypt: 'RSA-OAEP-256' };
  throw new InvalidClientOptionsError(`privateKey must be EC P-256 or RSA of at least 2048 bits; got ${key.asymmetricKeyType ?? 'unknown'} ${details.namedCurve ?? details.modulusLength ?? ''}.`.trim());
}

/** The error code of a refusal body, only when it is one the protocol defines. */
async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const text = await readCapped(response, 1024);
    const code = (JSON.parse(text) as { error?: unknown }).error;
    return typeof code === 'string' && ERROR_CODES.has(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw new RangeError(`response of ${declared} bytes`);
  const text = await response.text();
  if (Buffer.byteLength(text) > maxBytes) throw new RangeError('response too large');
  return text;
}

/**
 * Reads the current key from KeyRoll's pickup endpoint. Each read signs a fresh assertion
 * (single use), so reads are cheap to repeat: the {@link KeyProvider} decides when to.
 */
export class PickupKeySource implements KeySource {
  readonly kind = 'pickup';
  /** The pickup URL. */
  readonly id: string;
  readonly clientId: string;
  readonly kid: string;
  readonly #key: KeyObject;
  readonly #algorithms: KeyAlgorithms;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #clock: Clock;

  constructor(options: PickupKeySourceOptions) {
    let url: URL;
    try {
      url = new URL(options.pickupUrl);
    } catch {
      throw new InvalidClientOptionsError(`pickupUrl must be an absolute URL; got ${JSON.stringify(options.pickupUrl)}.`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost'))) {
      throw new InvalidClientOptionsError(`pickupUrl must be https (plain http only on loopback, for tests); got ${url.protocol}.`);
    }
    if (typeof options.clientId !== 'string' || options.clientId.length === 0) throw new InvalidClientOptionsError('clientId is required; got none.');
    if (typeof options.kid !== 'string' || options.kid.length === 0) throw new InvalidClientOptionsError('kid is required; got none.');
    this.id = options.pickupUrl;
    this.clientId = options.clientId;
    this.kid = options.kid;
    this.#key = privateKeyObject(options.privateKey);
    this.#algorithms = algorithmsFor(this.#key);
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isFinite(this.#timeoutMs) || this.#timeoutMs <= 0) throw new InvalidClientOptionsError(`timeoutMs must be a positive number; got ${this.#timeoutMs}.`);
    this.#clock = options.clock ?? systemClock;
  }

  /** A fresh signed assertion (exported for diagnostics and tests; single use). */
  async assertion(): Promise<string> {
    const iat = Math.floor(this.#clock.nowMs() / 1000);
    return (
      new SignJWT({})
        .setProtectedHeader({ alg: this.#algorithms.sign, kid: this.kid })
        .setIssuer(this.clientId)
        .setSubject(this.clientId)
        .setAudience(this.id)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
        // 24 random bytes: 32 base64url characters.
        .setJti(randomBytes(24).toString('base64url'))
        .sign(this.#key)
    );
  }

  /**
   * Picks up the current key.
   * @throws PickupUnauthorizedError on 401; PickupFailedError on anything else that is not a
   *   valid response for this client; MalformedKeyError when the key inside is malformed
   */
  async read(): Promise<KeyRead> {
    const body = new URLSearchParams({ client_assertion_type: JWT_BEARER_ASSERTION_TYPE, client_assertion: await this.assertion() });
    let response: Response;
    try {
      response = await this.#fetch(this.id, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/jose' },
        body: body.toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw new PickupFailedError(this.id, undefined, undefined, `no response (${errorName(error)}).`, { cause: error });
    }
    if (response.status === 401) {
      await response.body?.cancel();
      throw new PickupUnauthorizedError(this.id);
    }
    if (response.status !== 200) {
      const code = await errorCode(response);
      throw new PickupFailedError(this.id, response.status, code, `HTTP ${response.status}${code ? ` ${code}` : ''}.`);
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/jose') {
      await response.body?.cancel();
      throw new PickupFailedError(this.id, 200, undefined, `expected content-type application/jose; got ${type || 'none'}.`);
    }
    let jwe: string;
    try {
      jwe = (await readCapped(response, MAX_RESPONSE_BYTES)).trim();
    } catch (error) {
      throw new PickupFailedError(this.id, 200, undefined, 'the response body could not be read or is too large.', { cause: error });
    }
    return this.#open(jwe);
  }

  async #open(jwe: string): Promise<KeyRead> {
    let plaintext: Uint8Array;
    try {
      const result = await compactDecrypt(jwe, this.#key, { keyManagementAlgorithms: [this.#algorithms.decrypt], contentEncryptionAlgorithms: ['A256GCM'] });
      if (result.protectedHeader.kid !== this.kid) throw new Error('the JWE is for another kid.');
      if (result.protectedHeader.cty !== PICKUP_CONTENT_TYPE) throw new Error(`the JWE's cty is not ${PICKUP_CONTENT_TYPE}.`);
      plaintext = result.plaintext;
    } catch (error) {
      // jose's messages name algorithms and header fields, never key material; keep only the name.
      throw new PickupFailedError(this.id, 200, undefined, `the response could not be decrypted as this client's pickup JWE (${errorName(error)}).`, { cause: error });
    }
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>;
    } catch {
      throw new PickupFailedError(this.id, 200, undefined, 'the decrypted response is not JSON.');
    }
    if (document?.clientId !== this.clientId) throw new PickupFailedError(this.id, 200, undefined, 'the decrypted response is for another client.');
    // MalformedKeyError when the key is not well formed; its message never echoes the value.
    return parseSecretValue(JSON.stringify({ apiKey: document.apiKey, keyId: document.keyId }));
  }
}

/** Options of a {@link PickupKeyProvider}: the source's and the provider's timing. */
export interface PickupKeyProviderOptions extends PickupKeySourceOptions, KeyProviderTiming {}

/**
 * A {@link KeyProvider} over a {@link PickupKeySource}: the way a consumer outside AWS gets and
 * follows its key (cached, single flight, refreshed on notices, on 401 and on a timer).
 *
 * @example
 * const keys = new PickupKeyProvider({
 *   pickupUrl: process.env.KEYROLL_PICKUP_URL!,
 *   clientId: 'acme',
 *   kid: 'acme-2026-12',
 *   privateKey: JSON.parse(readFileSync('acme-2026-12.private.jwk', 'utf8')),
 * });
 * keys.start();
 */
export class PickupKeyProvider extends KeyProvider {
  /** The pickup URL. */
  readonly pickupUrl: string;

  constructor(options: PickupKeyProviderOptions) {
    const source = new PickupKeySource(options);
    super({ ...options, source });
    this.pickupUrl = source.id;
  }
}
