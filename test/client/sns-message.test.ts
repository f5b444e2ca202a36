/**
 * SNS message verification (client/sns-message.ts) with messages signed here as SNS signs them
 * (test/client/sns-fixtures.ts): both signature versions, the three types' strings to sign,
 * and every refusal (tampering, certificate URL and host, topic, age, duplicates, the
 * certificate fetch's size cap and timeout, the bounded cache), each without effect.
 * The same verification against moto's own signatures: sns-webhook.moto.test.ts.
 */
import { ManualClock } from '../../lambdas/core/clock';
import { confirmSnsSubscription, isSnsServiceUrl, SigningCertificates, SnsMessageRejectedError, SnsMessageVerifier, SnsSubscriptionConfirmationError, verifySnsMessage } from '../../client';
import { CERT_URL, confirmation, makeSigningIdentity, notification, RecordingFetch, signSnsMessage, TOPIC_ARN, type SigningIdentity } from './sns-fixtures';

let sns: SigningIdentity;
let impostor: SigningIdentity;
beforeAll(() => {
  sns = makeSigningIdentity();
  impostor = makeSigningIdentity('attacker.example.com');
});

let clock: ManualClock;
let http: RecordingFetch;
beforeEach(() => {
  clock = new ManualClock(Date.now());
  http = new RecordingFetch();
  http.certificates.set(CERT_URL, sns.certificatePem);
});

const notice = { clientId: 'acme', eventType: 'key.rotated', currentKeyId: 'k2' };
const now = () => new Date(clock.nowMs());
const options = () => ({ topicArn: TOPIC_ARN, fetch: http.fetch, clock });

async function rejection(body: unknown, verifier: { verify(body: unknown): Promise<unknown> } = { verify: (b) => verifySnsMessage(b, options()) }): Promise<string> {
  const error = await verifier.verify(body).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SnsMessageRejectedError);
  return (error as SnsMessageRejectedError).reason;
}

describe('verifySnsMessage', () => {
  it.each(['1', '2'] as const)('accepts a Notification signed with SignatureVersion %s, from a string or a parsed body', async (version) => {
    const signed = signSnsMessage(notification(notice, now()), sns, version);
    await expect(verifySnsMessage(JSON.stringify(signed), options())).resolves.toMatchObject({ Type: 'Notification', MessageId: signed.MessageId, Message: signed.Message });
    await expect(verifySnsMessage(signed, options())).resolves.toMatchObject({ SignatureVersion: version });
  });

  it('signs Subject into a Notification, and SubscribeURL and Token into both confirmations', async () => {
    const withSubject = signSnsMessage(notification(notice, now(), { Subject: 'KeyRoll' }), sns);
    await expect(verifySnsMessage(withSubject, options())).resolves.toMatchObject({ Subject: 'KeyRoll' });
    expect(await rejection({ ...withSubject, Subject: 'Other' })).toBe('signature');
    const { Subject: _dropped, ...withoutSubject } = withSubject;
    expect(await rejection(withoutSubject)).toBe('signature');

    for (const type of ['SubscriptionConfirmation', 'UnsubscribeConfirmation']) {
      const signed = signSnsMessage(confirmation(now(), { type }), sns);
      await expect(verifySnsMessage(signed, options())).resolves.toMatchObject({ Type: type });
      expect(await rejection({ ...signed, Token: 'other-token' })).toBe('signature');
      expect(await rejection({ ...signed, SubscribeURL: signed.SubscribeURL.replace('Token=', 'Token=x') })).toBe('signature');
    }
  });

  it("rejects a tampered message, another type, or a signature by a key that is not the certificate's", async () => {
    const signed = signSnsMessage(notification(notice, now()), sns);
    expect(await rejection({ ...signed, Message: JSON.stringify({ ...notice, clientId: 'globex' }) })).toBe('signature');
    expect(await rejection({ ...signed, Type: 'SubscriptionConfirmation' })).toBe('malformed');
    expect(await rejection({ ...signed, SignatureVersion: signed.SignatureVersion === '2' ? '1' : '2' })).toBe('signature');
    const forged = signSnsMessage(notification(notice, now()), impostor);
    expect(await rejection(forged)).toBe('signature');
  });

  it('fetches a certificate only from an https .pem URL on sns.<region>.amazonaws.com[.cn]', async () => {
    const hostile = [
      'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem',
      'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-0123.pem',
      'https://attacker.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem',
      'https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-0123.pem',
      'https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem?redirect=https://attacker.example',
      'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.txt',
      'https://s3.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem',
      'https://sns.amazonaws.com/SimpleNotificationService-0123.pem',
    ];
    for (const url of hostile) {
      http.certificates.set(url, sns.certificatePem);
      expect({ url, reason: await rejection(signSnsMessage(notification(notice, now()), sns, '2', url)) }).toEqual({ url, reason: 'certificate-url' });
    }
    expect(http.calls).toEqual([]);
    for (const url of ['https://sns.eu-west-1.amazonaws.com/x.pem', 'https://sns.cn-north-1.amazonaws.com.cn/x.pem', 'https://sns.us-gov-west-1.amazonaws.com/x.pem']) {
      expect({ url, ok: isSnsServiceUrl(url) }).toEqual({ url, ok: true });
    }
  });

  it('rejects a certificate not issued to sns.amazonaws.com, one it cannot fetch, and one past its validity', async () => {
    const other = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-impostor.pem';
    http.certificates.set(other, impostor.certificatePem);
    expect(await rejection(signSnsMessage(notification(notice, now()), impostor, '2', other))).toBe('certificate');
    expect(await rejection(signSnsMessage(notification(notice, now()), sns, '2', 'https://sns.us-east-1.amazonaws.com/missing.pem'))).toBe('certificate');

    // Three days on, the two-day certificate has expired (the message itself is fresh).
    clock.advance(3 * 86_400_000);
    expect(await rejection(signSnsMessage(notification(notice, now()), sns))).toBe('certificate');
  });

  it('rejects a validly signed message from another topic, a stale one and one from the future', async () => {
    const otherTopic = signSnsMessage(notification(notice, now(), { TopicArn: 'arn:aws:sns:us-east-1:123456789012:other' }), sns);
    expect(await rejection(otherTopic)).toBe('topic');
    const old = signSnsMessage(notification(notice, new Date(clock.nowMs() - 3_600_001)), sns);
    expect(await rejection(old)).toBe('stale');
    await expect(verifySnsMessage(old, { ...options(), maxMessageAgeMs: 7_200_000 })).resolves.toBeDefined();
    const future = signSnsMessage(notification(notice, new Date(clock.nowMs() + 300_001)), sns);
    expect(await rejection(future)).toBe('stale');
  });

  it('rejects bodies that are not SNS messages, naming the field but never echoing it', async () => {
    expect(await rejection('not json')).toBe('malformed');
    expect(await rejection('[]')).toBe('malformed');
    expect(await rejection({ Type: 'Notification' })).toBe('malformed');
    const signed = signSnsMessage(notification(notice, now()), sns);
    const error = await verifySnsMessage({ ...signed, MessageId: 42 }, options()).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SnsMessageRejected', reason: 'malformed', message: expect.stringContaining('MessageId') });
    expect(await rejection({ ...signed, SignatureVersion: '3' })).toBe('malformed');
    // Names an Object.prototype member: still a named rejection, not a TypeError.
    for (const Type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(await rejection({ ...signed, Type })).toBe('malformed');
  });

  it('accepts a SubscriptionConfirmation for as long as its token is valid (three days), a Notification for an hour', async () => {
    const late = signSnsMessage(confirmation(new Date(clock.nowMs() - 2 * 3_600_000)), sns);
    await expect(verifySnsMessage(late, options())).resolves.toMatchObject({ Type: 'SubscriptionConfirmation' });
    expect(await rejection(signSnsMessage(confirmation(new Date(clock.nowMs() - 3 * 86_400_000 - 1)), sns))).toBe('stale');
  });
});

describe('SigningCertificates', () => {
  it('fetches each certificate once, with no redirects, and keeps at most maxEntries', async () => {
    const seen: RequestInit[] = [];
    const certificates = new SigningCertificates({ fetch: (url, init) => (seen.push(init!), http.fetch(url, init)), maxEntries: 2, clock });
    const urls = ['a', 'b', 'c'].map((name) => `https://sns.us-east-1.amazonaws.com/SimpleNotificationService-${name}.pem`);
    for (const url of urls) http.certificates.set(url, sns.certificatePem);
    await Promise.all([certificates.get(urls[0]), certificates.get(urls[0])]);
    await certificates.get(urls[1]);
    await certificates.get(urls[0]);
    await certificates.get(urls[2]);
    expect(certificates.size).toBe(2);
    await certificates.get(urls[0]);
    // urls[1] was the least recently used and was evicted; urls[0] stayed cached.
    await certificates.get(urls[1]);
    expect(http.certificateCalls).toEqual([urls[0], urls[1], urls[2], urls[1]]);
    expect(seen.every((init) => init.redirect === 'error' && init.signal instanceof AbortSignal)).toBe(true);
  });

  it('refuses a certificate over maxBytes and gives up on a host that never answers', async () => {
    const big = new SigningCertificates({ fetch: async () => new Response('x'.repeat(20_000), { status: 200 }), maxBytes: 16_384 });
    await expect(big.get(CERT_URL)).rejects.toMatchObject({ reason: 'certificate' });
    const hanging = new SigningCertificates({
      fetch: (_url, init) => new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason as Error))),
      timeoutMs: 50,
    });
    await expect(hanging.get(CERT_URL)).rejects.toMatchObject({ reason: 'certificate', message: expect.stringContaining('TimeoutError') });
    expect(hanging.size).toBe(0);
  });
});

describe('SnsMessageVerifier', () => {
  it('accepts a MessageId once, forgets the oldest beyond its bound, and accepts again after release()', async () => {
    const verifier = new SnsMessageVerifier({ ...options(), maxRememberedMessages: 2 });
    const first = signSnsMessage(notification(notice, now()), sns);
    await verifier.verify(first);
    expect(await rejection(first, verifier)).toBe('duplicate');
    verifier.release(first.MessageId);
    await expect(verifier.verify(first)).resolves.toBeDefined();
    await verifier.verify(signSnsMessage(notification(notice, now()), sns));
    await verifier.verify(signSnsMessage(notification(notice, now()), sns));
    // Bounded: the first id was forgotten.
    await expect(verifier.verify(first)).resolves.toBeDefined();
    expect(http.certificateCalls).toHaveLength(1);
  });
});

describe('confirmSnsSubscription', () => {
  it('GETs the SubscribeURL of a verified confirmation, and only an SNS ConfirmSubscription URL for the same topic', async () => {
    const message = await verifySnsMessage(signSnsMessage(confirmation(now()), sns), options());
    await confirmSnsSubscription(message, { fetch: http.fetch });
    expect(http.calls.at(-1)).toEqual({ url: message.SubscribeURL, method: 'GET' });

    const elsewhere = [
      'https://attacker.example/?Action=ConfirmSubscription&TopicArn=' + encodeURIComponent(TOPIC_ARN),
      'http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=' + encodeURIComponent(TOPIC_ARN),
      'https://sns.us-east-1.amazonaws.com/?Action=Publish&TopicArn=' + encodeURIComponent(TOPIC_ARN),
      'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:other',
    ];
    const before = http.calls.length;
    for (const subscribeUrl of elsewhere) {
      await expect(confirmSnsSubscription({ ...message, SubscribeURL: subscribeUrl }, { fetch: http.fetch })).rejects.toBeInstanceOf(SnsSubscriptionConfirmationError);
    }
    expect(http.calls).toHaveLength(before);

    http.confirmStatus = 403;
    await expect(confirmSnsSubscription(message, { fetch: http.fetch })).rejects.toThrow(/HTTP 403/);
  });
});
