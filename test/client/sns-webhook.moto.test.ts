/**
 * The webhook and the verifier against messages moto really signs: moto 5.2.1 POSTs an HTTP
 * subscription's notifications signed with an RSA key (SignatureVersion 2) and serves the
 * certificate at `https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem`
 * (moto/sns/models.py `get_post_data`; moto/sns/urls.py `serve_pem`, routed by the Host header).
 *
 * moto delivers during the Publish call and waits for the endpoint's answer, while the tests'
 * moto endpoint is a proxy that passes one request at a time (local/serializing-proxy.ts): a
 * certificate fetch made while answering moto would wait behind that Publish for ever. So the
 * endpoint moto posts to records the request and answers 200, and the test then replays that
 * exact request (headers and body) to the webhook's node:http server, whose certificate fetch
 * goes to moto through the proxy with the SNS host in the Host header.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyProvider, SnsMessageVerifier, verifySnsMessage, type FetchLike, type KeyRead, type KeySource } from '../../client';
import { createSnsWebhookHandler, nodeHttpListener } from '../../client/webhook';
import { uniqueName } from '../support/fixtures';
import { newSecretValue, RecordingLogger } from './helpers';

const sns = new SNSClient({});

/**
 * moto_server picks a backend from a request's SigV4 credential scope, not its Host header; an
 * unsigned GET of the .pem would land in S3. This header names SNS in that region (moto does not
 * check the signature); SNS itself needs nothing of the kind.
 */
function motoRouting(host: string): string {
  const region = host.split('.')[1];
  return `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/sns/aws4_request, SignedHeaders=host, Signature=0`;
}

/** Fetches `https://sns.<region>.amazonaws.com/<path>` from moto (through the tests' endpoint), with that host in the Host header. */
function motoSnsFetch(calls: string[]): FetchLike {
  const endpoint = new URL(process.env.AWS_ENDPOINT_URL!);
  return (input) => {
    const url = new URL(String(input));
    calls.push(url.href);
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        { host: endpoint.hostname, port: endpoint.port, path: url.pathname + url.search, method: 'GET', headers: { host: url.host, authorization: motoRouting(url.hostname) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: response.statusCode ?? 500 })));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  };
}

/** An HTTP endpoint that records what moto POSTs and answers 200. */
class Recorder {
  readonly requests: { headers: IncomingHttpHeaders; body: string }[] = [];
  server: Server | undefined;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.requests.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
        response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/sns`;
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

class CountingSource implements KeySource {
  readonly kind = 'test';
  readonly id = 'counting';
  reads = 0;
  value = newSecretValue();
  async read(): Promise<KeyRead> {
    this.reads += 1;
    await Promise.resolve();
    return this.value;
  }
}

let recorder: Recorder;
let webhook: Server | undefined;
beforeEach(async () => {
  recorder = new Recorder();
  await recorder.start();
});
afterEach(async () => {
  await recorder.stop();
  if (webhook) {
    webhook.closeAllConnections();
    await new Promise<void>((resolve) => webhook!.close(() => resolve()));
    webhook = undefined;
  }
});

/** A moto topic with the recorder subscribed over HTTP; publishes `notice` and returns what moto POSTed. */
async function publishThroughMoto(notice: Record<string, string>): Promise<{ topicArn: string; headers: IncomingHttpHeaders; body: string }> {
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: uniqueName('clients') }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: recorder.url }));
  await sns.send(
    new PublishCommand({
      TopicArn,
      Message: JSON.stringify(notice),
      MessageAttributes: { clientId: { DataType: 'String', StringValue: notice.clientId }, eventType: { DataType: 'String', StringValue: notice.eventType } },
    }),
  );
  expect(recorder.requests).toHaveLength(1);
  return { topicArn: TopicArn!, ...recorder.requests[0] };
}

/** POSTs `body` with moto's headers to the webhook at `url`; returns the status. */
async function replay(url: string, headers: IncomingHttpHeaders, body: string): Promise<number> {
  const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
  const response = await fetch(url, { method: 'POST', headers: forwarded, body });
  await response.arrayBuffer();
  return response.status;
}

describe('SNS HTTP delivery signed by moto', () => {
  it("the webhook verifies moto's signature with the certificate moto serves, and refreshes the provider once", async () => {
    const source = new CountingSource();
    const logger = new RecordingLogger();
    const provider = new KeyProvider({ clientId: 'acme', source, logger });
    await provider.getKey();
    source.value = newSecretValue();
    const { topicArn, headers, body } = await publishThroughMoto({ clientId: 'acme', eventType: 'key.rotated', currentKeyId: source.value.keyId });
    expect(JSON.parse(body)).toMatchObject({
      Type: 'Notification',
      SignatureVersion: '2',
      SigningCertURL: expect.stringMatching(/^https:\/\/sns\.us-east-1\.amazonaws\.com\/SimpleNotificationService-\w+\.pem$/),
    });

    const certificateCalls: string[] = [];
    const handler = createSnsWebhookHandler({ topicArn, provider, fetch: motoSnsFetch(certificateCalls), logger });
    webhook = createServer(nodeHttpListener(handler));
    await new Promise<void>((resolve) => webhook!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/keyroll`;

    expect(await replay(url, headers, body)).toBe(200);
    expect(source.reads).toBe(2);
    expect(provider.currentKeyId()).toBe(source.value.keyId);
    expect(certificateCalls).toEqual([JSON.parse(body).SigningCertURL]);
    // The same delivery again (a retry or a replay) acts once.
    expect(await replay(url, headers, body)).toBe(200);
    expect(source.reads).toBe(2);
    expect(logger.warnings).toEqual([]);
  });

  it('a tampered message, a certificate URL moved off SNS or to http, another topic and a stale timestamp are refused with no effect', async () => {
    const { topicArn, body } = await publishThroughMoto({ clientId: 'acme', eventType: 'key.rotated', currentKeyId: 'k_next' });
    const message = JSON.parse(body) as Record<string, string>;
    const calls: string[] = [];
    const base = { topicArn, fetch: motoSnsFetch(calls) };
    await expect(verifySnsMessage(body, base)).resolves.toMatchObject({ TopicArn: topicArn });

    const reasons = async (candidate: unknown, options = base) =>
      verifySnsMessage(candidate, options).then(
        () => 'accepted',
        (error: { reason?: string }) => error.reason,
      );
    const outcomes = {
      tampered: await reasons({ ...message, Message: message.Message.replace('key.rotated', 'key.emergency') }),
      certOffSns: await reasons({ ...message, SigningCertURL: message.SigningCertURL.replace('sns.us-east-1.amazonaws.com', 'sns.us-east-1.amazonaws.com.attacker.example') }),
      certOverHttp: await reasons({ ...message, SigningCertURL: message.SigningCertURL.replace('https:', 'http:') }),
      otherTopic: await reasons(body, { ...base, topicArn: `${topicArn}-other` }),
      stale: await reasons(body, { ...base, clock: new ManualClock(Date.parse(message.Timestamp) + 2 * 3_600_000), maxMessageAgeMs: 3_600_000 } as typeof base),
    };
    expect(outcomes).toEqual({ tampered: 'signature', certOffSns: 'certificate-url', certOverHttp: 'certificate-url', otherTopic: 'topic', stale: 'stale' });
    // Only moto's own certificate URL was ever fetched.
    expect(new Set(calls)).toEqual(new Set([message.SigningCertURL]));

    // A verifier remembers the MessageId.
    const verifier = new SnsMessageVerifier(base);
    await verifier.verify(body);
    await expect(verifier.verify(body)).rejects.toMatchObject({ reason: 'duplicate' });
  });
});
