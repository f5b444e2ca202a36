/**
 * First step: validate the request and take the client's lock. Changes nothing on bad input.
 *
 * Before the lock (so a refusal changes nothing): the rotation id must be new for the client
 * (rotation-id-guard.ts: RotationAlreadyRan, RotationIdCollision) and Secrets Manager's own
 * rotation must be off for its secret (NativeRotationEnabled).
 *
 * A lock held by another rotation (lock-holder.ts decides with DescribeExecution):
 * - its holder is quiet (execution ended longer ago than the zombie window, or gone): any mode
 *   takes the lock over (one conditional write, audited `lock.taken_over` with the holder's
 *   status) and cleans up after the holder as a preemption does;
 * - otherwise an emergency preempts it: takes the lock from it (one conditional write, audited
 *   `rotation.preempted`), stops that execution (StopExecution on `<state machine>:<held
 *   rotation id>`) and undoes it if it had not finished. The lock is taken first, so the
 *   stopped rotation's in-flight step can no longer write: every step's write is guarded by
 *   the lock;
 * - any other mode gets RotationInProgress (saying when to retry when the holder has ended).
 * The lock records whom it took over from, so a retry after a crash finishes the clean-up.
 */
import { isoNow } from '../../core/clock';
import { ClientOffboardedError, NativeRotationEnabledError, RotationInProgressError } from '../../core/errors';
import type { ClientRecord, RotationLock } from '../../core/model';
import { assertValidRotationId, effectiveOverlapSeconds, parseRotationRequest, RotationMode, type RotationRequest } from '../../core/rotation-request';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../core/zombie-window';
import type { ClientWithPending, RotationContext, RotationDeps } from './context';
import { lockHolderState } from './lock-holder';
import { stopAndCleanUp } from './preempt-rotation';
import { assertRotationIdUsable } from './rotation-id-guard';

/** What the state machine passes in: the raw execution input and the execution name. */
export interface BeginRotationInput {
  readonly request: unknown;
  readonly rotationId: unknown;
}

/** How often a preemption re-reads the lock when its holder changes under it. */
const MAX_LOCK_ATTEMPTS = 3;

/**
 * Validates the request, checks the client exists, that the rotation id is new for it and that
 * native rotation is off, and takes its lock (taking over an orphaned lock, or preempting an
 * in-flight rotation in emergency mode).
 *
 * @throws InvalidRotationInput, InvalidRotationId, UnknownClient, ClientOffboarded,
 *   RotationAlreadyRan, RotationIdCollision, NativeRotationEnabled, RotationInProgress
 */
export async function beginRotation(deps: RotationDeps, input: BeginRotationInput): Promise<RotationContext> {
  const request = parseRotationRequest(input.request, deps.settings.overlapBounds);
  assertValidRotationId(input.rotationId);
  const rotationId = input.rotationId;
  const client = (await deps.keys.requireClient(request.clientId)) as ClientWithPending;
  if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
  await assertRotationIdUsable(deps, client, rotationId);
  // A retry of this execution checked on its first attempt; refusing now would strand its own lock.
  if (client.lock?.rotationId !== rotationId && (await deps.secrets.nativeRotationEnabled(client.secretId))) {
    throw new NativeRotationEnabledError(client.clientId, client.secretId);
  }
  await lock(deps, client, request, rotationId);
  // The client's policy may cap the overlap below the deployment's maximum.
  const bounds = { ...deps.settings.overlapBounds, maxSeconds: Math.min(deps.settings.overlapBounds.maxSeconds, client.policy?.maxOverlapSeconds ?? Number.POSITIVE_INFINITY) };
  const overlapSeconds = effectiveOverlapSeconds(request, client.overlapSeconds, deps.settings.defaultOverlapSeconds, bounds);
  if (deps.executions) {
    // Also on a retry: the lock remembers whom it took over from, and the clean-up is idempotent.
    const locked = (await deps.keys.requireClient(client.clientId)) as ClientWithPending;
    const preempted = locked.lock?.rotationId === rotationId ? locked.lock.preemptedRotationId : undefined;
    if (preempted) {
      // An orphan's key that was AWSCURRENT may be in clients' hands: only an emergency cuts it
      // off (invariant 2); otherwise it keeps working for this rotation's overlap.
      const graceSeconds = request.mode === RotationMode.EMERGENCY ? 0 : overlapSeconds;
      try {
        await stopAndCleanUp({ ...deps, executions: deps.executions }, locked, preempted, { by: rotationId, actor: request.requestedBy, reason: request.reason, graceSeconds });
      } catch (error) {
        // Another emergency took the lock from this one during the clean-up: refused like any
        // start that finds the lock held (the clean-up is the new holder's now).
        const holder = (await deps.keys.requireClient(client.clientId)).lock?.rotationId;
        if (holder !== rotationId) throw new RotationInProgressError(client.clientId, holder ?? 'nobody');
        throw error;
      }
    }
  }
  return {
    rotationId,
    clientId: client.clientId,
    secretId: client.secretId,
    mode: request.mode,
    reason: request.reason,
    requestedBy: request.requestedBy,
    overlapSeconds,
    ...(request.revokeImmediately ? { revokeImmediately: true } : {}),
    ...(request.callbackToken ? { callbackToken: request.callbackToken } : {}),
  };
}

/**
 * Takes the lock; takes it over from a quiet holder (any mode); or, in an emergency with
 * executions to stop, preempts a live holder.
 */
async function lock(deps: RotationDeps, client: ClientRecord, request: RotationRequest, rotationId: string): Promise<void> {
  const nowMs = deps.clock.nowMs();
  const now = isoNow(deps.clock);
  const expiresAt = new Date(nowMs + deps.settings.lockTtlSeconds * 1000).toISOString();
  const audit = { clientId: client.clientId, at: now, actor: request.requestedBy, reason: request.reason, rotationId };
  const started = { ...audit, action: `rotation.started.${request.mode}` };
  const emergency = request.mode === RotationMode.EMERGENCY;
  if (client.lock?.rotationId === rotationId) {
    // A retry: the lock (and whom it took over from) stays as the first attempt wrote it.
    await deps.keys.applyChange({ audit: [started] });
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.keys.acquireLock(client.clientId, { rotationId, acquiredAt: now, expiresAt }, started);
      return;
    } catch (error) {
      if (!(error instanceof RotationInProgressError) || !deps.executions || attempt >= MAX_LOCK_ATTEMPTS || error.heldBy === 'unknown') throw error;
      const held = (await deps.keys.requireClient(client.clientId)).lock;
      // Released or changed hands since: try again with what is there now.
      if (held?.rotationId !== error.heldBy) continue;
      const holder = await lockHolderState(deps.executions, held, nowMs, deps.settings.zombieWindowSeconds ?? DEFAULT_ZOMBIE_WINDOW_SECONDS);
      if (!holder.quiet && !emergency) {
        throw new RotationInProgressError(client.clientId, held.rotationId, { why: holder.detail, ...(holder.quietAt ? { retryAfter: holder.quietAt } : {}) });
      }
      const takeover: RotationLock = { rotationId, acquiredAt: now, expiresAt, preemptedRotationId: held.rotationId };
      const event = holder.quiet
        ? { ...audit, action: 'lock.taken_over', detail: `from ${held.rotationId}: ${holder.detail}` }
        : { ...audit, action: 'rotation.preempted', detail: `stopped rotation ${held.rotationId}` };
      try {
        await deps.keys.takeOverLock(client.clientId, held.rotationId, takeover, event);
        await deps.keys.applyChange({ audit: [started] });
        return;
      } catch (takeoverError) {
        // The holder changed in between (it finished, or another emergency won): look again.
        if (!(takeoverError instanceof RotationInProgressError)) throw takeoverError;
      }
    }
  }
}
