/** First step: validate the request and take the client's lock. Changes nothing on bad input. */
import { isoNow } from '../../core/clock';
import { assertValidRotationId, effectiveOverlapSeconds, parseRotationRequest } from '../../core/rotation-request';
import type { RotationContext, RotationDeps } from './context';

/** What the state machine passes in: the raw execution input and the execution name. */
export interface BeginRotationInput {
  readonly request: unknown;
  readonly rotationId: unknown;
}

/**
 * Validates the request, checks the client exists and takes its lock.
 *
 * @throws InvalidRotationInput, InvalidRotationId, UnknownClient, RotationInProgress
 */
export async function beginRotation(deps: RotationDeps, input: BeginRotationInput): Promise<RotationContext> {
  const request = parseRotationRequest(input.request, deps.settings.overlapBounds);
  assertValidRotationId(input.rotationId);
  const rotationId = input.rotationId;
  const client = await deps.keys.requireClient(request.clientId);
  const nowMs = deps.clock.nowMs();
  const now = isoNow(deps.clock);
  await deps.keys.acquireLock(
    client.clientId,
    { rotationId, acquiredAt: now, expiresAt: new Date(nowMs + deps.settings.lockTtlSeconds * 1000).toISOString() },
    { clientId: client.clientId, at: now, action: `rotation.started.${request.mode}`, actor: request.requestedBy, reason: request.reason, rotationId },
  );
  return {
    rotationId,
    clientId: client.clientId,
    secretId: client.secretId,
    mode: request.mode,
    reason: request.reason,
    requestedBy: request.requestedBy,
    overlapSeconds: effectiveOverlapSeconds(request, client.overlapSeconds, deps.settings.defaultOverlapSeconds, deps.settings.overlapBounds),
  };
}
