/**
 * The client topic's subscriptions of one client, made by KeyRoll itself: each endpoint of the
 * client's record is subscribed with the filter policy `{"clientId":["<id>"]}` on the message
 * attributes (FilterPolicyScope MessageAttributes: client-notifier.ts sets the `clientId`
 * attribute on every notice), and ReturnSubscriptionArn, so even a subscription that waits for
 * confirmation (https, email, a queue in another account) has its ARN at once
 * (https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html). Nobody else may subscribe
 * or change a filter: the topic policy denies sns:Subscribe and sns:SetSubscriptionAttributes
 * to every principal but the delivery function's role (lib/keyroll-delivery.ts).
 *
 * The ARNs KeyRoll made are recorded on the client record (`deliveryProjection.subscriptions`),
 * so removing an endpoint needs no topic-wide listing (the topic holds every client's). Before
 * subscribing, the projection records the endpoint with {@link PENDING_SUBSCRIBE} in place of
 * an ARN (project-delivery.ts): a crash after Subscribe leaves a trace, and the next run learns
 * the ARN by subscribing again (Subscribe is idempotent for the same endpoint and attributes)
 * before it keeps or removes it.
 */
import { GetSubscriptionAttributesCommand, NotFoundException, SetSubscriptionAttributesCommand, SubscribeCommand, UnsubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { NotificationEndpoint } from '../../core/delivery';
import { classifyTransient } from '../transient';
import { DeliveryTargetRejectedError } from './delivery-errors';

/** A subscription as recorded on the client record. */
export type RecordedSubscription = NotificationEndpoint & { readonly subscriptionArn: string };

/** Recorded in place of an ARN before Subscribe is called: the ARN is not known yet. */
export const PENDING_SUBSCRIBE = 'keyroll:pending-subscribe';

/** The filter policy of every subscription of `clientId`. */
export function filterPolicyFor(clientId: string): string {
  return JSON.stringify({ clientId: [clientId] });
}

/** Identity of an endpoint (protocol and address). */
export const endpointKey = (endpoint: NotificationEndpoint): string => `${endpoint.protocol}:${endpoint.endpoint}`;

/** What a subscription reconciliation did, and what is subscribed now. */
export interface SubscriptionChanges {
  /** One entry per endpoint, in the endpoints' order, with its real ARN. */
  readonly subscriptions: readonly RecordedSubscription[];
  readonly created: number;
  readonly removed: number;
  readonly kept: number;
  /** Subscriptions still waiting for their endpoint to confirm. */
  readonly pendingConfirmation: number;
}

/** What GetSubscriptionAttributes tells about a subscription KeyRoll made. */
interface Inspection {
  readonly pending: boolean;
  readonly filterPolicy?: string;
  readonly filterPolicyScope?: string;
}

/** The SNS calls on one client's subscriptions of one topic. */
export class ClientSubscriptions {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
    readonly clientId: string,
  ) {}

  /** Subscribes `endpoint` (or finds its existing subscription) and returns its ARN. */
  async subscribe(endpoint: NotificationEndpoint): Promise<string> {
    try {
      const out = await classifyTransient(() =>
        this.sns.send(
          new SubscribeCommand({
            TopicArn: this.topicArn,
            Protocol: endpoint.protocol,
            Endpoint: endpoint.endpoint,
            Attributes: { FilterPolicy: filterPolicyFor(this.clientId), FilterPolicyScope: 'MessageAttributes' },
            ReturnSubscriptionArn: true,
          }),
        ),
      );
      return out.SubscriptionArn!;
    } catch (error) {
      if (error instanceof Error && error.name === 'InvalidParameterException') throw new DeliveryTargetRejectedError(this.clientId, 'subscription', { cause: error });
      throw error;
    }
  }

  /** The subscription's state, or undefined when it no longer exists. */
  async inspect(subscriptionArn: string): Promise<Inspection | undefined> {
    try {
      const out = await classifyTransient(() => this.sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn })));
      const attributes = out.Attributes ?? {};
      return { pending: attributes.PendingConfirmation === 'true', filterPolicy: attributes.FilterPolicy, filterPolicyScope: attributes.FilterPolicyScope };
    } catch (error) {
      if (error instanceof NotFoundException) return undefined;
      throw error;
    }
  }

  /** Puts the client's filter back on a subscription whose filter was changed. */
  async restoreFilter(subscriptionArn: string): Promise<void> {
    await classifyTransient(() => this.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn, AttributeName: 'FilterPolicyScope', AttributeValue: 'MessageAttributes' })));
    await classifyTransient(() => this.sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: subscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: filterPolicyFor(this.clientId) })));
  }

  /** Removes a subscription; one already gone counts as removed. */
  async unsubscribe(subscriptionArn: string): Promise<void> {
    try {
      await classifyTransient(() => this.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn })));
    } catch (error) {
      if (error instanceof NotFoundException) return;
      throw error;
    }
  }
}

/** Whether a subscription still carries exactly the client's filter. */
function filterHolds(inspection: Inspection, clientId: string): boolean {
  if (inspection.filterPolicyScope !== 'MessageAttributes' || inspection.filterPolicy === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(inspection.filterPolicy)) === filterPolicyFor(clientId);
  } catch {
    return false;
  }
}

/**
 * Makes the client's subscriptions match `endpoints`, starting from what is `recorded`: each
 * endpoint ends with one subscription carrying the client's filter (a recorded one that still
 * exists is kept, its filter restored if it was changed; otherwise it is subscribed), and every
 * other recorded subscription is removed (one recorded as {@link PENDING_SUBSCRIBE} is
 * subscribed first to learn its ARN). Idempotent.
 */
export async function reconcileSubscriptions(subscriptions: ClientSubscriptions, endpoints: readonly NotificationEndpoint[], recorded: readonly RecordedSubscription[]): Promise<SubscriptionChanges> {
  const wanted = new Map(endpoints.map((e) => [endpointKey(e), e]));
  let created = 0;
  let removed = 0;
  let kept = 0;
  let pendingConfirmation = 0;
  // Removals first: an endpoint taken off the record stops receiving before anything is added.
  for (const entry of recorded.filter((r) => !wanted.has(endpointKey(r)))) {
    const arn = entry.subscriptionArn === PENDING_SUBSCRIBE ? await subscriptions.subscribe(entry) : entry.subscriptionArn;
    await subscriptions.unsubscribe(arn);
    removed++;
  }
  const live: RecordedSubscription[] = [];
  for (const [key, endpoint] of wanted) {
    let arn: string | undefined;
    let inspection: Inspection | undefined;
    for (const entry of recorded.filter((r) => endpointKey(r) === key && r.subscriptionArn !== PENDING_SUBSCRIBE)) {
      const found = await subscriptions.inspect(entry.subscriptionArn);
      if (!found) continue;
      if (arn === undefined) {
        [arn, inspection] = [entry.subscriptionArn, found];
      } else if (entry.subscriptionArn !== arn) {
        // A second live subscription of the same endpoint (only a lost race makes one): one is enough.
        await subscriptions.unsubscribe(entry.subscriptionArn);
        removed++;
      }
    }
    if (arn !== undefined && inspection) {
      if (!filterHolds(inspection, subscriptions.clientId)) await subscriptions.restoreFilter(arn);
      kept++;
    } else {
      arn = await subscriptions.subscribe(endpoint);
      inspection = await subscriptions.inspect(arn);
      created++;
    }
    // Not found right after Subscribe: not confirmed either.
    if (!inspection || inspection.pending) pendingConfirmation++;
    live.push({ protocol: endpoint.protocol, endpoint: endpoint.endpoint, subscriptionArn: arn });
  }
  return { subscriptions: live, created, removed, kept, pendingConfirmation };
}
