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

/**
 * What an operator did outside a rotation, on a `key.emergency` notice (kill switch, rollback).
 * These go out as `key.emergency` so that every consumer that refreshes on an emergency (the
 * client SDK does) fetches the current key at once; `incident` says which it was.
 */
export const OperatorIncident = {
  KEY_REVOKED: 'key.revoked',
  ROTATION_ROLLED_BACK: 'rotation.rolled_back',
} as const;
export type OperatorIncident = (typeof OperatorIncident)[keyof typeof OperatorIncident];
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
  /** `high` for emergency rotations, revocations and rollbacks: act now. */
  readonly severity: 'info' | 'high';
  /** Emergency with revokeImmediately: the old keys stopped working before the new key was current. */
  readonly revokedImmediately?: boolean;
  /** An in-flight rotation that this emergency rotation stopped. */
  readonly preemptedRotationId?: string;
  /** Set on emergency notices that an operator action (not a rotation) caused. */
  readonly incident?: OperatorIncident;
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
  /** The rotation had finished before a later step failed (nothing undone). */
  readonly finished?: boolean;
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
  revokedImmediately?: boolean;
  preemptedRotationId?: string;
  preemptedRotationFinished?: boolean;
}): ClientNotice {
  const base = {
    clientId: args.clientId,
    rotationId: args.rotationId,
    occurredAt: args.occurredAt,
    currentKeyId: args.currentKeyId,
    previousKeyId: args.previousKeyId,
  };
  if (args.emergency) {
    const revoked = args.revokedKeyIds.join(', ') || 'none';
    const what = args.revokedImmediately
      ? `every other key (${revoked}) was revoked immediately, before the new key was issued, so requests with them have been failing since`
      : `every other key (${revoked}) is revoked now, with no overlap`;
    // A preempted rotation that had finished made its key current: clients may hold it, and are told it is revoked.
    const preempted = !args.preemptedRotationId
      ? ''
      : args.preemptedRotationFinished
        ? ` The rotation ${args.preemptedRotationId} that was in progress was stopped; the key it had made current (${args.previousKeyId}) is revoked with the others.`
        : ` The rotation ${args.preemptedRotationId} that was in progress was stopped; its new key was never valid for you.`;
    return {
      ...base,
      eventId: `${args.rotationId}:${ClientEventType.EMERGENCY}`,
      eventType: ClientEventType.EMERGENCY,
      revokedKeyIds: args.revokedKeyIds,
      severity: 'high',
      ...(args.revokedImmediately ? { revokedImmediately: true } : {}),
      ...(args.preemptedRotationId ? { preemptedRotationId: args.preemptedRotationId } : {}),
      summary: `Emergency rotation: key ${args.currentKeyId} is current and ${what}.${preempted} Fetch the current key from your secret immediately.`,
    };
  }
  return {
    ...base,
    eventId: `${args.rotationId}:${ClientEventType.ROTATED}`,
    eventType: ClientEventType.ROTATED,
    previousKeyNotAfter: args.previousKeyNotAfter,
    severity: 'info',
    summary: args.previousKeyNotAfter
      ? `Key ${args.currentKeyId} is now current. The previous key ${args.previousKeyId} stays valid until ${args.previousKeyNotAfter}; switch to the current key from your secret before then.`
      : `Key ${args.currentKeyId} is now current. The previous key ${args.previousKeyId} had already been revoked and is not accepted; use the current key from your secret now.`,
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
export function retiredNotice(args: { clientId: string; rotationId: string; occurredAt: string; retiredKeyId: string; currentKeyId: string }): ClientNotice {
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
  /** The rotation had finished (its key is current) before a later step failed: nothing was undone. */
  finished?: boolean;
}): OpsNotice {
  return {
    eventType: 'rotation.failed',
    ...args,
    summary: args.finished
      ? `Rotation ${args.rotationId} of client ${args.clientId} had finished (its new key is current) when it failed with ${args.error}; it was not undone and the previous key's retirement did not run.`
      : args.rolledBack
        ? `Rotation ${args.rotationId} of client ${args.clientId} failed with ${args.error} and was rolled back; the client's current key is unchanged.`
        : `Rotation ${args.rotationId} of client ${args.clientId} failed with ${args.error} and could NOT be rolled back; the client's lock is kept until a human looks.`,
  };
}

/**
 * Kill switch (`key.emergency`, incident `key.revoked`): an operator revoked one key. When it
 * was the current key the notice names no current key: there is none that works until a new
 * one is issued.
 */
export function keyRevokedNotice(args: { clientId: string; occurredAt: string; revokedKeyId: string; currentKeyId: string; wasCurrent: boolean }): ClientNotice {
  return {
    eventId: `revoke:${args.revokedKeyId}:${ClientEventType.EMERGENCY}`,
    eventType: ClientEventType.EMERGENCY,
    incident: OperatorIncident.KEY_REVOKED,
    clientId: args.clientId,
    rotationId: 'none',
    occurredAt: args.occurredAt,
    ...(args.wasCurrent ? {} : { currentKeyId: args.currentKeyId }),
    revokedKeyIds: [args.revokedKeyId],
    severity: 'high',
    summary: args.wasCurrent
      ? `Key ${args.revokedKeyId} was revoked by an operator and it was your current key: every request with it fails until a new key is issued to your secret.`
      : `Key ${args.revokedKeyId} was revoked by an operator and is no longer accepted; key ${args.currentKeyId} is current.`,
  };
}

/**
 * Rollback during the overlap (`key.emergency`, incident `rotation.rolled_back`): the previous
 * key is current again and the rotation's new key is revoked.
 */
export function rolledBackNotice(args: { clientId: string; rotationId: string; occurredAt: string; currentKeyId: string; revokedKeyId: string }): ClientNotice {
  return {
    eventId: `${args.rotationId}:${OperatorIncident.ROTATION_ROLLED_BACK}`,
    eventType: ClientEventType.EMERGENCY,
    incident: OperatorIncident.ROTATION_ROLLED_BACK,
    clientId: args.clientId,
    rotationId: args.rotationId,
    occurredAt: args.occurredAt,
    currentKeyId: args.currentKeyId,
    revokedKeyIds: [args.revokedKeyId],
    severity: 'high',
    summary: `Rotation ${args.rotationId} was rolled back: key ${args.currentKeyId} is current again (no deadline) and the new key ${args.revokedKeyId} is revoked. Read the current key from your secret now.`,
  };
}
