/**
 * The authorizer's lean DynamoDB client against scripted loopback servers (no emulator):
 * SigV4 (AWS's published test vector through aws4; the request as it arrives at the server,
 * re-signed by the SDK's own signer, @smithy/signature-v4; a fixed request spelled out as its
 * canonical form), endpoint and credential resolution, retries (which errors, how many, the
 * full-jitter delays, the retry quota), keep-alive, error names and metadata, no secret in any
 * error; and the attribute-value converter against the SDK's `unmarshall`.
 */
import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { partition } from '@aws-sdk/core/client';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import * as aws4 from 'aws4';
import fc from 'fast-check';
import { fromAttributeValue, fromItem, stringAttributes, UnreadableAttributeError, type AttributeValue } from '../../lambdas/aws/lean/attribute-values';
import { DynamoDbConfigError, DynamoDbError, DynamoDbHttpClient, environmentCredentials, isConditionalCheckFailed, resolveEndpoint, type DynamoDbHttpClientOptions } from '../../lambdas/aws/lean/dynamodb-http';
import { isTransient } from '../../lambdas/aws/transient';
import { Deadline } from '../../lambdas/core/deadline';
import { awsError, ok, scriptedDynamoDb, type Reply, type ScriptedDynamoDb } from '../support/scripted-dynamodb';

// AWS's example credentials (from the SigV4 documentation), plus a session token as Lambda's role has.
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLE/SESSION+TOKEN=' };
const SECRETS = [CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken];
const GET_ITEM = { TableName: 'keyroll', Key: { pk: { S: 'KEY#0123abcd' }, sk: { S: 'KEY' } }, ConsistentRead: true };

// ---------------------------------------------------------------------------------------
// a scripted DynamoDB

const servers: ScriptedDynamoDb[] = [];
const clients: DynamoDbHttpClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function scripted(replies: Reply[]): Promise<ScriptedDynamoDb> {
  const server = await scriptedDynamoDb(replies);
  servers.push(server);
  return server;
}

/** A client of `server` with recorded (not slept) delays and a fixed jitter of 0.5. */
function clientOf(server: ScriptedDynamoDb, options: DynamoDbHttpClientOptions = {}): { client: DynamoDbHttpClient; delays: number[] } {
  const delays: number[] = [];
  const client = new DynamoDbHttpClient({
    region: 'us-east-1',
    endpoint: server.endpoint,
    credentials: () => CREDENTIALS,
    random: () => 0.5,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...options,
  });
  clients.push(client);
  return { client, delays };
}

async function failureOf(promise: Promise<unknown>): Promise<DynamoDbError> {
  try {
    await promise;
  } catch (error) {
    return error as DynamoDbError;
  }
  throw new Error('expected a failure');
}

/** Everything an error could show a log or a caller. */
const everythingIn = (error: unknown) => [inspect(error, { depth: 8 }), JSON.stringify(error), (error as Error).stack ?? '', String(error)].join('\n');

// ---------------------------------------------------------------------------------------
// signing

/** SHA-256 / HMAC-SHA-256 from node:crypto in the shape @smithy/signature-v4 asks for. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytesOf = (data: SourceData) => (typeof data === 'string' ? data : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data));
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

describe('SigV4 signing', () => {
  it("aws4, the signer the client uses, reproduces AWS's published test vector (get-vanilla)", () => {
    const signed = aws4.sign(
      { host: 'example.amazonaws.com', path: '/', method: 'GET', service: 'service', region: 'us-east-1', headers: { 'X-Amz-Date': '20150830T123600Z' } },
      { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
    );
    expect((signed.headers as Record<string, string>).Authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, ' + 'Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('signs a fixed GetItem exactly as an independent computation of its canonical request', () => {
    const client = new DynamoDbHttpClient({ region: 'eu-west-1', endpoint: 'https://dynamodb.eu-west-1.amazonaws.com', credentials: () => CREDENTIALS, now: () => new Date('2026-11-28T10:00:00.123Z') });
    clients.push(client);
    const body = JSON.stringify(GET_ITEM);
    const signed = client.signedRequest('GetItem', body);

    const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
    const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();
    const canonical = [
      'POST',
      '/',
      '',
      `content-length:${Buffer.byteLength(body)}`,
      'content-type:application/x-amz-json-1.0',
      'host:dynamodb.eu-west-1.amazonaws.com',
      'x-amz-date:20261128T100000Z',
      `x-amz-security-token:${CREDENTIALS.sessionToken}`,
      'x-amz-target:DynamoDB_20120810.GetItem',
      '',
      'content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target',
      sha256(body),
    ].join('\n');
    const scope = '20261128/eu-west-1/dynamodb/aws4_request';
    const key = hmac(hmac(hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, '20261128'), 'eu-west-1'), 'dynamodb'), 'aws4_request');
    const signature = createHmac('sha256', key)
      .update(['AWS4-HMAC-SHA256', '20261128T100000Z', scope, sha256(canonical)].join('\n'))
      .digest('hex');

    expect(signed.headers.Authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${scope}, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=${signature}`,
    );
    expect(signed.headers['X-Amz-Security-Token']).toBe(CREDENTIALS.sessionToken);
    expect(signed).toMatchObject({ method: 'POST', hostname: 'dynamodb.eu-west-1.amazonaws.com', path: '/' });
  });

  it("sends what it signed: the request as the server receives it verifies with the SDK's own signer", async () => {
    const server = await scripted([ok({ Item: { pk: { S: 'KEY#0123abcd' } } })]);
    const { client } = clientOf(server);
    await client.send('GetItem', GET_ITEM);
    const [request] = server.captured;
    expect(request).toMatchObject({ method: 'POST', url: '/' });
    expect(request.headers['x-amz-target']).toBe('DynamoDB_20120810.GetItem');
    expect(JSON.parse(request.body)).toEqual(GET_ITEM);

    const { authorization, connection: _c, 'user-agent': _u, ...signable } = request.headers as Record<string, string>;
    const date = signable['x-amz-date'];
    const signingDate = new Date(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const oracle = new SignatureV4({ service: 'dynamodb', region: 'us-east-1', credentials: CREDENTIALS, sha256: NodeSha256, applyChecksum: false });
    const expected = await oracle.sign(
      { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: Number(new URL(server.endpoint).port), path: '/', query: {}, headers: signable, body: request.body },
      { signingDate },
    );
    expect(authorization).toBe(expected.headers.authorization);
    // The port is part of the signed Host, as the server sees it.
    expect(signable.host).toBe(new URL(server.endpoint).host);
  });

  it('sends no security token header without a session token, and signs each attempt afresh', async () => {
    const server = await scripted([awsError(500, 'InternalServerError'), ok()]);
    let second = false;
    const { client } = clientOf(server, {
      credentials: () => ({ accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey }),
      now: () => (second ? new Date('2026-11-28T10:00:05Z') : ((second = true), new Date('2026-11-28T10:00:00Z'))),
    });
    await client.send('GetItem', GET_ITEM);
    expect(server.captured.map((r) => r.headers['x-amz-security-token'])).toEqual([undefined, undefined]);
    expect(server.captured.map((r) => r.headers['x-amz-date'])).toEqual(['20261128T100000Z', '20261128T100005Z']);
    expect(server.captured[0].headers.authorization).not.toBe(server.captured[1].headers.authorization);
  });
});

// ---------------------------------------------------------------------------------------
// configuration

describe('configuration from the environment', () => {
  it('resolves the endpoint as the SDK does: AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then the regional endpoint', () => {
    expect(resolveEndpoint('us-east-1', { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }).href).toBe('http://127.0.0.1:4566/');
    expect(resolveEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }).href).toBe('http://127.0.0.1:5000/');
    expect(resolveEndpoint('eu-central-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', AWS_URL_SUFFIX: 'amazonaws.com' }).href).toBe(
      'https://dynamodb.eu-central-1.amazonaws.com/',
    );
    expect(resolveEndpoint('eu-central-1', { AWS_URL_SUFFIX: 'amazonaws.com' }).href).toBe('https://dynamodb.eu-central-1.amazonaws.com/');
    expect(resolveEndpoint('cn-north-1', { AWS_URL_SUFFIX: 'amazonaws.com.cn' }).href).toBe('https://dynamodb.cn-north-1.amazonaws.com.cn/');
  });

  // Issue 16 item 5: the host was guessed from the region (amazonaws.com, or .com.cn for cn-*),
  // wrong in every ISO partition and in aws-eusc. The stack passes AWS::URLSuffix as
  // AWS_URL_SUFFIX; here each partition's DNS suffix comes from the SDK's partition table, and
  // the host must be the one the SDK's own DynamoDB endpoint rules resolve for the region.
  it.each([
    ['aws', 'us-east-1'],
    ['aws-cn', 'cn-north-1'],
    ['aws-us-gov', 'us-gov-west-1'],
    ['aws-iso', 'us-iso-east-1'],
    ['aws-iso-b', 'us-isob-east-1'],
    ['aws-iso-e', 'eu-isoe-west-1'],
    ['aws-iso-f', 'us-isof-south-1'],
    ['aws-eusc', 'eusc-de-east-1'],
  ])("in %s (%s) builds the host the SDK's endpoint rules resolve, from the configured URL suffix", (partitionName, region) => {
    const { name, dnsSuffix } = partition(region);
    expect(name).toBe(partitionName);
    const sdk = new DynamoDBClient({ region });
    const expected = sdk.config.endpointProvider({ Region: region, UseFIPS: false, UseDualStack: false }).url.href;
    sdk.destroy();
    const client = new DynamoDbHttpClient({ region, urlSuffix: dnsSuffix, credentials: () => CREDENTIALS, env: {} });
    clients.push(client);
    expect(client.endpoint.href).toBe(expected);
    expect(resolveEndpoint(region, { AWS_URL_SUFFIX: dnsSuffix }).href).toBe(expected);
    expect(client.signedRequest('GetItem', '{}').headers.Host).toBe(new URL(expected).host);
  });

  it('never guesses the suffix from the region: without AWS_URL_SUFFIX or an endpoint it refuses by name', () => {
    for (const region of ['us-east-1', 'cn-north-1', 'us-iso-east-1']) {
      expect(() => resolveEndpoint(region, {})).toThrow(DynamoDbConfigError);
      expect(() => new DynamoDbHttpClient({ env: { AWS_REGION: region } })).toThrow(/AWS_URL_SUFFIX is not set/);
    }
    expect(() => resolveEndpoint('us-east-1', { AWS_URL_SUFFIX: 'evil.example/path' })).toThrow(/AWS_URL_SUFFIX must be a DNS suffix/);
    expect(() => resolveEndpoint('us-east-1', { AWS_URL_SUFFIX: 'com' })).toThrow(DynamoDbConfigError);
    expect(new DynamoDbHttpClient({ env: { AWS_REGION: 'us-west-2', AWS_URL_SUFFIX: 'amazonaws.com' } }).endpoint.href).toBe('https://dynamodb.us-west-2.amazonaws.com/');
  });

  it('refuses what it does not resolve or cannot use, with a named error', () => {
    expect(() => resolveEndpoint('us-east-1', { AWS_USE_FIPS_ENDPOINT: 'true' })).toThrow(DynamoDbConfigError);
    expect(() => resolveEndpoint('us-east-1', { AWS_USE_DUALSTACK_ENDPOINT: 'TRUE' })).toThrow(/AWS_ENDPOINT_URL_DYNAMODB/);
    expect(() => resolveEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'ftp://example.com' })).toThrow(DynamoDbConfigError);
    expect(() => resolveEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'not a url' })).toThrow(DynamoDbConfigError);
    expect(() => resolveEndpoint('us-east-1', { AWS_ENDPOINT_URL: 'https://user:pass@example.com' })).toThrow(/credentials/);
    expect(() => new DynamoDbHttpClient({ env: {} })).toThrow(/AWS_REGION is not set/);
    expect(() => new DynamoDbHttpClient({ env: { AWS_REGION: 'us-east-1.evil.example/' } })).toThrow(DynamoDbConfigError);
    expect(new DynamoDbConfigError('x').name).toBe('InvalidDynamoDbConfig');
  });

  it('reads the credentials Lambda passes in the environment, and names what is missing without any value', () => {
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'SECRET', AWS_SESSION_TOKEN: 'TOKEN' })).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'SECRET', sessionToken: 'TOKEN' });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'SECRET' })).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'SECRET' });
    let error: unknown;
    try {
      environmentCredentials({ AWS_ACCESS_KEY_ID: 'AKID-VISIBLE' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DynamoDbConfigError);
    expect(everythingIn(error)).not.toContain('AKID-VISIBLE');
  });

  it('takes its attempts from AWS_MAX_ATTEMPTS, as the SDK does', async () => {
    const server = await scripted([awsError(503, 'ServiceUnavailable')]);
    const env = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'S', AWS_MAX_ATTEMPTS: '2' };
    const client = new DynamoDbHttpClient({ env, sleep: async () => {} });
    clients.push(client);
    expect((await failureOf(client.send('GetItem', GET_ITEM))).$metadata.attempts).toBe(2);
  });

  it('fails a call without credentials before sending anything, and does not retry it', async () => {
    const server = await scripted([ok()]);
    const { client, delays } = clientOf(server, { credentials: () => environmentCredentials({}) });
    await expect(client.send('GetItem', GET_ITEM)).rejects.toBeInstanceOf(DynamoDbConfigError);
    expect(server.captured).toHaveLength(0);
    expect(delays).toEqual([]);
  });

  it('builds from the environment alone (region, endpoint, credentials per request), as the authorizer does', async () => {
    const server = await scripted([ok({ Item: { pk: { S: 'x' } } })]);
    const env = { AWS_REGION: 'us-west-2', AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: 'AKID1', AWS_SECRET_ACCESS_KEY: 'S1' };
    const client = new DynamoDbHttpClient({ env });
    clients.push(client);
    expect(client.region).toBe('us-west-2');
    await client.send('GetItem', GET_ITEM);
    Object.assign(env, { AWS_ACCESS_KEY_ID: 'AKID2', AWS_SESSION_TOKEN: 'T2' });
    await client.send('GetItem', GET_ITEM);
    expect(server.captured.map((r) => /Credential=([^/]+)\/\d+\/([^/]+)\//.exec(String(r.headers.authorization))?.slice(1))).toEqual([
      ['AKID1', 'us-west-2'],
      ['AKID2', 'us-west-2'],
    ]);
    expect(server.captured[1].headers['x-amz-security-token']).toBe('T2');
  });
});

// ---------------------------------------------------------------------------------------
// retries and errors

describe("retries (the SDK DynamoDB client's standard mode: 4 attempts, full jitter, retry quota)", () => {
  it('retries a 5xx and a throttle with full-jitter backoff (25 ms base, 1 s for throttling), then answers', async () => {
    const server = await scripted([awsError(500, 'InternalServerError'), awsError(400, 'ProvisionedThroughputExceededException'), ok({ Item: { pk: { S: 'KEY#1' } } })]);
    const { client, delays } = clientOf(server);
    expect(await client.send('GetItem', GET_ITEM)).toEqual({ Item: { pk: { S: 'KEY#1' } } });
    expect(server.captured).toHaveLength(3);
    // random() = 0.5: retry 0 → 0.5 × 25 × 2⁰ (floored); retry 1 (throttled) → 0.5 × 1000 × 2¹.
    expect(delays).toEqual([12, 1000]);
  });

  it('gives up after 4 attempts with the last error, named after its code, retryable and transient for the caller', async () => {
    const server = await scripted([{ status: 503, body: JSON.stringify({ __type: 'com.amazon.coral.availability#ServiceUnavailableException', message: 'busy' }) }]);
    const { client, delays } = clientOf(server, { random: () => 0.999 });
    const error = await failureOf(client.send('GetItem', GET_ITEM));
    expect(error).toBeInstanceOf(DynamoDbError);
    expect(error).toMatchObject({ name: 'ServiceUnavailableException', message: 'busy', $fault: 'server', $retryable: { throttling: false } });
    expect(error.$metadata).toEqual({ httpStatusCode: 503, requestId: 'req-4', attempts: 4, totalRetryDelay: 24 + 49 + 99 });
    expect(delays).toEqual([24, 49, 99]);
    expect(server.captured).toHaveLength(4);
    expect(isTransient(error)).toBe(true);
  });

  it.each([
    ['ConditionalCheckFailedException', 'The conditional request failed'],
    ['ValidationException', 'One or more parameter values were invalid'],
    ['ResourceNotFoundException', 'Requested resource not found'],
    ['AccessDeniedException', 'not authorized to perform: dynamodb:GetItem'],
  ])('does not retry %s, and keeps its name and message', async (code, message) => {
    const server = await scripted([awsError(400, code, message)]);
    const { client, delays } = clientOf(server);
    const error = await failureOf(client.send('UpdateItem', GET_ITEM));
    expect(error).toMatchObject({ name: code, message, $fault: 'client', $metadata: { httpStatusCode: 400, attempts: 1 } });
    expect(error.$retryable).toBeUndefined();
    expect(isTransient(error)).toBe(false);
    expect(isConditionalCheckFailed(error)).toBe(code === 'ConditionalCheckFailedException');
    expect(server.captured).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('reads the code from the x-amzn-ErrorType header when the body has none', async () => {
    const server = await scripted([{ status: 400, headers: { 'x-amzn-ErrorType': 'ConditionalCheckFailedException:http://internal.amazon.com/coral/com.amazonaws.dynamodb.v20120810/' } }]);
    const { client } = clientOf(server);
    const error = await failureOf(client.send('UpdateItem', GET_ITEM));
    expect(isConditionalCheckFailed(error)).toBe(true);
    expect(error.message).toBe('DynamoDB UpdateItem failed with HTTP 400.');
  });

  it("retries a gateway's non-JSON 502 as UnknownError", async () => {
    const server = await scripted([{ status: 502, body: '<html>Bad Gateway</html>' }, ok()]);
    const { client, delays } = clientOf(server);
    await expect(client.send('GetItem', GET_ITEM)).resolves.toEqual({});
    expect(delays).toHaveLength(1);
    const lone = await scripted([{ status: 502, body: '<html>Bad Gateway</html>' }]);
    const error = await failureOf(clientOf(lone, { maxAttempts: 1 }).client.send('GetItem', GET_ITEM));
    expect(error).toMatchObject({ name: 'UnknownError', $metadata: { httpStatusCode: 502 } });
    expect(isTransient(error)).toBe(true);
  });

  it('retries a dropped connection and an attempt that times out, then answers', async () => {
    const server = await scripted(['drop', 'hang', ok({ Item: {} })]);
    const { client, delays } = clientOf(server, { attemptTimeoutMs: 200 });
    expect(await client.send('GetItem', GET_ITEM)).toEqual({ Item: {} });
    expect(server.captured).toHaveLength(3);
    expect(delays).toEqual([12, 25]);
  });

  it('ends a server that never answers in TimeoutError after the attempts, in bounded time', async () => {
    const server = await scripted(['hang']);
    const { client } = clientOf(server, { attemptTimeoutMs: 100 });
    const started = Date.now();
    const error = await failureOf(client.send('GetItem', GET_ITEM));
    expect(error).toMatchObject({ name: 'TimeoutError', $fault: 'client', $metadata: { attempts: 4 } });
    expect(error.$metadata.httpStatusCode).toBeUndefined();
    expect(isTransient(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('names a connection failure after the socket error', async () => {
    const server = await scripted([ok()]);
    const endpoint = server.endpoint;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const client = new DynamoDbHttpClient({ region: 'us-east-1', endpoint, credentials: () => CREDENTIALS, sleep: async () => {} });
    clients.push(client);
    const error = await failureOf(client.send('GetItem', GET_ITEM));
    expect(error).toMatchObject({ name: 'ECONNREFUSED', $metadata: { attempts: 4 } });
    expect(isTransient(error)).toBe(true);
  });

  it('does not retry a failure of its own making: a header it cannot send, an answer over its size cap', async () => {
    const server = await scripted([ok()]);
    const badToken = clientOf(server, { credentials: () => ({ ...CREDENTIALS, sessionToken: 'line\nbreak' }) }).client;
    const refused = await failureOf(badToken.send('GetItem', GET_ITEM));
    expect(refused).toMatchObject({ name: 'ERR_INVALID_CHAR', $metadata: { attempts: 1 } });
    expect(refused.$retryable).toBeUndefined();
    expect(isTransient(refused)).toBe(false);
    expect(server.captured).toHaveLength(0);
    expect(badToken.retryTokens).toBe(500);
    const huge = await scripted([{ status: 200, body: `{"Item":{"pad":{"S":"${'x'.repeat(17 * 1024 * 1024)}"}}}` }]);
    const capped = await failureOf(clientOf(huge).client.send('GetItem', GET_ITEM));
    expect(capped).toMatchObject({ name: 'EMSGSIZE', $metadata: { attempts: 1 } });
    expect(huge.captured).toHaveLength(1);
  });

  it('keeps none of an authentication answer that echoes the canonical request (token included)', async () => {
    const echo = `The request signature we calculated does not match.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:${CREDENTIALS.sessionToken}'`;
    const server = await scripted([awsError(400, 'InvalidSignatureException', echo)]);
    const error = await failureOf(clientOf(server).client.send('GetItem', GET_ITEM));
    expect(error.name).toBe('InvalidSignatureException');
    expect(everythingIn(error)).not.toContain(CREDENTIALS.sessionToken);
    expect(everythingIn(error)).not.toContain('Canonical String');
    const other = await scripted([awsError(400, 'ValidationException', `one\n\nThe Canonical String ${CREDENTIALS.sessionToken}`)]);
    const validation = await failureOf(clientOf(other).client.send('GetItem', GET_ITEM));
    expect(validation.message).toBe('one');
  });

  it('stops retrying when the retry quota is spent (500 tokens, 14 a retry, 5 after throttling), and refunds on success', async () => {
    const server = await scripted([awsError(503, 'ServiceUnavailable')]);
    const { client } = clientOf(server, { maxAttempts: 1000, random: () => 0 });
    const error = await failureOf(client.send('GetItem', GET_ITEM));
    // 35 retries of 14 tokens; the 10 left buy no 36th.
    expect(error.$metadata.attempts).toBe(36);
    expect(client.retryTokens).toBe(10);
    const throttled = await scripted([awsError(400, 'ThrottlingException')]);
    const { client: throttledClient } = clientOf(throttled, { maxAttempts: 1000, random: () => 0 });
    expect((await failureOf(throttledClient.send('GetItem', GET_ITEM))).$metadata.attempts).toBe(101);
    // An empty quota: the next failure is not retried at all.
    const next = await failureOf(client.send('GetItem', GET_ITEM));
    expect(next.$metadata.attempts).toBe(1);
    const healthy = await scripted([ok()]);
    const recovering = clientOf(healthy).client;
    await recovering.send('GetItem', GET_ITEM);
    expect(recovering.retryTokens).toBe(500);
  });
});

describe("a deadline (the authorizer's remaining invocation time)", () => {
  /** A client whose backoff sleeps advance a virtual clock, and a deadline on that clock. */
  function virtual(server: ScriptedDynamoDb, deadlineMs: number, options: DynamoDbHttpClientOptions = {}) {
    let nowMs = 0;
    const delays: number[] = [];
    const client = new DynamoDbHttpClient({
      region: 'us-east-1',
      endpoint: server.endpoint,
      credentials: () => CREDENTIALS,
      random: () => 0.999,
      sleep: async (ms) => {
        delays.push(ms);
        nowMs += ms;
      },
      ...options,
    });
    clients.push(client);
    return { client, delays, deadline: new Deadline(deadlineMs, () => nowMs) };
  }

  it('takes no backoff that would leave less than minAttemptMs, and throws the last error instead', async () => {
    const server = await scripted([awsError(400, 'ThrottlingException')]);
    const { client, delays, deadline } = virtual(server, 3_000);
    const error = await failureOf(client.send('GetItem', GET_ITEM, deadline));
    // Without a deadline: 4 attempts and 999 + 1998 + 3996 ms of backoff. With 3 s: after the
    // first retry (999 ms) the next backoff (1998 ms) would leave 3 ms.
    expect(delays).toEqual([999]);
    expect(server.captured).toHaveLength(2);
    expect(error).toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 2, totalRetryDelay: 999 } });
    expect(isTransient(error)).toBe(true);
    // The retry not taken was not paid for: one throttled retry (5 tokens), refunded by nothing.
    expect(client.retryTokens).toBe(495);
  });

  it('cuts an attempt short at the deadline', async () => {
    const server = await scripted(['hang']);
    const { client } = clientOf(server, { attemptTimeoutMs: 5_000, minAttemptMs: 50 });
    // A real-time deadline 300 ms away: the hanging attempt is abandoned then, not after 5 s,
    // and no retry follows (less than 50 ms is left).
    const started = Date.now();
    const error = await failureOf(client.send('GetItem', GET_ITEM, new Deadline(Date.now() + 300)));
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(error).toMatchObject({ name: 'TimeoutError', $metadata: { attempts: 1 } });
    expect(server.captured).toHaveLength(1);
  });

  it('starts nothing when less than minAttemptMs is left: TimeoutError, transient, no request', async () => {
    const server = await scripted([ok()]);
    const { client, deadline } = virtual(server, 150);
    const error = await failureOf(client.send('GetItem', GET_ITEM, deadline));
    expect(error).toMatchObject({ name: 'TimeoutError', $retryable: { throttling: false }, $metadata: { attempts: 0 } });
    expect(error.message).toMatch(/150 ms left before the deadline/);
    expect(isTransient(error)).toBe(true);
    expect(server.captured).toHaveLength(0);
  });

  it('without a deadline, retries as before', async () => {
    const server = await scripted([awsError(400, 'ThrottlingException')]);
    const { client, delays } = virtual(server, 0);
    await failureOf(client.send('GetItem', GET_ITEM));
    expect(delays).toEqual([999, 1998, 3996]);
  });
});

describe('connections and secrets', () => {
  it('keeps one connection alive across calls', async () => {
    const server = await scripted([ok()]);
    const { client } = clientOf(server);
    for (let i = 0; i < 5; i++) await client.send('GetItem', GET_ITEM);
    expect(server.captured).toHaveLength(5);
    expect(server.connections).toBe(1);
  });

  it('puts no credential, signature or request body in any error', async () => {
    const failures: unknown[] = [];
    for (const replies of [['drop'], ['hang'], [awsError(400, 'ValidationException', 'bad')], [{ status: 500, body: 'oops' }]] as Reply[][]) {
      const server = await scripted(replies);
      failures.push(await failureOf(clientOf(server, { attemptTimeoutMs: 100 }).client.send('GetItem', GET_ITEM)));
    }
    for (const error of failures) {
      const shown = everythingIn(error);
      for (const secret of SECRETS) expect(shown).not.toContain(secret);
      expect(shown).not.toMatch(/Signature=|AWS4-HMAC-SHA256|KEY#0123abcd/);
    }
  });
});

// ---------------------------------------------------------------------------------------
// attribute values

/** Wire-format attribute values (what DynamoDB's JSON protocol carries). */
const attributeValue: fc.Arbitrary<AttributeValue> = fc.letrec<{ value: AttributeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.string().map((S) => ({ S })),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n })).map((n) => ({ N: String(n) })),
    fc.boolean().map((BOOL) => ({ BOOL })),
    fc.constant({ NULL: true as const }),
    fc.uint8Array({ maxLength: 16 }).map((b) => ({ B: Buffer.from(b).toString('base64') })),
    fc.uniqueArray(fc.string(), { minLength: 1, maxLength: 4 }).map((SS) => ({ SS })),
    fc.uniqueArray(fc.integer(), { minLength: 1, maxLength: 4 }).map((ns) => ({ NS: ns.map(String) })),
    fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }).map((bs) => ({ BS: bs.map((b) => Buffer.from(b).toString('base64')) })),
    fc.array(tie('value'), { maxLength: 4 }).map((L) => ({ L })),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), tie('value'), { maxKeys: 4 }).map((M) => ({ M })),
  ),
})).value;

/** The SDK's form of a wire value: binary decoded from base64, as its JSON deserializer does. */
function sdkForm(value: AttributeValue): unknown {
  if ('B' in value) return { B: new Uint8Array(Buffer.from(value.B, 'base64')) };
  if ('BS' in value) return { BS: value.BS.map((b) => new Uint8Array(Buffer.from(b, 'base64'))) };
  if ('L' in value) return { L: value.L.map(sdkForm) };
  if ('M' in value) return { M: Object.fromEntries(Object.entries(value.M).map(([k, v]) => [k, sdkForm(v)])) };
  return value;
}

describe('attribute values', () => {
  it('reads every item as the SDK document client does (unmarshall, wrapNumbers off), and refuses what it refuses', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), attributeValue, { maxKeys: 6 }), (item) => {
        let expected: unknown;
        try {
          expected = unmarshall((sdkForm({ M: item }) as { M: Parameters<typeof unmarshall>[0] }).M);
        } catch {
          // The SDK refuses it (a non-integer beyond 2^53, e.g. 1e+21): so must the converter.
          expect(() => fromItem(item)).toThrow(UnreadableAttributeError);
          return;
        }
        expect(fromItem(item)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('reads a key item of the KeyRoll table', () => {
    const item = {
      pk: { S: 'KEY#ab' },
      sk: { S: 'KEY' },
      state: { S: 'RETIRING' },
      scopes: { L: [{ S: 'orders:read' }, { S: 'orders:write' }] },
      notAfter: { S: '2026-11-29T10:00:00.000Z' },
    };
    expect(fromItem(item)).toEqual({ pk: 'KEY#ab', sk: 'KEY', state: 'RETIRING', scopes: ['orders:read', 'orders:write'], notAfter: '2026-11-29T10:00:00.000Z' });
  });

  it("refuses a non-integer beyond a double's exact range and an unknown type, without the value", () => {
    expect(() => fromAttributeValue({ N: '12345678901234567890.5' })).toThrow(UnreadableAttributeError);
    expect(() => fromAttributeValue({ N: '12345678901234567890.5' })).not.toThrow(/12345/);
    expect(fromAttributeValue({ N: '12345678901234567890' })).toBe(12345678901234567890n);
    expect(() => fromAttributeValue({ X: 'y' } as unknown as AttributeValue)).toThrow(/Unknown attribute type X/);
  });

  it('writes strings as S values', () => {
    expect(stringAttributes({ pk: 'KEY#1', ':at': '2026-11-28T10:00:00.000Z' })).toEqual({ pk: { S: 'KEY#1' }, ':at': { S: '2026-11-28T10:00:00.000Z' } });
  });
});
