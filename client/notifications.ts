/**
 * KeyRoll's client-topic notifications, as a consumer receives them: parsing (SNS→SQS with
 * or without raw delivery, a Lambda subscribed to the topic) and what a key provider does
 * about them. Notifications carry key ids, never keys (core/notifications.ts).
 *
 * - key.rotated for this client: refresh now (the previous key stays valid for the overlap).
 * - key.emergency for this client: refresh now (the previous key is already revoked).
 * - key.expiring / key.retired for this client: refresh only if the cached key is not the
 *   one the notice calls current (the rotated notice was missed).
 * - anything for another client, or unparseable: ignored.
 */
import { ClientEventType } from '../lambdas/core/notifications';
import { RefreshReason, type ApiKeySource } from './key-provider';

/** The parts of a client notification the SDK acts on. */
export interface RotationNotification {
  readonly clientId: string;
  readonly eventType: ClientEventType;
  /** The key id that is current after the event, when the message body names it. */
  readonly currentKeyId?: string;
  /** De-duplication id from the message body, when present. */
  readonly eventId?: string;
}

/**
 * Message attributes in any of the shapes AWS delivers them: SNS (`{Type, Value}`, in an
 * envelope or a Lambda record) or SQS (`{DataType, StringValue}`, raw delivery).
 */
export type MessageAttributesLike = Readonly<Record<string, unknown>>;

const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(ClientEventType));
const MAX_ID_LENGTH = 256;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function idString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH ? value : undefined;
}

/** Attribute name → string value, from SNS or SQS shapes; unknown shapes are skipped. */
function attributeValues(attributes: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(attributes)) return out;
  for (const [name, attribute] of Object.entries(attributes)) {
    if (!isRecord(attribute)) continue;
    const value = attribute.Value ?? attribute.StringValue ?? attribute.stringValue;
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** The one value of a field given by attributes and/or body; null when they disagree. */
function agreed(fromAttributes: string | undefined, fromBody: unknown): string | undefined | null {
  const body = idString(fromBody);
  if (fromAttributes !== undefined && body !== undefined && fromAttributes !== body) return null;
  return fromAttributes ?? body;
}

/**
 * Parses a KeyRoll client notification. Accepts
 * - an SQS message body from an SNS subscription with raw delivery off (the SNS envelope
 *   `{Type:'Notification', Message, MessageAttributes}`), as a string or parsed;
 * - an SQS message body with raw delivery on (the notice JSON itself); pass the SQS
 *   message's `MessageAttributes` as `attributes`;
 * - the `Sns` object of a Lambda SNS event record.
 *
 * `clientId` and `eventType` come from the message attributes, else from the notice body;
 * when both are present they must agree. Never throws: anything it cannot read
 * (garbage, another message type, an unknown event type) gives `undefined`.
 */
export function parseRotationNotification(body: unknown, attributes?: MessageAttributesLike): RotationNotification | undefined {
  const document = typeof body === 'string' ? parseJson(body) : body;
  let values = attributeValues(attributes);
  let notice: unknown = document;
  if (isRecord(document) && typeof document.Message === 'string' && ('Type' in document || 'MessageAttributes' in document)) {
    if (document.Type !== undefined && document.Type !== 'Notification') return undefined;
    values = { ...attributeValues(document.MessageAttributes), ...values };
    notice = parseJson(document.Message);
  }
  const fields = isRecord(notice) ? notice : {};

  const clientId = agreed(idString(values.clientId), fields.clientId);
  const eventType = agreed(values.eventType, fields.eventType);
  if (!clientId || !eventType || !EVENT_TYPES.has(eventType)) return undefined;

  const currentKeyId = idString(fields.currentKeyId);
  const eventId = idString(fields.eventId);
  return {
    clientId,
    eventType: eventType as ClientEventType,
    ...(currentKeyId !== undefined ? { currentKeyId } : {}),
    ...(eventId !== undefined ? { eventId } : {}),
  };
}

/** What a notification made the provider do. */
export const NotificationOutcome = {
  /** The key was read again (it may or may not have changed). */
  REFRESHED: 'refreshed',
  /** Not for this client, not a rotation, already current, or unparseable. */
  IGNORED: 'ignored',
} as const;
export type NotificationOutcome = (typeof NotificationOutcome)[keyof typeof NotificationOutcome];

/**
 * Applies a parsed notification to `provider` (see the module comment for the rules).
 * @throws KeyUnavailableError when the refresh it triggers fails (the cached key stays in use),
 *   so a queue consumer can leave the message for redelivery.
 */
export async function applyRotationNotification(provider: ApiKeySource, clientId: string, notification: RotationNotification | undefined): Promise<NotificationOutcome> {
  if (notification?.clientId !== clientId) return NotificationOutcome.IGNORED;
  const expected = notification.currentKeyId !== undefined ? { expectedKeyId: notification.currentKeyId } : {};
  switch (notification.eventType) {
    case ClientEventType.EMERGENCY:
      await provider.refresh(RefreshReason.EMERGENCY, expected);
      return NotificationOutcome.REFRESHED;
    case ClientEventType.ROTATED:
      await provider.refresh(RefreshReason.NOTIFICATION, expected);
      return NotificationOutcome.REFRESHED;
    case ClientEventType.EXPIRING:
    case ClientEventType.RETIRED: {
      const held = provider.currentKeyId();
      if (notification.currentKeyId === undefined || held === undefined || held === notification.currentKeyId) {
        return NotificationOutcome.IGNORED;
      }
      await provider.refresh(RefreshReason.NOTIFICATION, expected);
      return NotificationOutcome.REFRESHED;
    }
  }
}

/** The part of a Lambda SNS event the handler reads (structurally an `SNSEvent` from aws-lambda). */
export interface SnsEventLike {
  readonly Records?: readonly ({ readonly Sns?: unknown } | undefined)[];
}

/** What one invocation of the SNS subscriber did. */
export interface SnsHandlerResult {
  readonly refreshed: number;
  readonly ignored: number;
}

/**
 * A Lambda handler for a function subscribed to KeyRoll's client topic: it refreshes
 * `provider` (the module-level provider of that function) on this client's rotations.
 * Note that it refreshes the one container that receives the notification; other warm
 * containers of the function catch up by their timer, staleness or a 401.
 *
 * @throws KeyUnavailableError when a refresh fails, so that Lambda's asynchronous retries
 *   deliver the notification again.
 */
export function createSnsSubscriberHandler(provider: ApiKeySource, clientId: string): (event: SnsEventLike) => Promise<SnsHandlerResult> {
  return async (event) => {
    let refreshed = 0;
    let ignored = 0;
    let failure: unknown;
    for (const record of event?.Records ?? []) {
      try {
        const outcome = await applyRotationNotification(provider, clientId, parseRotationNotification(record?.Sns));
        if (outcome === NotificationOutcome.REFRESHED) refreshed += 1;
        else ignored += 1;
      } catch (error) {
        failure ??= error;
      }
    }
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the first caught failure as it was thrown
    if (failure !== undefined) throw failure;
    return { refreshed, ignored };
  };
}
