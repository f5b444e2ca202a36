/**
 * The test emulator's SNS holds a subscription pending until it is confirmed, as AWS does, where
 * moto 5.2.1 confirmed every subscription at once (local/moto-patches/sitecustomize.py, the sns-*
 * patches). Each case cites the documentation it follows. Webhooks are real https endpoints
 * (local/https-endpoint.ts) with a certificate of the run's CA, which moto alone trusts.
 */
import { createPublicKey, createVerify, X509Certificate } from 'node:crypto';
import { ConfirmSubscriptionCommand, CreateTopicCommand, GetSubscriptionAttributesCommand, ListSubscriptionsByTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { localSnsUrl } from '../../local/sns-local-urls';
import { startHttpsEndpoint, type HttpsEndpoint, type ReceivedRequest } from '../../local/https-endpoint';
import { assumeRoleIn, CLIENT_ACCOUNT, HOME_ACCOUNT, type EmulatedIdentity } from '../../local/emulated-accounts';
import { uniqueName } from '../support/fixtures';

const HTTP_CONFIRM_DOC = 'https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html';
const EMAIL_DOC = 'https://docs.aws.amazon.com/sns/latest/dg/sns-email-notifications.html';
const CROSS_ACCOUNT_SQS_DOC = 'https://docs.aws.amazon.com/sns/latest/dg/sns-send-message-to-sqs-cross-account.html';
const SUBSCRIBE_DOC = 'https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html';
const CONFIRM_DOC = 'https://docs.aws.amazon.com/sns/latest/api/API_ConfirmSubscription.html';
const SIGNATURE_DOC = 'https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html';
const HEADERS_DOC = 'https://docs.aws.amazon.com/sns/latest/dg/http-header.html';

const sns = new SNSClient({ maxAttempts: 1 });
const sqs = new SQSClient({ maxAttempts: 1 });

/** The fields SNS signs, in order, per message type (SIGNATURE_DOC). */
const SIGNED_FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** Verifies an SNS message as a client must (SIGNATURE_DOC), with the certificate moto serves at SigningCertURL. */
async function verifiesSignature(message: Record<string, string>): Promise<boolean> {
  expect(message.SigningCertURL).toMatch(/^https:\/\/sns\.us-east-1\.amazonaws\.com\/SimpleNotificationService-[0-9a-f]+\.pem$/);
  const pem = await (await fetch(localSnsUrl(message.SigningCertURL))).text();
  const key = createPublicKey(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'pem' }));
  const text = SIGNED_FIELDS[message.Type]
    .filter((name) => message[name] !== undefined)
    .map((name) => `${name}\n${message[name]}\n`)
    .join('');
  return createVerify(message.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1')
    .update(text)
    .verify(key, message.Signature, 'base64');
}

const parsed = (request: ReceivedRequest): Record<string, string> => JSON.parse(request.body) as Record<string, string>;
const ofType = (type: string) => (r: ReceivedRequest) => r.headers['x-amz-sns-message-type'] === type;

async function topic(): Promise<string> {
  return (await sns.send(new CreateTopicCommand({ Name: uniqueName('confirm') }))).TopicArn!;
}

async function attributes(SubscriptionArn: string): Promise<Record<string, string>> {
  return (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes ?? {};
}

describe('https subscriptions are pending until the endpoint confirms', () => {
  let endpoint: HttpsEndpoint;
  beforeEach(async () => (endpoint = await startHttpsEndpoint()));
  afterEach(() => endpoint.close());

  it(`Subscribe answers "pending confirmation" and the endpoint gets a signed SubscriptionConfirmation (${HTTP_CONFIRM_DOC}, ${SUBSCRIBE_DOC}, ${SIGNATURE_DOC})`, async () => {
    const TopicArn = await topic();
    const answer = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'https', Endpoint: endpoint.url }));
    expect(answer.SubscriptionArn).toBe('pending confirmation');

    const request = await endpoint.waitFor(ofType('SubscriptionConfirmation'));
    const message = parsed(request);
    expect(request.method).toBe('POST');
    expect(request.headers['x-amz-sns-topic-arn']).toBe(TopicArn);
    expect(request.headers['x-amz-sns-message-id']).toBe(message.MessageId);
    expect(message).toMatchObject({ Type: 'SubscriptionConfirmation', TopicArn, SignatureVersion: '2' });
    expect(message.Token).toMatch(/^[0-9a-f]{64,}$/);
    expect(new URL(message.SubscribeURL).searchParams.get('Token')).toBe(message.Token);
    expect(await verifiesSignature(message)).toBe(true);
    expect(await verifiesSignature({ ...message, Token: `${message.Token.slice(0, -1)}0` === message.Token ? `${message.Token.slice(0, -1)}1` : `${message.Token.slice(0, -1)}0` })).toBe(false);

    const listed = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }))).Subscriptions ?? [];
    expect(listed).toEqual([expect.objectContaining({ SubscriptionArn: 'PendingConfirmation', Endpoint: endpoint.url, Protocol: 'https' })]);
  });

  it(`nothing is delivered before confirmation; the SubscribeURL confirms; then notifications arrive signed with AWS's headers (${HTTP_CONFIRM_DOC}, ${HEADERS_DOC})`, async () => {
    const TopicArn = await topic();
    const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'https', Endpoint: endpoint.url, ReturnSubscriptionArn: true }));
    expect(SubscriptionArn).toMatch(new RegExp(`^${TopicArn}:`));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'true', ConfirmationWasAuthenticated: 'false' });

    await sns.send(new PublishCommand({ TopicArn, Message: 'before-confirmation' }));
    const confirmation = parsed(await endpoint.waitFor(ofType('SubscriptionConfirmation')));
    const visited = await fetch(confirmation.SubscribeURL);
    expect(visited.status).toBe(200);
    expect(await visited.text()).toContain(SubscriptionArn!);
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'false' });

    await sns.send(new PublishCommand({ TopicArn, Message: 'after-confirmation', Subject: 'hello' }));
    const request = await endpoint.waitFor(ofType('Notification'));
    const notification = parsed(request);
    expect(notification).toMatchObject({ Type: 'Notification', Message: 'after-confirmation', TopicArn });
    expect(request.headers).toMatchObject({ 'x-amz-sns-subscription-arn': SubscriptionArn, 'x-amz-sns-topic-arn': TopicArn, 'content-type': 'text/plain; charset=UTF-8' });
    expect(await verifiesSignature(notification)).toBe(true);
    // The message published while pending was dropped at Publish, not queued: only the later one came.
    expect(endpoint.received.filter(ofType('Notification')).map((r) => parsed(r).Message)).toEqual(['after-confirmation']);
  });

  it(`ConfirmSubscription with the token confirms (authenticated); a wrong token is InvalidParameter (${CONFIRM_DOC})`, async () => {
    const TopicArn = await topic();
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'https', Endpoint: endpoint.url }));
    const { Token } = parsed(await endpoint.waitFor(ofType('SubscriptionConfirmation')));

    await expect(sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token: 'f'.repeat(Token.length) }))).rejects.toMatchObject({ name: 'InvalidParameterException' });
    const { SubscriptionArn } = await sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token }));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'false', ConfirmationWasAuthenticated: 'true' });
    const listed = (await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }))).Subscriptions ?? [];
    expect(listed.map((s) => s.SubscriptionArn)).toEqual([SubscriptionArn]);
  });
});

describe('email subscriptions are pending until the recipient confirms', () => {
  it(`the confirmation goes to the recipient (the emulator's outbox), nothing else does until confirmed (${EMAIL_DOC})`, async () => {
    const TopicArn = await topic();
    const Endpoint = `${uniqueName('ops')}@example.com`;
    const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'email', Endpoint, ReturnSubscriptionArn: true }));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'true' });

    const outbox = (await (await fetch(`${process.env.AWS_ENDPOINT_URL}/sns_us-east-1/keyroll/email-outbox`)).json()) as Record<string, string>[];
    const mail = outbox.find((m) => m.To === Endpoint);
    expect(mail).toMatchObject({ Type: 'SubscriptionConfirmation', TopicArn });
    await sns.send(new ConfirmSubscriptionCommand({ TopicArn, Token: mail!.Token }));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'false' });
  });
});

describe('SQS subscriptions across accounts', () => {
  let clientAccount: EmulatedIdentity;
  let clientSqs: SQSClient;
  beforeAll(async () => {
    clientAccount = await assumeRoleIn(CLIENT_ACCOUNT, 'queue-owner');
    clientSqs = new SQSClient({ credentials: clientAccount.credentials, maxAttempts: 1 });
  });

  async function clientQueue(): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await clientSqs.send(new CreateQueueCommand({ QueueName: uniqueName('client-q') }));
    const { Attributes } = await clientSqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl!, arn: Attributes!.QueueArn! };
  }

  async function receiveAll(url: string): Promise<Record<string, string>[]> {
    const { Messages } = await clientSqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    return (Messages ?? []).map((m) => JSON.parse(m.Body!) as Record<string, string>);
  }

  it('credentials from AssumeRole into another account act in that account (moto keeps one backend per account)', async () => {
    const identity = await new STSClient({ credentials: clientAccount.credentials }).send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toBe(CLIENT_ACCOUNT);
    expect((await new STSClient({}).send(new GetCallerIdentityCommand({}))).Account).toBe(HOME_ACCOUNT);
    expect((await clientQueue()).arn).toMatch(new RegExp(`^arn:aws:sqs:us-east-1:${CLIENT_ACCOUNT}:`));
  });

  it(`the topic owner subscribing another account's queue: pending, the queue gets the confirmation, delivery only after it (${CROSS_ACCOUNT_SQS_DOC})`, async () => {
    const TopicArn = await topic();
    const queue = await clientQueue();
    const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue.arn, ReturnSubscriptionArn: true }));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'true' });
    await sns.send(new PublishCommand({ TopicArn, Message: 'before-confirmation' }));

    const [confirmation, ...others] = await receiveAll(queue.url);
    expect(others).toEqual([]);
    expect(confirmation).toMatchObject({ Type: 'SubscriptionConfirmation', TopicArn });
    expect(await verifiesSignature(confirmation)).toBe(true);
    await new SNSClient({ credentials: clientAccount.credentials }).send(new ConfirmSubscriptionCommand({ TopicArn, Token: confirmation.Token }));

    await sns.send(new PublishCommand({ TopicArn, Message: 'after-confirmation' }));
    expect((await receiveAll(queue.url)).map((m) => [m.Type, m.Message])).toEqual([['Notification', 'after-confirmation']]);
  });

  it(`the queue owner subscribing its own queue needs no confirmation (${CROSS_ACCOUNT_SQS_DOC}: "When the queue owner creates a subscription, the subscription doesn't require confirmation")`, async () => {
    const TopicArn = await topic();
    const queue = await clientQueue();
    const clientSns = new SNSClient({ credentials: clientAccount.credentials, maxAttempts: 1 });
    const { SubscriptionArn } = await clientSns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: queue.arn }));
    expect(SubscriptionArn).toMatch(new RegExp(`^${TopicArn}:`));
    expect((await clientSns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn }))).Attributes).toMatchObject({ PendingConfirmation: 'false' });
  });

  it("a queue in the topic's own account needs no confirmation, as before", async () => {
    const TopicArn = await topic();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('home-q') }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const { SubscriptionArn } = await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
    expect(await attributes(SubscriptionArn!)).toMatchObject({ PendingConfirmation: 'false' });
  });
});
