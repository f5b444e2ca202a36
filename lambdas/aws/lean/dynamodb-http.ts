/**
 * A lean DynamoDB client for the authorizer: DynamoDB's JSON protocol over one keep-alive
 * agent, requests signed with Signature Version 4 by `aws4` (one dependency-free file over
 * node:crypto), instead of `@aws-sdk/client-dynamodb`, whose load was ≈ 80 ms of the
 * authorizer's ≈ 110 ms module init (bench/README.md, "Module init time").
 *
 * What it keeps from the SDK, because production needs it:
 * - credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *   AWS_SESSION_TOKEN: what Lambda passes the function's role), read per request;
 * - the region from AWS_REGION; the endpoint from AWS_ENDPOINT_URL_DYNAMODB, then
 *   AWS_ENDPOINT_URL (unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), as the SDK resolves
 *   them, else the regional endpoint `https://dynamodb.<region>.<AWS_URL_SUFFIX>`. The stack sets
 *   AWS_URL_SUFFIX to the AWS::URLSuffix pseudo parameter, which is the partition's DNS suffix
 *   (amazonaws.com, amazonaws.com.cn, c2s.ic.gov, sc2s.sgov.gov, cloud.adc-e.uk,
 *   csp.hci.ic.gov, amazonaws.eu, …): the suffix is never guessed from the region name;
 * - one http(s) Agent with keep-alive (50 sockets, the SDK's default), a timeout per attempt;
 * - the SDK's standard retry mode with the defaults its DynamoDB client has in the version the
 *   project uses (@aws-sdk/client-dynamodb 3.11xx over @smithy/core's retry strategy): up to 4
 *   attempts (AWS_MAX_ATTEMPTS overrides) on throttling, 5xx, network errors and timeouts,
 *   full-jitter exponential backoff (random × min(20 s, base × 2^retry), base 25 ms, 1 s for
 *   throttling), and a retry quota (500 tokens; a retry costs 14, 5 after throttling; a success
 *   refunds its last retry's cost, or 1) so a dependency outage does not multiply the load on it;
 * - a deadline per call (the invocation's remaining time, given by the authorizer): no attempt
 *   starts with less than `minAttemptMs` left, none runs past it, and no backoff is slept that
 *   would leave less than that; the last error is thrown instead. The SDK's 4 attempts of up
 *   to 2 s each with throttling backoff of up to 1 + 2 + 4 s take ≈ 15 s in the worst case,
 *   more than the authorizer's 10 s timeout;
 * - errors named after DynamoDB's error code (`ConditionalCheckFailedException`,
 *   `ValidationException`, …), with `$metadata.httpStatusCode`, `$metadata.requestId` and
 *   `$metadata.attempts` as the SDK's have, so `isTransient()` reads them the same way.
 *
 * What it leaves out: every other operation, the container and SSO credential providers
 * (a Lambda function has its credentials in the environment), FIPS and dual-stack endpoint
 * resolution (refused with a named error: set AWS_ENDPOINT_URL_DYNAMODB instead), clock-skew
 * correction, response CRC32 checks (the SDK v3 does not check them either), endpoint
 * discovery, Retry-After hints, and retrying ReplicatedWriteConflictException (multi-Region
 * strongly consistent tables; only the usage write could meet it, and its failure is dropped). Nothing here logs; no error carries a credential, a signature or a request body.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { sign } from 'aws4';
import type { Deadline } from '../../core/deadline';
import { KeyRollError } from '../../core/errors';

/** The DynamoDB operations the lean client is used for. */
export type DynamoDbOperation = 'GetItem' | 'UpdateItem';

/** Credentials to sign with. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** How the lean client is configured; every field defaults to what the environment says. */
export interface DynamoDbHttpClientOptions {
  /** @default process.env.AWS_REGION */
  readonly region?: string;
  /** Base URL of DynamoDB. @default AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL or `https://dynamodb.<region>.<urlSuffix>` */
  readonly endpoint?: string;
  /** The partition's DNS suffix (`amazonaws.com`, `amazonaws.com.cn`, …). @default AWS_URL_SUFFIX */
  readonly urlSuffix?: string;
  /** Called before every attempt. @default the environment's credentials, read per request */
  readonly credentials?: () => AwsCredentials;
  /** Attempts per call, the first included (1 = no retries). @default AWS_MAX_ATTEMPTS, else 4 (the SDK's DynamoDB default) */
  readonly maxAttempts?: number;
  /** Time one attempt may take, connecting included, before it is abandoned (and retried). @default 2000 */
  readonly attemptTimeoutMs?: number;
  /** With a deadline: the least time left for which an attempt is still started. @default 200 */
  readonly minAttemptMs?: number;
  /** The environment to read; for tests. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Uniform in [0, 1): the jitter. For tests. @default Math.random */
  readonly random?: () => number;
  /** Waits between attempts. For tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** The date the request is signed at. For tests. @default now */
  readonly now?: () => Date;
}

/** What the SDK's errors carry about the call, and this client's do too. */
export interface ResponseMetadata {
  readonly httpStatusCode?: number;
  readonly requestId?: string;
  readonly attempts: number;
  readonly totalRetryDelay: number;
}

/**
 * A failed DynamoDB call. `name` is DynamoDB's error code (`ConditionalCheckFailedException`,
 * `ProvisionedThroughputExceededException`, …), or `TimeoutError`, or the socket's error code
 * (`ECONNRESET`, …) for a network failure, or `UnknownError` for an answer without a code.
 */
export class DynamoDbError extends KeyRollError {
  override readonly name: string;
  readonly $metadata: ResponseMetadata;
  readonly $fault: 'client' | 'server';
  /** Set when the error is one the SDK would retry (the retries have been spent). */
  readonly $retryable?: { readonly throttling: boolean };

  constructor(init: { name: string; message: string; metadata: ResponseMetadata; fault: 'client' | 'server'; retry?: RetryKind; cause?: unknown }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = init.name;
    this.$metadata = init.metadata;
    this.$fault = init.fault;
    if (init.retry) this.$retryable = { throttling: init.retry === 'throttling' };
  }
}

/** The client cannot be configured from what it was given (region, endpoint, credentials). */
export class DynamoDbConfigError extends KeyRollError {
  override readonly name = 'InvalidDynamoDbConfig';
}

/** True for DynamoDB's "the condition expression was false" answer (from this client or the SDK). */
export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

type RetryKind = 'throttling' | 'transient';

// The SDK's lists (@smithy/service-error-classification), for the codes DynamoDB can answer.
const THROTTLING_CODES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
]);
const TRANSIENT_CODES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'InternalServerError', 'InternalFailure', 'ServiceUnavailable']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

// The SDK's figures (see the module comment): DynamoDB's client defaults and the standard strategy's.
const DEFAULT_MAX_ATTEMPTS = 4;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 2000;
// DynamoDB answers a GetItem in a region in milliseconds, a new TLS connection in tens: an
// attempt with less left than this would mostly be abandoned unanswered.
const DEFAULT_MIN_ATTEMPT_MS = 200;
const BASE_DELAY_MS = 25;
const THROTTLING_BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 20_000;
const RETRY_QUOTA = 500;
const RETRY_COST = 14;
const THROTTLING_RETRY_COST = 5;
const API_VERSION_TARGET = 'DynamoDB_20120810';
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

function truthy(value: string | undefined): boolean {
  return value?.toLowerCase() === 'true';
}

// DNS labels of letters, digits and hyphens, at least two of them: `amazonaws.com`, `c2s.ic.gov`.
const URL_SUFFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * The DynamoDB base URL: a configured endpoint as the SDK reads it from the environment, else
 * the regional endpoint in the partition whose DNS suffix is `urlSuffix` (default
 * AWS_URL_SUFFIX, which the stack sets to AWS::URLSuffix).
 * @throws DynamoDbConfigError when neither is given, or the suffix is not a DNS name.
 */
export function resolveEndpoint(region: string, env: NodeJS.ProcessEnv = process.env, urlSuffix: string | undefined = env.AWS_URL_SUFFIX): URL {
  const configured = truthy(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) ? undefined : env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
  if (configured) return parseEndpoint(configured);
  if (truthy(env.AWS_USE_FIPS_ENDPOINT) || truthy(env.AWS_USE_DUALSTACK_ENDPOINT)) {
    throw new DynamoDbConfigError("AWS_USE_FIPS_ENDPOINT / AWS_USE_DUALSTACK_ENDPOINT are not resolved by the authorizer's DynamoDB client; set AWS_ENDPOINT_URL_DYNAMODB to the endpoint to use.");
  }
  if (!urlSuffix) {
    throw new DynamoDbConfigError("AWS_URL_SUFFIX is not set (the stack sets it to the partition's DNS suffix, e.g. amazonaws.com or amazonaws.com.cn); set it, or AWS_ENDPOINT_URL_DYNAMODB.");
  }
  if (!URL_SUFFIX.test(urlSuffix)) throw new DynamoDbConfigError(`AWS_URL_SUFFIX must be a DNS suffix like amazonaws.com; got '${urlSuffix.slice(0, 100)}'.`);
  return new URL(`https://dynamodb.${region}.${urlSuffix}`);
}

function parseEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DynamoDbConfigError(`The DynamoDB endpoint must be an http(s) URL; got '${raw}'.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new DynamoDbConfigError(`The DynamoDB endpoint must be an http(s) URL; got '${raw}'.`);
  if (url.username || url.password || url.search || url.hash) throw new DynamoDbConfigError('The DynamoDB endpoint must not carry credentials, a query or a fragment.');
  return url;
}

/** The environment's credentials, as Lambda passes the function's role to it. */
export function environmentCredentials(env: NodeJS.ProcessEnv = process.env): AwsCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new DynamoDbConfigError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the function's role).");
  }
  const sessionToken = env.AWS_SESSION_TOKEN;
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/** The SDK's retry quota: retries spend tokens, successes refund them, an empty bucket means no retry. */
class RetryQuota {
  private tokens = RETRY_QUOTA;

  take(cost: number): boolean {
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  refund(cost: number): void {
    this.tokens = Math.min(RETRY_QUOTA, this.tokens + cost);
  }

  get available(): number {
    return this.tokens;
  }
}

interface RawResponse {
  readonly status: number;
  readonly requestId: string | undefined;
  readonly errorType: string | undefined;
  readonly text: string;
  /** Why no answer came (status 0). */
  readonly failure?: unknown;
}

/** DynamoDB over HTTP: sign, send, retry, map errors. Build one per process and reuse it (it holds the connection pool). */
export class DynamoDbHttpClient {
  readonly region: string;
  readonly endpoint: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http.request;
  private readonly credentials: () => AwsCredentials;
  private readonly maxAttempts: number;
  private readonly attemptTimeoutMs: number;
  private readonly minAttemptMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;
  private readonly quota = new RetryQuota();

  constructor(options: DynamoDbHttpClientOptions = {}) {
    const env = options.env ?? process.env;
    const region = options.region ?? env.AWS_REGION;
    if (!region || !/^[a-z0-9-]{1,40}$/.test(region)) {
      throw new DynamoDbConfigError(region ? `AWS_REGION must be a region name like us-east-1; got '${region}'.` : 'AWS_REGION is not set (Lambda sets it).');
    }
    this.region = region;
    this.endpoint = options.endpoint ? parseEndpoint(options.endpoint) : resolveEndpoint(region, env, options.urlSuffix ?? env.AWS_URL_SUFFIX);
    const secure = this.endpoint.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 50 }) : new http.Agent({ keepAlive: true, maxSockets: 50 });
    this.transport = secure ? https.request : http.request;
    this.credentials = options.credentials ?? (() => environmentCredentials(env));
    const fromEnv = Number(env.AWS_MAX_ATTEMPTS);
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? (Number.isFinite(fromEnv) && fromEnv >= 1 ? fromEnv : DEFAULT_MAX_ATTEMPTS)));
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.minAttemptMs = options.minAttemptMs ?? DEFAULT_MIN_ATTEMPT_MS;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? (() => new Date());
  }

  /** Tokens left in the retry quota (500 when nothing has been retried). */
  get retryTokens(): number {
    return this.quota.available;
  }

  /**
   * Calls `operation` with `input` (DynamoDB's JSON request shape) and returns its JSON answer.
   * With a `deadline`, every attempt ends by it and none starts with less than `minAttemptMs`
   * left: the call fails with its last error (or `TimeoutError` before any attempt) instead.
   * @throws DynamoDbError when DynamoDB answers with an error or cannot be reached, after the retries.
   */
  async send<T>(operation: DynamoDbOperation, input: object, deadline?: Deadline): Promise<T> {
    const body = JSON.stringify(input);
    let totalRetryDelay = 0;
    let lastRetryCost = 0;
    let lastError: DynamoDbError | undefined;
    for (let attempt = 1; ; attempt++) {
      const left = deadline ? deadline.remainingMs() : Number.POSITIVE_INFINITY;
      if (left < this.minAttemptMs) throw lastError ?? noTimeLeft(operation, left, { attempts: 0, totalRetryDelay });
      let response: RawResponse;
      try {
        response = await this.attempt(operation, body, Math.min(this.attemptTimeoutMs, left));
      } catch (caught) {
        if (caught instanceof DynamoDbConfigError) throw caught;
        response = { status: 0, requestId: undefined, errorType: undefined, text: '', failure: caught };
      }
      if (response.status >= 200 && response.status < 300) {
        // As the SDK: a success refunds what its last retry cost, or one token when it needed none.
        this.quota.refund(lastRetryCost || 1);
        return parseBody(response, operation, { attempts: attempt, totalRetryDelay }) as T;
      }
      const error =
        response.status === 0
          ? networkError(response.failure, operation, { attempts: attempt, totalRetryDelay })
          : serviceError(response, operation, { httpStatusCode: response.status, requestId: response.requestId, attempts: attempt, totalRetryDelay });
      lastError = error;
      const kind = retryKind(error);
      if (!kind || attempt >= this.maxAttempts) throw error;
      const delay = Math.floor(this.random() * Math.min(MAX_DELAY_MS, (kind === 'throttling' ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS) * 2 ** (attempt - 1)));
      // A retry that could not start in time after its backoff is not taken (nor paid for).
      if (deadline && deadline.remainingMs() - delay < this.minAttemptMs) throw error;
      const cost = kind === 'throttling' ? THROTTLING_RETRY_COST : RETRY_COST;
      if (!this.quota.take(cost)) throw error;
      lastRetryCost = cost;
      totalRetryDelay += delay;
      await this.sleep(delay);
    }
  }

  /** Closes the pooled connections (tests; a Lambda keeps them for the container's life). */
  destroy(): void {
    this.agent.destroy();
  }

  /** The signed request options of one attempt (exposed for the signing tests). */
  signedRequest(operation: DynamoDbOperation, body: string): http.RequestOptions & { headers: Record<string, string | number> } {
    const { hostname, port, host, pathname, protocol } = this.endpoint;
    return sign(
      {
        protocol,
        // An IPv6 literal comes bracketed in URL.hostname; http.request wants it bare.
        hostname: hostname.replace(/^\[(.*)\]$/, '$1'),
        ...(port ? { port: Number(port) } : {}),
        path: pathname || '/',
        method: 'POST',
        service: 'dynamodb',
        region: this.region,
        body,
        headers: {
          // URL.host has the brackets and the port unless it is the scheme's default, as Host must.
          Host: host,
          'Content-Type': 'application/x-amz-json-1.0',
          'X-Amz-Target': `${API_VERSION_TARGET}.${operation}`,
          'X-Amz-Date': amzDate(this.now()),
          'User-Agent': 'keyroll-authorizer lean-dynamodb/1',
        },
      },
      this.credentials(),
    ) as http.RequestOptions & { headers: Record<string, string | number> };
  }

  private attempt(operation: DynamoDbOperation, body: string, timeoutMs: number): Promise<RawResponse> {
    const options = this.signedRequest(operation, body);
    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, response?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(response!);
      };
      const request = this.transport({ ...options, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) request.destroy(Object.assign(new Error('response too large'), { code: 'EMSGSIZE' }));
          else chunks.push(chunk);
        });
        response.on('error', (error) => finish(error));
        response.on('aborted', () => finish(Object.assign(new Error('response aborted'), { code: 'ECONNRESET' })));
        response.on('end', () =>
          finish(undefined, {
            status: response.statusCode ?? 0,
            requestId: headerValue(response.headers['x-amzn-requestid']),
            errorType: headerValue(response.headers['x-amzn-errortype']),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      const timer = setTimeout(() => {
        const timeout = new AttemptTimeout(timeoutMs);
        finish(timeout);
        request.destroy(timeout);
      }, timeoutMs);
      request.on('error', (error) => finish(error));
      request.end(body);
    });
  }
}

class AttemptTimeout extends KeyRollError {
  override readonly name = 'TimeoutError';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** The call cannot start (another) attempt before its deadline: a timeout, retryable by a caller with more time. */
function noTimeLeft(operation: DynamoDbOperation, leftMs: number, metadata: ResponseMetadata): DynamoDbError {
  return new DynamoDbError({
    name: 'TimeoutError',
    message: `DynamoDB ${operation}: ${Math.max(0, Math.floor(leftMs))} ms left before the deadline, too little to start an attempt.`,
    metadata,
    fault: 'client',
    retry: 'transient',
  });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `YYYYMMDDTHHMMSSZ`, the form SigV4 signs. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[:-]|\.\d{3}/g, '');
}

function parseBody(response: RawResponse, operation: DynamoDbOperation, metadata: Omit<ResponseMetadata, 'httpStatusCode' | 'requestId'>): unknown {
  if (response.text === '') return {};
  try {
    return JSON.parse(response.text) as unknown;
  } catch (cause) {
    throw new DynamoDbError({
      name: 'DeserializationError',
      message: `DynamoDB ${operation} answered ${response.status} with a body that is not JSON.`,
      metadata: { httpStatusCode: response.status, requestId: response.requestId, ...metadata },
      fault: 'server',
      cause,
    });
  }
}

const AUTH_ERROR_CODES = new Set([
  'InvalidSignatureException',
  'IncompleteSignature',
  'IncompleteSignatureException',
  'UnrecognizedClientException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
]);

/** `com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` or `Code:http://…` → `ConditionalCheckFailedException`. */
function errorCode(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const code = raw.split(':')[0].split('#').pop()!.trim();
  return /^[A-Za-z][A-Za-z0-9_.]{0,99}$/.test(code) ? code : undefined;
}

function serviceError(response: RawResponse, operation: DynamoDbOperation, metadata: ResponseMetadata): DynamoDbError {
  let body: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    body = JSON.parse(response.text) as typeof body;
  } catch {
    // A proxy's HTML page or an empty 5xx: the status says enough.
  }
  const code = errorCode(response.errorType) ?? errorCode(typeof body.__type === 'string' ? body.__type : undefined) ?? 'UnknownError';
  const text = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : undefined;
  // An authentication answer may echo the canonical request (security token included) after
  // its first line, in the form many AWS-compatible endpoints use: keep none of it.
  const safeText = AUTH_ERROR_CODES.has(code) ? `DynamoDB refused the request's signature or credentials (${code}).` : text?.split('\n\nThe Canonical String')[0]!.slice(0, 500);
  const error = new DynamoDbError({
    name: code,
    message: safeText || `DynamoDB ${operation} failed with HTTP ${response.status}.`,
    metadata,
    fault: response.status >= 500 ? 'server' : 'client',
  });
  const kind = retryKind(error);
  return kind ? new DynamoDbError({ name: code, message: error.message, metadata, fault: error.$fault, retry: kind }) : error;
}

// The network failures the SDK retries (@smithy/service-error-classification, node-http-handler).
// Anything else failed here, not on the way (a bad header character, a TLS name mismatch, the
// response-size cap): it would fail again, so it is not retried.
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function networkError(cause: unknown, operation: DynamoDbOperation, metadata: ResponseMetadata): DynamoDbError {
  const timeout = cause instanceof AttemptTimeout;
  const code = timeout ? 'TimeoutError' : ((cause as { code?: unknown })?.code as string | undefined);
  const name = typeof code === 'string' && /^[A-Z][A-Za-z0-9_]{1,40}$/.test(code) ? code : 'NetworkingError';
  return new DynamoDbError({
    name,
    message: timeout ? `DynamoDB ${operation}: ${(cause as Error).message}.` : `DynamoDB ${operation}: the request failed before an answer (${name}).`,
    metadata,
    fault: 'client',
    ...(timeout || RETRYABLE_NETWORK_CODES.has(name) ? { retry: 'transient' as const } : {}),
    cause,
  });
}

function retryKind(error: DynamoDbError): RetryKind | undefined {
  if (error.$retryable) return error.$retryable.throttling ? 'throttling' : 'transient';
  const status = error.$metadata.httpStatusCode;
  if (THROTTLING_CODES.has(error.name) || status === 429) return 'throttling';
  if (TRANSIENT_CODES.has(error.name) || (status !== undefined && TRANSIENT_STATUS.has(status))) return 'transient';
  return undefined;
}
