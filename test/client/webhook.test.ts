/**
 * The SNS HTTPS webhook (client/webhook.ts), through its node:http adapter on loopback, with
 * messages signed here as SNS signs them: confirmation, notices for this and another client,
 * unsubscribe, and every refusal answered with a status and no effect on the provider.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../lambdas/core/clock';
import { KeyProvider, type KeyRead, type KeySource } from '../../client';
import { createSnsWebhookHandler, nodeHttpListener } from '../../client/webhook';
import { newSecretValue, RecordingLogger } from './helpers';
import { CERT_URL, confirmation, makeSigningIdentity, notification, RecordingFetch, signSnsMessage, TOPIC_ARN, type SigningIdentity } from './sns-fixtures';

/** A key source whose value the test sets, counting reads. */
class CountingSource implements KeySource {
  readonly kind = 'test';
  readonly id = 'counting';
  reads = 0;
  value = newSecretValue();
  failure: Error | undefined;
  async read(): Promise<KeyRead> {
    this.reads += 1;
    await Promise.resolve();
    if (this.failure) throw this.failure;
    return this.value;
  }
}

let sns: SigningIdentity;
beforeAll(() => {
  sns = makeSigningIdentity();
});

let clock: ManualClock;
let http: RecordingFetch;
let source: CountingSource;
let logger: RecordingLogger;
let server: Server;
let url: string;

beforeEach(async () => {
  clock = new ManualClock(Date.now());
  http = new RecordingFetch();
  http.certificates.set(CERT_URL, sns.certificatePem);
  source = new CountingSource();
  logger = new RecordingLogger();
  const provider = new KeyProvider({ clientId: 'acme', source, clock, logger });
  await provider.getKey();
  const handler = createSnsWebhookHandler({ topicArn: TOPIC_ARN, provider, fetch: http.fetch, clock, logger });
  server = createServer(nodeHttpListener(handler, { maxBodyBytes: 64 * 1024 }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keyroll`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** POSTs `message` as SNS does (text/plain JSON, the type header); returns the status. */
async function post(message: unknown, type = (message as { Type?: string }).Type): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'text/plain; charset=UTF-8', ...(type ? { 'x-amz-sns-message-type': type } : {}) },
    body: typeof message === 'string' ? message : JSON.stringify(message),
  });
  await response.arrayBuffer();
  return response.status;
}

const now = () => new Date(clock.nowMs());
const rotated = (clientId = 'acme') => ({ clientId, eventType: 'key.rotated', currentKeyId: source.value.keyId, eventId: 'e1' });

describe('createSnsWebhookHandler over node:http', () => {
  it('confirms a verified SubscriptionConfirmation by GETting its SubscribeURL', async () => {
    const signed = signSnsMessage(confirmation(now()), sns);
    expect(await post(signed)).toBe(200);
    expect(http.calls.filter((c) => c.url === signed.SubscribeURL)).toEqual([{ url: signed.SubscribeURL, method: 'GET' }]);
  });

  it('does not visit a SubscribeURL off sns.<region>.amazonaws.com even when signed, and answers 502', async () => {
    const signed = signSnsMessage(confirmation(now(), { subscribeUrl: `https://attacker.example/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(TOPIC_ARN)}` }), sns);
    expect(await post(signed)).toBe(502);
    expect(http.calls.map((c) => c.url)).toEqual([CERT_URL]);
  });

  it('refreshes on a key.rotated notice for this client; a redelivery of the same MessageId acts once', async () => {
    source.value = newSecretValue();
    const signed = signSnsMessage(notification(rotated(), now()), sns);
    expect(await post(signed)).toBe(200);
    expect(source.reads).toBe(2);
    expect(await post(signed)).toBe(200);
    expect(source.reads).toBe(2);
  });

  it('logs and ignores a notice for another client', async () => {
    expect(await post(signSnsMessage(notification(rotated('globex'), now()), sns))).toBe(200);
    expect(source.reads).toBe(1);
    expect(logger.warnings.map((w) => w.message)).toEqual([expect.stringContaining('another client')]);
  });

  it("answers 500 when the refresh fails, and acts on SNS's retry of the same message", async () => {
    source.value = newSecretValue();
    source.failure = Object.assign(new Error('down'), { name: 'ServiceUnavailable' });
    const signed = signSnsMessage(notification(rotated(), now()), sns);
    expect(await post(signed)).toBe(500);
    expect(source.reads).toBe(2);
    source.failure = undefined;
    expect(await post(signed)).toBe(200);
    expect(source.reads).toBe(3);
  });

  it('logs an UnsubscribeConfirmation and does nothing else', async () => {
    expect(await post(signSnsMessage(confirmation(now(), { type: 'UnsubscribeConfirmation' }), sns))).toBe(200);
    expect(http.calls.map((c) => c.url)).toEqual([CERT_URL]);
    expect(logger.calls.map((c) => c.message)).toContainEqual(expect.stringContaining('unsubscribed'));
  });

  it('refuses tampered, mis-hosted, wrong-topic, stale and malformed messages with no effect', async () => {
    const good = () => signSnsMessage(notification(rotated(), now()), sns);
    const statuses = {
      tampered: await post({ ...good(), Message: JSON.stringify({ ...rotated(), eventType: 'key.emergency' }) }),
      httpCertUrl: await post(signSnsMessage(notification(rotated(), now()), sns, '2', CERT_URL.replace('https:', 'http:'))),
      otherCertHost: await post(signSnsMessage(notification(rotated(), now()), sns, '2', 'https://attacker.example/SimpleNotificationService-1.pem')),
      otherTopic: await post(signSnsMessage(notification(rotated(), now(), { TopicArn: `${TOPIC_ARN}-other` }), sns)),
      stale: await post(signSnsMessage(notification(rotated(), new Date(clock.nowMs() - 2 * 3_600_000)), sns)),
      malformed: await post('{"Type":"Notification"'),
      typeHeaderDisagrees: await post(good(), 'SubscriptionConfirmation'),
    };
    expect(statuses).toEqual({ tampered: 403, httpCertUrl: 403, otherCertHost: 403, otherTopic: 403, stale: 403, malformed: 400, typeHeaderDisagrees: 400 });
    expect(source.reads).toBe(1);
    expect(http.certificateCalls.every((u) => u === CERT_URL)).toBe(true);
  });

  it('answers 405 to anything but POST and 413 to an oversized body', async () => {
    expect((await fetch(url)).status).toBe(405);
    expect(await post('x'.repeat(65 * 1024))).toBe(413);
    expect(source.reads).toBe(1);
  });
});
