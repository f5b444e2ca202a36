/** The records KeyRoll keeps in DynamoDB. None of them ever holds a plaintext key. */
import type { ClientDelivery, DeliveryProjectionState } from './delivery';
import type { KeyState } from './key-state';

/** Metadata of one API key, stored under its hash. */
export interface KeyRecord {
  /** Hex SHA-256 of the key: the lookup key of the auth layer. */
  readonly keyHash: string;
  /** Non-secret id for logs and audit. */
  readonly keyId: string;
  readonly clientId: string;
  /** The Secrets Manager version id that holds this key (the rotation id that made it). */
  readonly secretVersionId: string;
  /** The rotation (execution name) that created the key, or `initial` for the first key. */
  readonly rotationId: string;
  readonly state: KeyState;
  readonly scopes: readonly string[];
  readonly createdAt: string;
  readonly activatedAt?: string;
  /** After this instant a RETIRING key is no longer accepted. */
  readonly notAfter?: string;
  readonly revokedAt?: string;
  readonly lastUsedAt?: string;
}

/** The lock that serialises rotations of one client. */
export interface RotationLock {
  readonly rotationId: string;
  readonly acquiredAt: string;
  /** A lock older than this is considered abandoned (its execution timed out or was stopped). */
  readonly expiresAt: string;
  /** An emergency rotation took the lock from this rotation (stopped, its pending key cleaned up). */
  readonly preemptedRotationId?: string;
}

/** When and how often a client's key is rotated on schedule. Stored on the client record. */
export interface RotationPolicy {
  /** Rotate every this many days (1-365). */
  readonly intervalDays: number;
  /** Overlap of scheduled rotations. Absent: the deployment default. */
  readonly overlapSeconds?: number;
  /** Hard deadline of the previous key after a rotation (usage-aware retirement stops extending there). Absent: the deployment maximum. */
  readonly maxOverlapSeconds?: number;
  /** IANA time zone the window is in, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  /** Preferred local window, `HH:MM` 24-hour; rotations start somewhere inside it. May wrap past midnight. */
  readonly window: { readonly start: string; readonly end: string };
}

/** Per-client record: policy, the lock, and pointers to the current and previous keys. */
export interface ClientRecord {
  readonly clientId: string;
  /** Name of the client's secret in Secrets Manager. */
  readonly secretId: string;
  readonly scopes: readonly string[];
  /** Overlap for this client's rotations unless the request gives one. */
  readonly overlapSeconds?: number;
  readonly currentKeyId: string;
  readonly currentKeyHash: string;
  readonly currentVersionId: string;
  readonly previousKeyId?: string;
  readonly previousKeyHash?: string;
  readonly previousVersionId?: string;
  readonly lock?: RotationLock;
  /** Summary of the last finished rotation, so a retried step can rebuild its result. */
  readonly lastRotation?: LastRotation;
  /** The scheduled-rotation policy (clients registered from code before schedules existed have none). */
  readonly policy?: RotationPolicy;
  /** Groups for fleet rotations (e.g. `tier-1`, `region:eu`); see lambdas/core/fleet.ts. */
  readonly tags?: readonly string[];
  /** Set when offboarding began: from then on no rotation may take the lock. */
  readonly offboardedAt?: string;
  /** How the client gets its key and notices (lambdas/core/delivery.ts). Absent: none registered. */
  readonly delivery?: ClientDelivery;
  /** What the delivery function last projected from {@link delivery}. */
  readonly deliveryProjection?: DeliveryProjectionState;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** One entry of the audit trail: who did what, why, when. */
export interface AuditEvent {
  readonly clientId: string;
  readonly at: string;
  readonly action: string;
  readonly actor: string;
  readonly reason: string;
  readonly rotationId?: string;
  readonly keyId?: string;
  /** Extra non-secret detail, e.g. the error name of a failed rotation. */
  readonly detail?: string;
  /** Tells repeated events of one rotation apart (e.g. each deadline extension); part of the item key. */
  readonly sequence?: string;
}

/** What the last finishSecret did, kept on the client record. */
export interface LastRotation {
  readonly rotationId: string;
  readonly finishedAt: string;
  readonly emergency: boolean;
  readonly previousKeyId: string;
  readonly previousKeyNotAfter?: string;
  readonly revokedKeyIds: readonly string[];
  /** Emergency with revokeImmediately: the old keys were revoked at createSecret, before the new key was current. */
  readonly revokedImmediately?: boolean;
  /** The in-flight rotation this (emergency) rotation stopped to take the lock. */
  readonly preemptedRotationId?: string;
  /** The preempted rotation had finished (its key had been current, so clients may hold it). */
  readonly preemptedRotationFinished?: boolean;
}
