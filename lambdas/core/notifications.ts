/**
 * The messages KeyRoll publishes. Client-facing events go to the client topic with the
 * message attributes `clientId` and `eventType` (so a subscription can filter to one
 * client); failures go to the ops topic. None of them carries key material: only key ids.
 */

/** Client-facing event types (the `eventType` message attribute). */
export const ClientEventType = {
  ROTATED: 'key.rotated',
  EMERGENCY: 'key.emergency',
  EXPIRING: 'key.expiring',
  RETIRED: 'key.retired',
} as const;
export type ClientEventType = (typeof ClientEventType)[keyof typeof ClientEventType];

/** A client-facing notification. `eventId` is stable across retries so consumers can de-duplicate. */
export interface ClientNotice {
  readonly eventId: string;
  readonly eventType: ClientEventType;
  readonly clientId: string;
  readonly rotationId: string;
  readonly occurredAt: string;
  /** What happened and what the client should do, in one sentence. */
  readonly summary: string;
  readonly currentKeyId?: string;
  readonly previousKeyId?: string;
  /** Until when the previous key is still accepted. */
  readonly previousKeyNotAfter?: string;
  readonly revokedKeyIds?: readonly string[];
  /** `high` for emergency rotations. */
  readonly severity: 'info' | 'high';
}

/** An operations notification (ops topic). */
export interface OpsNotice {
  readonly eventType: 'rotation.failed';
  readonly clientId: string;
  readonly rotationId: string;
  readonly occurredAt: string;
  readonly error: string;
  readonly cause: string;
  readonly rolledBack: boolean;
  readonly summary: string;
}

/** key.rotated (or key.emergency): a new key is current. */
export function rotatedNotice(args: {
  clientId: string;
  rotationId: string;
  occurredAt: string;
  currentKeyId: string;
  previousKeyId: string;
  previousKeyNotAfter?: string;
  revokedKeyIds: readonly string[];
  emergency: boolean;
}): ClientNotice {
  const base = {
    clientId: args.clientId,
    rotationId: args.rotationId,
    occurredAt: args.occurredAt,
    currentKeyId: args.currentKeyId,
    previousKeyId: args.previousKeyId,
  };
  if (args.emergency) {
    return {
      ...base,
      eventId: `${args.rotationId}:${ClientEventType.EMERGENCY}`,
      eventType: ClientEventType.EMERGENCY,
      revokedKeyIds: args.revokedKeyIds,
      severity: 'high',
      summary: `Emergency rotation: key ${args.currentKeyId} is current and every other key (${args.revokedKeyIds.join(', ') || 'none'}) is revoked now, with no overlap. Fetch the current key from your secret immediately.`,
    };
  }
  return {
    ...base,
    eventId: `${args.rotationId}:${ClientEventType.ROTATED}`,
    eventType: ClientEventType.ROTATED,
    previousKeyNotAfter: args.previousKeyNotAfter,
    severity: 'info',
    summary: `Key ${args.currentKeyId} is now current. The previous key ${args.previousKeyId} stays valid until ${args.previousKeyNotAfter}; switch to the current key from your secret before then.`,
  };
}

/** key.expiring: the previous key is still in use; its deadline moved, and it will be retired. */
export function expiringNotice(args: {
  clientId: string;
  rotationId: string;
  occurredAt: string;
  previousKeyId: string;
  currentKeyId: string;
  previousKeyNotAfter: string;
  lastUsedAt: string;
  hardDeadline: string;
}): ClientNotice {
  return {
    eventId: `${args.rotationId}:${ClientEventType.EXPIRING}:${args.previousKeyNotAfter}`,
    eventType: ClientEventType.EXPIRING,
    clientId: args.clientId,
    rotationId: args.rotationId,
    occurredAt: args.occurredAt,
    currentKeyId: args.currentKeyId,
    previousKeyId: args.previousKeyId,
    previousKeyNotAfter: args.previousKeyNotAfter,
    severity: 'info',
    summary: `Key ${args.previousKeyId} was still used at ${args.lastUsedAt}, after key ${args.currentKeyId} became current. It now stays valid until ${args.previousKeyNotAfter} and will be retired no later than ${args.hardDeadline}; switch to the current key from your secret.`,
  };
}

/** key.retired: the previous key is no longer accepted. */
export function retiredNotice(args: {
  clientId: string;
  rotationId: string;
  occurredAt: string;
  retiredKeyId: string;
  currentKeyId: string;
}): ClientNotice {
  return {
    eventId: `${args.rotationId}:${ClientEventType.RETIRED}`,
    eventType: ClientEventType.RETIRED,
    clientId: args.clientId,
    rotationId: args.rotationId,
    occurredAt: args.occurredAt,
    currentKeyId: args.currentKeyId,
    previousKeyId: args.retiredKeyId,
    revokedKeyIds: [args.retiredKeyId],
    severity: 'info',
    summary: `Key ${args.retiredKeyId} is retired and no longer accepted; key ${args.currentKeyId} is current.`,
  };
}

/** rotation.failed: the rotation was rolled back (or could not be) and a human should look. */
export function rotationFailedNotice(args: {
  clientId: string;
  rotationId: string;
  occurredAt: string;
  error: string;
  cause: string;
  rolledBack: boolean;
}): OpsNotice {
  return {
    eventType: 'rotation.failed',
    ...args,
    summary: args.rolledBack
      ? `Rotation ${args.rotationId} of client ${args.clientId} failed with ${args.error} and was rolled back; the client's current key is unchanged.`
      : `Rotation ${args.rotationId} of client ${args.clientId} failed with ${args.error} and could NOT be rolled back; the client's lock is kept until a human looks.`,
  };
}
