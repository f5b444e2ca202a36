/**
 * The webhook and the verifier against messages moto really signs: moto 5.2.1 POSTs an HTTP
 * subscription's messages signed with an RSA key (SignatureVersion 2) and serves the
 * certificate at `https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem`
 * (moto/sns/models.py `get_post_data`; moto/sns/urls.py `serve_pem`, routed by the Host header).
 *
 * As on AWS, the test emulator's SNS holds an http subscription pending until the endpoint
 * confirms it (local/moto-patches/sitecustomize.py, sns-subscription-confirmation): the first
 * message is a SubscriptionConfirmation, which the webhook under test confirms by visiting its
 * SubscribeURL, and only then are notices delivered. moto posts from a thread after the request
 * that caused the message has answered (sns-http-delivery), so the webhook's certificate fetch and
 * SubscribeURL visit, which go to moto through the tests' serialising proxy with the SNS host in
 * the Host header, do not wait behind that request.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfirmSubscriptionCommand, CreateTopicCommand, GetSubscriptionAttributesCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
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

/** What moto POSTed to the endpoint, and the status the endpoint answered. */
interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

type Listener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * The HTTP endpoint moto posts to: each request is answered by `listener` (the webhook under
 * test, or 200 when there is none yet) and recorded once its answer has been sent.
 */
class Endpoint {
  readonly deliveries: Delivery[] = [];
  listener: Listener | undefined;
  private server: Server | undefined;
  private waiters: (() => void)[] = [];
  url = '';
  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      // Recorded alongside the listener, which reads the same body.
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('finish', () => {
        this.deliveries.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status: response.statusCode });
        for (const wake of this.waiters.splice(0)) wake();
      });
      if (this.listener) this.listener(request, response);
      else request.on('end', () => response.writeHead(200).end());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/keyroll`;
  }
  /** The first delivery of SNS message type `type`, once answered. */
  async next(type: string): Promise<Delivery> {
    for (;;) {
      const found = this.deliveries.find((d) => d.headers['x-amz-sns-message-type'] === type);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
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

let endpoint: Endpoint;
beforeEach(async () => {
  endpoint = new Endpoint();
  await endpoint.start();
});
afterEach(() => endpoint.stop());

const CERT_URL = /^https:\/\/sns\.us-east-1\.amazonaws\.com\/SimpleNotificationService-\w+\.pem$/;

const newTopic = async (): Promise<string> => (await sns.send(new CreateTopicCommand({ Name: uniqueName('clients') }))).TopicArn!;

/** Subscribes the endpoint over HTTP, as KeyRoll's delivery function does (ReturnSubscriptionArn), and returns the subscription's ARN. */
async function subscribeEndpoint(topicArn: string): Promise<string> {
  const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'http', Endpoint: endpoint.url, ReturnSubscriptionArn: true }));
  return SubscriptionArn!;
}

const pendingConfirmation = async (SubscriptionArn: string): Promise<string | undefined> => (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes?.PendingConfirmation;

/** Publishes `notice` as KeyRoll's client notifier does (the `clientId` and `eventType` attributes). */
async function publish(topicArn: string, notice: Record<string, string>): Promise<void> {
  await sns.send(
    new PublishCommand({
      TopicArn: topicArn,
      Message: JSON.stringify(notice),
      MessageAttributes: { clientId: { DataType: 'String', StringValue: notice.clientId }, eventType: { DataType: 'String', StringValue: notice.eventType } },
    }),
  );
}

/** POSTs `body` with moto's headers to the webhook at `url`; returns the status. */
async function replay(url: string, headers: IncomingHttpHeaders, body: string): Promise<number> {
  const forwarded = Object.fromEntries(Object.entries(headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name))) as Record<string, string>;
  const response = await fetch(url, { method: 'POST', headers: forwarded, body });
  await response.arrayBuffer();
  return response.status;
}

describe('SNS HTTP delivery signed by moto', () => {
  it("the webhook confirms its subscription, then verifies moto's signature with the certificate moto serves, and refreshes the provider once", async () => {
    const source = new CountingSource();
    const logger = new RecordingLogger();
    const provider = new KeyProvider({ clientId: 'acme', source, logger });
    await provider.getKey();
    source.value = newSecretValue();
    const topicArn = await newTopic();
    const snsCalls: string[] = [];
    endpoint.listener = nodeHttpListener(createSnsWebhookHandler({ topicArn, provider, fetch: motoSnsFetch(snsCalls), logger }));

    const subscriptionArn = await subscribeEndpoint(topicArn);
    const confirmation = await endpoint.next('SubscriptionConfirmation');
    const confirmationMessage = JSON.parse(confirmation.body) as Record<string, string>;
    expect(confirmationMessage).toMatchObject({ Type: 'SubscriptionConfirmation', TopicArn: topicArn, SignatureVersion: '2', SigningCertURL: expect.stringMatching(CERT_URL) });
    expect(confirmation.status).toBe(200);
    // The webhook verified the confirmation, then visited its SubscribeURL: SNS holds it confirmed.
    expect(snsCalls).toEqual([confirmationMessage.SigningCertURL, confirmationMessage.SubscribeURL]);
    expect(await pendingConfirmation(subscriptionArn)).toBe('false');
    expect(source.reads).toBe(1);

    await publish(topicArn, { clientId: 'acme', eventType: 'key.rotated', currentKeyId: source.value.keyId });
    const notification = await endpoint.next('Notification');
    expect(JSON.parse(notification.body)).toMatchObject({ Type: 'Notification', TopicArn: topicArn, SignatureVersion: '2', SigningCertURL: expect.stringMatching(CERT_URL) });
    expect(notification.headers['x-amz-sns-subscription-arn']).toBe(subscriptionArn);
    expect(notification.status).toBe(200);
    expect(source.reads).toBe(2);
    expect(provider.currentKeyId()).toBe(source.value.keyId);
    // The same delivery again (a retry or a replay) acts once.
    expect(await replay(endpoint.url, notification.headers, notification.body)).toBe(200);
    expect(source.reads).toBe(2);
    expect(logger.warnings).toEqual([]);
  });

  it('a tampered message, a certificate URL moved off SNS or to http, another topic and a stale timestamp are refused with no effect', async () => {
    // A notification as moto signs it, to an endpoint confirmed with the token (ConfirmSubscription).
    const topicArn = await newTopic();
    await subscribeEndpoint(topicArn);
    const { Token } = JSON.parse((await endpoint.next('SubscriptionConfirmation')).body) as { Token: string };
    await sns.send(new ConfirmSubscriptionCommand({ TopicArn: topicArn, Token }));
    await publish(topicArn, { clientId: 'acme', eventType: 'key.rotated', currentKeyId: 'k_next' });
    const { body } = await endpoint.next('Notification');
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
