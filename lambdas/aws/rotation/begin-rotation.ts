/**
 * First step: validate the request and take the client's lock. Changes nothing on bad input.
 *
 * Emergency preemption: an emergency rotation that finds the lock held by another rotation
 * takes the lock from it (one conditional write, audited with the emergency's actor and
 * reason), stops that execution (StopExecution on `<state machine>:<held rotation id>`) and
 * undoes it if it had not finished. The lock is taken first, so the stopped rotation's
 * in-flight step can no longer write: every step's write is guarded by the lock. The lock
 * records whom it preempted, so a retry after a crash finishes the clean-up. Any other mode
 * gets RotationInProgress.
 */
import { isoNow } from '../../core/clock';
import { ClientOffboardedError, RotationInProgressError } from '../../core/errors';
import type { ClientRecord, RotationLock } from '../../core/model';
import { assertValidRotationId, effectiveOverlapSeconds, parseRotationRequest, RotationMode, type RotationRequest } from '../../core/rotation-request';
import type { ClientWithPending, RotationContext, RotationDeps } from './context';
import { stopAndCleanUp } from './preempt-rotation';

/** What the state machine passes in: the raw execution input and the execution name. */
export interface BeginRotationInput {
  readonly request: unknown;
  readonly rotationId: unknown;
}

/** How often a preemption re-reads the lock when its holder changes under it. */
const MAX_LOCK_ATTEMPTS = 3;

/**
 * Validates the request, checks the client exists and takes its lock (preempting an
 * in-flight rotation in emergency mode).
 *
 * @throws InvalidRotationInput, InvalidRotationId, UnknownClient, ClientOffboarded, RotationInProgress
 */
export async function beginRotation(deps: RotationDeps, input: BeginRotationInput): Promise<RotationContext> {
  const request = parseRotationRequest(input.request, deps.settings.overlapBounds);
  assertValidRotationId(input.rotationId);
  const rotationId = input.rotationId;
  const client = await deps.keys.requireClient(request.clientId);
  if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
  await lock(deps, client, request, rotationId);
  if (request.mode === RotationMode.EMERGENCY && deps.executions) {
    // Also on a retry: the lock remembers whom it preempted, and the clean-up is idempotent.
    const locked = (await deps.keys.requireClient(client.clientId)) as ClientWithPending;
    const preempted = locked.lock?.rotationId === rotationId ? locked.lock.preemptedRotationId : undefined;
    if (preempted) await stopAndCleanUp({ ...deps, executions: deps.executions }, locked, preempted, { by: rotationId, actor: request.requestedBy, reason: request.reason });
  }
  // The client's policy may cap the overlap below the deployment's maximum.
  const bounds = { ...deps.settings.overlapBounds, maxSeconds: Math.min(deps.settings.overlapBounds.maxSeconds, client.policy?.maxOverlapSeconds ?? Number.POSITIVE_INFINITY) };
  return {
    rotationId,
    clientId: client.clientId,
    secretId: client.secretId,
    mode: request.mode,
    reason: request.reason,
    requestedBy: request.requestedBy,
    overlapSeconds: effectiveOverlapSeconds(request, client.overlapSeconds, deps.settings.defaultOverlapSeconds, bounds),
    ...(request.revokeImmediately ? { revokeImmediately: true } : {}),
    ...(request.callbackToken ? { callbackToken: request.callbackToken } : {}),
  };
}

/** Takes the lock, or (emergency, with executions to stop) takes it over from the rotation that holds it. */
async function lock(deps: RotationDeps, client: ClientRecord, request: RotationRequest, rotationId: string): Promise<void> {
  const nowMs = deps.clock.nowMs();
  const now = isoNow(deps.clock);
  const expiresAt = new Date(nowMs + deps.settings.lockTtlSeconds * 1000).toISOString();
  const audit = { clientId: client.clientId, at: now, actor: request.requestedBy, reason: request.reason, rotationId };
  const canPreempt = request.mode === RotationMode.EMERGENCY && deps.executions !== undefined;
  if (client.lock?.rotationId === rotationId) {
    // A retry: the lock (and whom it preempted) stays as the first attempt wrote it.
    await deps.keys.applyChange({ audit: [{ ...audit, action: `rotation.started.${request.mode}` }] });
    return;
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await deps.keys.acquireLock(client.clientId, { rotationId, acquiredAt: now, expiresAt }, { ...audit, action: `rotation.started.${request.mode}` });
      return;
    } catch (error) {
      if (!(error instanceof RotationInProgressError) || !canPreempt || attempt >= MAX_LOCK_ATTEMPTS || error.heldBy === 'unknown') throw error;
      const held = error.heldBy;
      const takeover: RotationLock = { rotationId, acquiredAt: now, expiresAt, preemptedRotationId: held };
      try {
        await deps.keys.takeOverLock(client.clientId, held, takeover, { ...audit, action: 'rotation.preempted', detail: `stopped rotation ${held}` });
        await deps.keys.applyChange({ audit: [{ ...audit, action: `rotation.started.${request.mode}` }] });
        return;
      } catch (takeoverError) {
        // The holder changed in between (it finished, or another emergency won): look again.
        if (!(takeoverError instanceof RotationInProgressError)) throw takeoverError;
      }
    }
  }
}
