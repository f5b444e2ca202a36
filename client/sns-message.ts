/**
 * Verification of the messages Amazon SNS POSTs to an HTTP(S) endpoint (and of the SNS envelopes
 * an SQS subscription from another account receives), following AWS's documented procedure:
 * "Verifying the signatures of Amazon SNS messages",
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html, and its
 * step-by-step page
 * https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message-verify-message-signature.html.
 *
 * 1. The body is a JSON document of one of three `Type`s: `Notification`,
 *    `SubscriptionConfirmation`, `UnsubscribeConfirmation`.
 * 2. `SigningCertURL` must be `https://sns.<region>.amazonaws.com[.cn]/….pem` (no port, no
 *    credentials, no query): the certificate is trusted because TLS proved it came from SNS.
 * 3. The certificate is fetched (timeout, size cap, no redirects), parsed, and must be within
 *    its validity period and issued to `sns.amazonaws.com`.
 * 4. The string to sign is `Key\nValue\n` for each of, in this order,
 *    Notification: Message, MessageId, Subject (if present), Timestamp, TopicArn, Type;
 *    the confirmations: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type.
 * 5. `Signature` (base64) is checked with RSA PKCS#1 v1.5 over SHA1 (`SignatureVersion` 1) or
 *    SHA256 (`SignatureVersion` 2).
 *
 * Beyond the signature, KeyRoll also rejects a message whose `TopicArn` is not the expected
 * topic (a validly signed message from *another* topic must not act), one whose `Timestamp` is
 * older than a bound (a replayed capture), and, in {@link SnsMessageVerifier}, a `MessageId`
 * already accepted (bounded memory).
 *
 * Why hand-written over `node:crypto` rather than the `sns-validator` package: sns-validator
 * fetches the certificate with a hard-wired `https.get`, so there is no injectable transport (a
 * test cannot serve it moto's real signing certificate, and a consumer cannot route it through
 * its proxy), no timeout (a stalled certificate host holds every webhook request), and an
 * unbounded certificate cache (each distinct URL an attacker gets us to fetch stays in memory).
 * The procedure is short, and `createVerify` and `X509Certificate` do the cryptography.
 */
import { createVerify, X509Certificate } from 'node:crypto';
import { systemClock, type Clock } from '../lambdas/core/clock';
import { KeyRollError } from '../lambdas/core/errors';
import type { FetchLike } from './authenticated-fetch';
import { InvalidClientOptionsError } from './errors';

/** An error's name; an abort's reason is a DOMException, which may come from another realm than Error. */
function errorName(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : 'UnknownError';
}

/** The three kinds of message SNS sends to an HTTP(S) endpoint. */
export const SnsMessageType = {
  NOTIFICATION: 'Notification',
  SUBSCRIPTION_CONFIRMATION: 'SubscriptionConfirmation',
  UNSUBSCRIBE_CONFIRMATION: 'UnsubscribeConfirmation',
} as const;
export type SnsMessageType = (typeof SnsMessageType)[keyof typeof SnsMessageType];

/** A message whose signature, certificate host, type, topic and age were checked. */
export interface VerifiedSnsMessage {
  readonly Type: SnsMessageType;
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Timestamp: string;
  readonly SignatureVersion: '1' | '2';
  readonly Signature: string;
  readonly SigningCertURL: string;
  readonly Subject?: string;
  /** Confirmations only: the URL to GET to confirm the subscription. */
  readonly SubscribeURL?: string;
  /** Confirmations only. */
  readonly Token?: string;
  readonly UnsubscribeURL?: string;
  /** Notifications, when the publisher set attributes (`{Type, Value}` each). */
  readonly MessageAttributes?: Readonly<Record<string, unknown>>;
}

/** Why a message was rejected. */
export const SnsRejection = {
  /** Not JSON, a missing or non-string field, an unknown Type or SignatureVersion. */
  MALFORMED: 'malformed',
  /** SigningCertURL is not https://sns.<region>.amazonaws.com[.cn]/….pem. */
  CERTIFICATE_URL: 'certificate-url',
  /** The certificate could not be fetched or parsed, is expired, or is not issued to SNS. */
  CERTIFICATE: 'certificate',
  /** The signature does not match the message. */
  SIGNATURE: 'signature',
  /** A validly signed message from another topic. */
  TOPIC: 'topic',
  /** Timestamp older than the bound (or too far in the future). */
  STALE: 'stale',
  /** A MessageId this verifier already accepted. */
  DUPLICATE: 'duplicate',
} as const;
export type SnsRejection = (typeof SnsRejection)[keyof typeof SnsRejection];

/**
 * An SNS message was not accepted; nothing was done about it. The message names the reason
 * and, where safe, the offending field's name, never the message body.
 */
export class SnsMessageRejectedError extends KeyRollError {
  override readonly name = 'SnsMessageRejected';
  constructor(
    readonly reason: SnsRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`SNS message rejected (${reason}): ${message}`, options);
  }
}

/** `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`: SNS's own hosts. */
const SNS_HOST = /^sns\.[a-z]{2}(?:-[a-z]+)+-\d\.amazonaws\.com(?:\.cn)?$/;

/**
 * Whether `url` is an https URL on an SNS host (`sns.<region>.amazonaws.com[.cn]`), with no
 * port or credentials. Used for SigningCertURL and, before it is visited, SubscribeURL.
 */
export function isSnsServiceUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' && parsed.port === '' && parsed.username === '' && parsed.password === '' && SNS_HOST.test(parsed.hostname);
}

/** Whether `url` may be a signing certificate's address: an SNS service URL whose path ends in .pem and has no query. */
function isSigningCertUrl(url: string): boolean {
  if (!isSnsServiceUrl(url)) return false;
  const parsed = new URL(url);
  return parsed.search === '' && parsed.hash === '' && /^\/[\w.-]+\.pem$/.test(parsed.pathname);
}

/** The fields of the string to sign, in order, per message type (AWS's procedure, step 6). */
const SIGNED_FIELDS: Record<SnsMessageType, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** Fields that must be present strings, per type (Subject is optional on notifications). */
const REQUIRED_FIELDS: Record<SnsMessageType, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type', 'Signature', 'SignatureVersion', 'SigningCertURL'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type', 'Signature', 'SignatureVersion', 'SigningCertURL'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type', 'Signature', 'SignatureVersion', 'SigningCertURL'],
};

const DIGESTS = { '1': 'RSA-SHA1', '2': 'RSA-SHA256' } as const;

/**
 * The exact string SNS signed for `message`: `Key\nValue\n` for each signed field of its type
 * that is present, in AWS's order.
 */
export function snsStringToSign(message: Readonly<Record<string, unknown>>): string {
  const fields = SIGNED_FIELDS[message.Type as SnsMessageType];
  if (!fields) throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'unknown Type.');
  return fields.map((field) => (typeof message[field] === 'string' ? `${field}\n${message[field]}\n` : '')).join('');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and shape-checks a body; throws MALFORMED naming the first bad field (never its value). */
function parseMessage(body: unknown): VerifiedSnsMessage {
  let document: unknown = body;
  if (typeof body === 'string') {
    try {
      document = JSON.parse(body) as unknown;
    } catch (error) {
      throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'the body is not JSON.', { cause: error });
    }
  }
  if (!isRecord(document)) throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'the body is not a JSON object.');
  const type = document.Type;
  if (typeof type !== 'string' || !Object.hasOwn(SIGNED_FIELDS, type)) {
    throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'Type is not Notification, SubscriptionConfirmation or UnsubscribeConfirmation.');
  }
  for (const field of REQUIRED_FIELDS[type as SnsMessageType]) {
    if (typeof document[field] !== 'string' || document[field].length === 0) {
      throw new SnsMessageRejectedError(SnsRejection.MALFORMED, `${field} is missing or not a string.`);
    }
  }
  for (const field of ['Subject', 'UnsubscribeURL']) {
    if (document[field] !== undefined && typeof document[field] !== 'string') throw new SnsMessageRejectedError(SnsRejection.MALFORMED, `${field} is not a string.`);
  }
  if (document.SignatureVersion !== '1' && document.SignatureVersion !== '2') {
    throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'SignatureVersion is neither 1 nor 2.');
  }
  return document as unknown as VerifiedSnsMessage;
}

/** Options of a {@link SigningCertificates} cache. */
export interface SigningCertificatesOptions {
  /**
   * Fetches the certificate. It is called with `redirect: 'error'` and an abort signal.
   * @default globalThis.fetch
   */
  readonly fetch?: FetchLike;
  /** Abort a certificate fetch after this long. @default 5_000 */
  readonly timeoutMs?: number;
  /** Refuse a certificate larger than this (SNS's are about 2 KiB). @default 16_384 */
  readonly maxBytes?: number;
  /** Certificates kept, least recently used evicted first. @default 16 */
  readonly maxEntries?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** Reads at most `maxBytes` of a response body; throws when there is more. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers?.get?.('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw new Error(`the certificate is ${declared} bytes; at most ${maxBytes} are accepted.`);
  const body = response.body;
  if (!body) {
    const text = await response.text();
    if (Buffer.byteLength(text) > maxBytes) throw new Error(`the certificate is over ${maxBytes} bytes.`);
    return text;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Leaving the loop early cancels the stream.
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new Error(`the certificate is over ${maxBytes} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function positiveOption(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidClientOptionsError(`${name} must be a positive, finite number; got ${value}.`);
  return value;
}

/**
 * SNS signing certificates by URL: fetched once (concurrent callers share the fetch), kept in a
 * bounded least-recently-used cache, dropped when expired. A failed fetch is not cached.
 */
export class SigningCertificates {
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Promise<X509Certificate>>();

  constructor(options: SigningCertificatesOptions = {}) {
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timeoutMs = positiveOption('timeoutMs', options.timeoutMs ?? 5_000);
    this.#maxBytes = positiveOption('maxBytes', options.maxBytes ?? 16_384);
    this.#maxEntries = positiveOption('maxEntries', options.maxEntries ?? 16);
    this.#clock = options.clock ?? systemClock;
  }

  /** Certificates currently cached. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The certificate at `url` (which the caller has checked is an SNS certificate URL).
   * @throws SnsMessageRejectedError (`certificate`) when it cannot be fetched or used.
   */
  async get(url: string): Promise<X509Certificate> {
    let entry = this.#entries.get(url);
    if (entry) {
      // Most recently used last.
      this.#entries.delete(url);
      this.#entries.set(url, entry);
    } else {
      entry = this.#load(url);
      this.#entries.set(url, entry);
      while (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
      entry.catch(() => {
        if (this.#entries.get(url) === entry) this.#entries.delete(url);
      });
    }
    const certificate = await entry;
    if (!this.#valid(certificate)) {
      if (this.#entries.get(url) === entry) this.#entries.delete(url);
      throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE, 'the signing certificate is outside its validity period.');
    }
    return certificate;
  }

  #valid(certificate: X509Certificate): boolean {
    const now = this.#clock.nowMs();
    return Date.parse(certificate.validFrom) <= now && now <= Date.parse(certificate.validTo);
  }

  async #load(url: string): Promise<X509Certificate> {
    let pem: string;
    try {
      const response = await this.#fetch(url, { redirect: 'error', signal: AbortSignal.timeout(this.#timeoutMs) });
      if (response.status !== 200) throw new Error(`the certificate URL answered HTTP ${response.status}.`);
      pem = await readCapped(response, this.#maxBytes);
    } catch (error) {
      throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE, `the signing certificate could not be fetched (${errorName(error)}).`, { cause: error });
    }
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (error) {
      throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE, 'the signing certificate is not a PEM X.509 certificate.', { cause: error });
    }
    // SNS's certificates are issued to sns.amazonaws.com (the subject when there is no SAN).
    if (certificate.checkHost('sns.amazonaws.com') === undefined) {
      throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE, 'the signing certificate is not issued to sns.amazonaws.com.');
    }
    if (certificate.publicKey.asymmetricKeyType !== 'rsa') {
      throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE, 'the signing certificate does not hold an RSA key.');
    }
    return certificate;
  }
}

/** Options of {@link verifySnsMessage} and {@link SnsMessageVerifier}. */
export interface SnsMessageVerifierOptions {
  /** The topic messages must come from (KeyRoll's client topic ARN). */
  readonly topicArn: string;
  /**
   * Reject a Notification whose Timestamp is older than this (a replayed capture). SNS retries an
   * HTTP delivery for up to an hour under its default policy, with the original Timestamp. A
   * SubscriptionConfirmation is accepted for three days, as long as its token is valid.
   * @default 3_600_000 (1 hour)
   */
  readonly maxMessageAgeMs?: number;
  /** Accept a Timestamp at most this far in the future (clock skew). @default 300_000 */
  readonly maxClockSkewMs?: number;
  /** The certificate cache (share one per process). @default one built from the other options */
  readonly certificates?: SigningCertificates;
  /** For the default certificate cache. @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** For the default certificate cache. @default 5_000 */
  readonly certificateTimeoutMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

const defaultCertificates = new SigningCertificates();

/**
 * Verifies one SNS message (a POST body, or an SQS body carrying the SNS envelope): type and
 * fields, signing-certificate URL, certificate, signature, topic and age. No MessageId memory;
 * {@link SnsMessageVerifier} adds that.
 *
 * @returns the message, typed
 * @throws SnsMessageRejectedError naming why (see {@link SnsRejection}); nothing else is thrown
 */
export async function verifySnsMessage(body: unknown, options: SnsMessageVerifierOptions): Promise<VerifiedSnsMessage> {
  const clock = options.clock ?? systemClock;
  const certificates =
    options.certificates ?? (options.fetch || options.certificateTimeoutMs ? new SigningCertificates({ fetch: options.fetch, timeoutMs: options.certificateTimeoutMs, clock }) : defaultCertificates);
  const message = parseMessage(body);
  if (!isSigningCertUrl(message.SigningCertURL)) {
    throw new SnsMessageRejectedError(SnsRejection.CERTIFICATE_URL, 'SigningCertURL is not an https .pem URL on sns.<region>.amazonaws.com.');
  }
  const certificate = await certificates.get(message.SigningCertURL);
  let valid: boolean;
  try {
    valid = createVerify(DIGESTS[message.SignatureVersion])
      .update(snsStringToSign(message as unknown as Record<string, unknown>), 'utf8')
      .verify(certificate.publicKey, message.Signature, 'base64');
  } catch (error) {
    throw new SnsMessageRejectedError(SnsRejection.SIGNATURE, 'the signature could not be checked.', { cause: error });
  }
  if (!valid) throw new SnsMessageRejectedError(SnsRejection.SIGNATURE, 'the signature does not match the message.');
  // Checked after the signature, so the error says "another topic" only of a genuine SNS message.
  if (message.TopicArn !== options.topicArn) throw new SnsMessageRejectedError(SnsRejection.TOPIC, 'the message comes from another topic than the one expected.');
  const sentMs = Date.parse(message.Timestamp);
  const now = clock.nowMs();
  // A confirmation only lets the topic's own SNS host confirm a subscription KeyRoll made, and its
  // token stays valid for three days ("Confirmation tokens are valid for three days", API_Subscribe,
  // https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html): a consumer that starts late must
  // still confirm, or it misses every notice. Notifications keep the short bound against replays.
  const maxAgeMs = message.Type === 'SubscriptionConfirmation' ? Math.max(options.maxMessageAgeMs ?? 0, SUBSCRIPTION_CONFIRMATION_MAX_AGE_MS) : (options.maxMessageAgeMs ?? 3_600_000);
  const maxSkewMs = options.maxClockSkewMs ?? 300_000;
  if (!Number.isFinite(sentMs)) throw new SnsMessageRejectedError(SnsRejection.MALFORMED, 'Timestamp is not a date.');
  if (now - sentMs > maxAgeMs) throw new SnsMessageRejectedError(SnsRejection.STALE, `the message is ${Math.round((now - sentMs) / 1000)} s old; at most ${Math.round(maxAgeMs / 1000)} s is accepted.`);
  if (sentMs - now > maxSkewMs) throw new SnsMessageRejectedError(SnsRejection.STALE, 'the message is dated in the future beyond the allowed clock skew.');
  return message;
}

/** How old a SubscriptionConfirmation may be: its token's validity, three days. */
export const SUBSCRIPTION_CONFIRMATION_MAX_AGE_MS = 3 * 24 * 3_600_000;

/** Options of an {@link SnsMessageVerifier}. */
export interface SnsMessageVerifierInstanceOptions extends SnsMessageVerifierOptions {
  /** MessageIds remembered (oldest forgotten first). @default 10_000 */
  readonly maxRememberedMessages?: number;
}

/**
 * {@link verifySnsMessage} with one certificate cache and a bounded memory of accepted
 * MessageIds, so a message delivered (or replayed) twice within the window acts once. If acting
 * on a message fails, {@link release} it so that SNS's retry is accepted.
 */
export class SnsMessageVerifier {
  readonly topicArn: string;
  readonly #options: SnsMessageVerifierOptions;
  readonly #maxRemembered: number;
  readonly #seen = new Set<string>();

  constructor(options: SnsMessageVerifierInstanceOptions) {
    if (typeof options.topicArn !== 'string' || !options.topicArn.startsWith('arn:')) {
      throw new InvalidClientOptionsError(`topicArn must be an SNS topic ARN; got ${JSON.stringify(options.topicArn)}.`);
    }
    this.topicArn = options.topicArn;
    const clock = options.clock ?? systemClock;
    this.#options = { ...options, clock, certificates: options.certificates ?? new SigningCertificates({ fetch: options.fetch, timeoutMs: options.certificateTimeoutMs, clock }) };
    this.#maxRemembered = positiveOption('maxRememberedMessages', options.maxRememberedMessages ?? 10_000);
  }

  /**
   * Verifies `body` and remembers its MessageId.
   * @throws SnsMessageRejectedError, `duplicate` for a MessageId already accepted
   */
  async verify(body: unknown): Promise<VerifiedSnsMessage> {
    const message = await verifySnsMessage(body, this.#options);
    if (this.#seen.has(message.MessageId)) throw new SnsMessageRejectedError(SnsRejection.DUPLICATE, `MessageId ${message.MessageId} was already accepted.`);
    this.#seen.add(message.MessageId);
    while (this.#seen.size > this.#maxRemembered) this.#seen.delete(this.#seen.values().next().value!);
    return message;
  }

  /** Forgets an accepted MessageId (acting on it failed), so a redelivery is accepted. */
  release(messageId: string): void {
    this.#seen.delete(messageId);
  }
}

/** Options of {@link confirmSnsSubscription}. */
export interface ConfirmSubscriptionOptions {
  /** @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** Abort the confirmation request after this long. @default 10_000 */
  readonly timeoutMs?: number;
}

/** The subscription could not be confirmed; the message says why (never the token). */
export class SnsSubscriptionConfirmationError extends KeyRollError {
  override readonly name = 'SnsSubscriptionConfirmationFailed';
}

/**
 * Confirms the subscription a verified SubscriptionConfirmation asks for, by GETting its
 * SubscribeURL: checked again before it is visited (https, host `sns.<region>.amazonaws.com[.cn]`,
 * `Action=ConfirmSubscription`, the same TopicArn), so that only SNS itself is ever called.
 * @throws SnsSubscriptionConfirmationError when the URL is not SNS's or SNS does not answer 200
 */
export async function confirmSnsSubscription(message: VerifiedSnsMessage, options: ConfirmSubscriptionOptions = {}): Promise<void> {
  const url = message.SubscribeURL;
  if (message.Type !== SnsMessageType.SUBSCRIPTION_CONFIRMATION || url === undefined) {
    throw new SnsSubscriptionConfirmationError('Only a SubscriptionConfirmation can be confirmed.');
  }
  const parsed = isSnsServiceUrl(url) ? new URL(url) : undefined;
  if (parsed?.searchParams.get('Action') !== 'ConfirmSubscription' || parsed.searchParams.get('TopicArn') !== message.TopicArn) {
    throw new SnsSubscriptionConfirmationError('SubscribeURL is not an https ConfirmSubscription URL on sns.<region>.amazonaws.com for this topic; not visited.');
  }
  const fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  let status: number;
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'error', signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
    status = response.status;
    // The body (a ConfirmSubscriptionResponse) is not needed; release the connection.
    await response.body?.cancel();
  } catch (error) {
    throw new SnsSubscriptionConfirmationError(`Confirming the subscription to ${message.TopicArn} failed (${errorName(error)}).`, { cause: error });
  }
  if (status !== 200) throw new SnsSubscriptionConfirmationError(`Confirming the subscription to ${message.TopicArn} failed: SNS answered HTTP ${status}.`);
}
