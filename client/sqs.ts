/**
 * `@keyroll/client/sqs`: refresh on KeyRoll's notifications by long-polling an SQS queue
 * subscribed to the client topic. The only entry of the SDK that needs `@aws-sdk/client-sqs`
 * (an optional peer dependency of the package).
 */
export { SqsNotificationPoller } from './poller';
export type { PollResult, SqsLike, SqsNotificationPollerOptions } from './poller';
