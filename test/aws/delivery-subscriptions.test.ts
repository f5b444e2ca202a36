/**
 * reconcileSubscriptions over a scripted SNS (moto confirms every subscription at once, so the
 * pending-confirmation count of https, email and cross-account sqs endpoints is shown here):
 * pending subscriptions are counted, a drifted filter is put back, and a subscription recorded
 * before its ARN was known is resolved by subscribing again before it is removed.
 */
import type { SNSClient } from '@aws-sdk/client-sns';
import { ClientSubscriptions, filterPolicyFor, PENDING_SUBSCRIBE, reconcileSubscriptions } from '../../lambdas/aws/delivery/subscriptions';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:clients';

/** An SNS that knows subscriptions by ARN; https/email and other accounts' queues stay pending. */
function scriptedSns() {
  const subs = new Map<string, { protocol: string; endpoint: string; filter: string; scope: string; pending: boolean }>();
  const calls: string[] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const name = command.constructor.name.replace(/Command$/, '');
    const input = command.input;
    calls.push(name);
    if (name === 'Subscribe') {
      const existing = [...subs].find(([, s]) => s.protocol === input.Protocol && s.endpoint === input.Endpoint);
      if (existing) return { SubscriptionArn: existing[0] };
      const arn = `${TOPIC}:${subs.size + 1}`;
      const attributes = input.Attributes as Record<string, string>;
      const pending = input.Protocol !== 'sqs' || !String(input.Endpoint).includes(':123456789012:');
      subs.set(arn, { protocol: String(input.Protocol), endpoint: String(input.Endpoint), filter: attributes.FilterPolicy, scope: attributes.FilterPolicyScope, pending });
      return { SubscriptionArn: arn };
    }
    const sub = subs.get(String(input.SubscriptionArn));
    if (!sub) throw Object.assign(new (await import('@aws-sdk/client-sns')).NotFoundException({ message: 'gone', $metadata: {} }));
    if (name === 'GetSubscriptionAttributes') return { Attributes: { PendingConfirmation: String(sub.pending), FilterPolicy: sub.filter, FilterPolicyScope: sub.scope } };
    if (name === 'SetSubscriptionAttributes') {
      if (input.AttributeName === 'FilterPolicy') sub.filter = String(input.AttributeValue);
      else sub.scope = String(input.AttributeValue);
      return {};
    }
    if (name === 'Unsubscribe') subs.delete(String(input.SubscriptionArn));
    return {};
  };
  return { sns: { send } as unknown as SNSClient, subs, calls };
}

describe('reconcileSubscriptions', () => {
  it('counts https, email and cross-account sqs subscriptions as pending until confirmed', async () => {
    const { sns } = scriptedSns();
    const out = await reconcileSubscriptions(
      new ClientSubscriptions(sns, TOPIC, 'acme'),
      [
        { protocol: 'sqs', endpoint: 'arn:aws:sqs:us-east-1:123456789012:own' },
        { protocol: 'sqs', endpoint: 'arn:aws:sqs:us-east-1:210987654321:theirs' },
        { protocol: 'https', endpoint: 'https://hooks.example.com/k' },
        { protocol: 'email', endpoint: 'keys@acme.example' },
      ],
      [],
    );
    expect(out).toMatchObject({ created: 4, removed: 0, kept: 0, pendingConfirmation: 3 });
  });

  it('puts a changed filter back, and keeps the subscription', async () => {
    const { sns, subs } = scriptedSns();
    const subscriptions = new ClientSubscriptions(sns, TOPIC, 'acme');
    const endpoint = { protocol: 'sqs' as const, endpoint: 'arn:aws:sqs:us-east-1:123456789012:own' };
    const first = await reconcileSubscriptions(subscriptions, [endpoint], []);
    subs.get(first.subscriptions[0].subscriptionArn)!.filter = '{"clientId":[{"prefix":""}]}';
    const second = await reconcileSubscriptions(subscriptions, [endpoint], first.subscriptions);
    expect(second).toMatchObject({ created: 0, kept: 1 });
    expect(subs.get(first.subscriptions[0].subscriptionArn)!.filter).toBe(filterPolicyFor('acme'));
  });

  it('an endpoint recorded before its ARN was known and no longer wanted is found by Subscribe, then removed', async () => {
    const { sns, subs, calls } = scriptedSns();
    const subscriptions = new ClientSubscriptions(sns, TOPIC, 'acme');
    const endpoint = { protocol: 'https' as const, endpoint: 'https://hooks.example.com/old' };
    await subscriptions.subscribe(endpoint); // the crashed run's Subscribe
    const out = await reconcileSubscriptions(subscriptions, [], [{ ...endpoint, subscriptionArn: PENDING_SUBSCRIBE }]);
    expect(out).toMatchObject({ removed: 1, subscriptions: [] });
    expect(subs.size).toBe(0);
    expect(calls.slice(-2)).toEqual(['Subscribe', 'Unsubscribe']);
  });
});
