/**
 * SNS-signed messages for the client SDK's tests (not a test file itself): a self-signed signing
 * certificate made with the openssl CLI (Node cannot issue X.509 certificates), messages signed
 * exactly as SNS signs them (SignatureVersion 1 or 2), and a fetch that serves the certificate
 * at its SigningCertURL and records every URL asked for.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createSign, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snsStringToSign } from '../../client/sns-message';

export const REGION = 'us-east-1';
export const TOPIC_ARN = 'arn:aws:sns:us-east-1:123456789012:keyroll-clients';
export const CERT_URL = `https://sns.${REGION}.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem`;

/** A signing key and its certificate (PEM). */
export interface SigningIdentity {
  readonly privateKey: KeyObject;
  readonly certificatePem: string;
}

/** A fresh RSA key and a self-signed certificate for `commonName`, valid for `days` from now. */
export function makeSigningIdentity(commonName = 'sns.amazonaws.com', days = 2): SigningIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'keyroll-sns-cert-'));
  try {
    const result = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', String(days), '-subj', `/CN=${commonName}`], {
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
    return { privateKey: createPrivateKey(readFileSync(join(dir, 'key.pem'))), certificatePem: readFileSync(join(dir, 'cert.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Signs `fields` as SNS does, adding Signature, SignatureVersion and SigningCertURL. */
export function signSnsMessage(fields: Record<string, string>, identity: SigningIdentity, version: '1' | '2' = '2', certUrl = CERT_URL): Record<string, string> {
  const message = { ...fields, SignatureVersion: version, SigningCertURL: certUrl };
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(message), 'utf8')
    .sign(identity.privateKey, 'base64');
  return { ...message, Signature: signature };
}

/** A KeyRoll notice as SNS delivers it over HTTP (raw delivery off: the notice is `Message`). */
export function notification(notice: Record<string, unknown>, at: Date, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Type: 'Notification',
    MessageId: randomUUID(),
    TopicArn: TOPIC_ARN,
    Message: JSON.stringify(notice),
    Timestamp: at.toISOString(),
    UnsubscribeURL: `https://sns.${REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC_ARN}:sub`,
    ...extra,
  };
}

/** A SubscriptionConfirmation (or UnsubscribeConfirmation) for `topicArn`. */
export function confirmation(at: Date, options: { type?: string; topicArn?: string; subscribeUrl?: string } = {}): Record<string, string> {
  const topicArn = options.topicArn ?? TOPIC_ARN;
  return {
    Type: options.type ?? 'SubscriptionConfirmation',
    MessageId: randomUUID(),
    Token: 'token-2336412f37fb687f5d51e6e2425c464de12884',
    TopicArn: topicArn,
    Message: `You have chosen to subscribe to the topic ${topicArn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
    SubscribeURL: options.subscribeUrl ?? `https://sns.${REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topicArn)}&Token=token-2336412f37fb687f5d51e6e2425c464de12884`,
    Timestamp: at.toISOString(),
  };
}

/** A fetch serving `certificates` by URL (404 otherwise), 200 for ConfirmSubscription URLs, recording each call. */
export class RecordingFetch {
  readonly calls: { url: string; method: string }[] = [];
  readonly certificates = new Map<string, string>();
  confirmStatus = 200;

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    this.calls.push({ url, method: init?.method ?? 'GET' });
    if (url.includes('Action=ConfirmSubscription')) return new Response('<ConfirmSubscriptionResponse/>', { status: this.confirmStatus });
    const pem = this.certificates.get(url);
    return pem === undefined ? new Response('not found', { status: 404 }) : new Response(pem, { status: 200 });
  };

  /** The calls to certificate URLs. */
  get certificateCalls(): string[] {
    return this.calls.map((c) => c.url).filter((url) => url.endsWith('.pem'));
  }
}
