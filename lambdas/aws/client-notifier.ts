/**
 * Publishes client notices to the client topic the way the state machine does: the notice
 * as JSON, with the `clientId` and `eventType` message attributes that subscriptions filter on.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ClientNotice } from '../core/notifications';
import { classifyTransient } from './transient';

/** Sends notices to one topic (stack output ClientTopicArn). */
export class ClientNotifier {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  /** Publishes `notice`. Consumers de-duplicate on its `eventId`. */
  async publish(notice: ClientNotice): Promise<void> {
    await classifyTransient(() =>
      this.sns.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          Message: JSON.stringify(notice),
          MessageAttributes: {
            clientId: { DataType: 'String', StringValue: notice.clientId },
            eventType: { DataType: 'String', StringValue: notice.eventType },
          },
        }),
      ),
    );
  }
}
