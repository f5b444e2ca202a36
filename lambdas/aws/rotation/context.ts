/** What the rotation steps share: their dependencies, and the state the state machine carries. */
import type { Clock } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import type { ClientRecord } from '../../core/model';
import type { OverlapBounds, RotationMode } from '../../core/rotation-request';
import type { KeyRepository } from '../key-repository';
import type { Fetch } from './endpoint-probe';
import type { RotationExecutions } from '../rotation-executions';
import type { SecretStore } from '../secret-store';

/** Deployment-wide rotation policy, from the construct's props. */
export interface RotationSettings {
  /** Prefix of every issued key, e.g. `kr`. */
  readonly keyPrefix: string;
  /** Overlap when neither the request nor the client's policy gives one. */
  readonly defaultOverlapSeconds: number;
  readonly overlapBounds: OverlapBounds;
  /** A lock older than this is treated as abandoned (at least the state machine's timeout). */
  readonly lockTtlSeconds: number;
  /** Usage-aware retirement: "still in use" means used within this many seconds of the check. */
  readonly usageWindowSeconds: number;
  /** Usage-aware retirement: how far each key.expiring reminder moves the previous key's not-after. */
  readonly reminderIntervalSeconds: number;
  /** Usage-aware retirement: how long before the not-after the usage check runs (at most half the overlap). */
  readonly usageCheckLeadSeconds: number;
  /** An endpoint behind the KeyRoll authorizer that testSecret also proves the new key against. */
  readonly verifyEndpointUrl?: string;
  /**
   * How long after a lock holder's execution ended its steps may still write (the longest step
   * function timeout + 30 s; lambdas/core/zombie-window.ts). Its lock is taken over only after
   * that. @default DEFAULT_ZOMBIE_WINDOW_SECONDS (60)
   */
  readonly zombieWindowSeconds?: number;
}

/** Everything a step needs, injected (adapters, clock, settings). */
export interface RotationDeps {
  readonly secrets: SecretStore;
  readonly keys: KeyRepository;
  readonly clock: Clock;
  readonly settings: RotationSettings;
  /** HTTP for the endpoint proof (injected in tests). @default the global fetch */
  readonly fetch?: Fetch;
  /**
   * Tests only: let the endpoint proof use `http://` on a loopback host (a local test server).
   * The deployed runtime never sets it, so a production endpoint must be https.
   */
  readonly allowLoopbackHttpProbe?: boolean;
  /**
   * The state machine's executions, for emergency preemption (beginRotation stops the
   * execution that holds the lock). Absent: an emergency rotation gets RotationInProgress
   * like any other.
   */
  readonly executions?: RotationExecutions;
}

/**
 * The rotation as the state machine carries it between steps. Holds ids only: never key
 * material (invariant 5), so it is safe in state input/output and in execution history.
 */
export interface RotationContext {
  readonly rotationId: string;
  readonly clientId: string;
  readonly secretId: string;
  readonly mode: RotationMode;
  readonly reason: string;
  readonly requestedBy: string;
  /** 0 in emergency mode. */
  readonly overlapSeconds: number;
  /** Emergency only: every existing key of the client is revoked at createSecret. */
  readonly revokeImmediately?: boolean;
  /** A fleet rotation's task token: the workflow reports the outcome to it (see RotationRequest). */
  readonly callbackToken?: string;
}

/** Fields of the client record that point at the key being created by a rotation (and what it revoked early). */
export const PENDING_FIELDS = ['pendingKeyHash', 'pendingKeyId', 'pendingRotationId', 'immediatelyRevokedKeyIds'] as const;
/** Fields of the client record that point at the previous key during an overlap. */
export const PREVIOUS_FIELDS = ['previousKeyHash', 'previousKeyId', 'previousVersionId'] as const;

/** The client record extended with the pointer to the key a rotation is creating. */
export type ClientWithPending = ClientRecord & {
  readonly pendingKeyHash?: string;
  readonly pendingKeyId?: string;
  readonly pendingRotationId?: string;
  /** Keys that createSecret revoked for a revokeImmediately rotation, for finishSecret's notice. */
  readonly immediatelyRevokedKeyIds?: readonly string[];
};

/** Reads the client and checks that this rotation holds its lock. */
export async function clientLockedBy(deps: RotationDeps, context: RotationContext): Promise<ClientWithPending> {
  const client = (await deps.keys.requireClient(context.clientId)) as ClientWithPending;
  if (client.lock?.rotationId !== context.rotationId) {
    throw new RotationStateConflictError(`Rotation ${context.rotationId} does not hold the lock of client ${context.clientId} (held by ${client.lock?.rotationId ?? 'nobody'}).`);
  }
  return client;
}

/** A rotation whose finishSecret committed (resumed, or run again with the same id): its steps before finish change nothing. */
export function hasFinished(client: ClientWithPending, context: Pick<RotationContext, 'rotationId'>): boolean {
  return client.currentVersionId === context.rotationId || client.lastRotation?.rotationId === context.rotationId;
}

/** Runs a guarded write; if its condition fails, re-reads and accepts the outcome when `isDone` says the change is already there. */
export async function convergent<T>(write: () => Promise<T>, isDone: () => Promise<boolean>): Promise<T | undefined> {
  try {
    return await write();
  } catch (error) {
    if ((error as Error).name === 'ConditionFailed' && (await isDone())) return undefined;
    throw error;
  }
}
