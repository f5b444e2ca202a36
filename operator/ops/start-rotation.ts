/**
 * Starting a rotation by hand (manual or emergency): the request is validated here, with the
 * same schema the state machine applies, so bad input is refused before anything starts; the
 * execution name is the rotation id. Starting the same rotation id again is harmless.
 */
import { randomUUID } from 'node:crypto';
import { ClientOffboardedError } from '../../lambdas/core/errors';
import { assertValidRotationId, parseRotationRequest, type RotationRequest } from '../../lambdas/core/rotation-request';
import type { StartedRotation } from '../../lambdas/aws/rotation-executions';
import type { OpsDeps } from './ops-deps';

/** A rotation request plus, optionally, its id (to resume or de-duplicate a start). */
export type StartRotationRequest = RotationRequest & {
  /** 32-64 characters of [A-Za-z0-9_-]. @default `<mode>-<uuid>` */
  readonly rotationId?: string;
};

/**
 * Starts a rotation. Emergency rotations preempt one in flight (see beginRotation); with
 * `revokeImmediately` every existing key stops working at createSecret.
 *
 * @param raw a {@link StartRotationRequest} (validated here).
 * @throws InvalidRotationInput, InvalidRotationId (nothing started), UnknownClient, ClientOffboarded
 */
export async function startRotation(deps: OpsDeps, raw: unknown): Promise<StartedRotation> {
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  const { rotationId: rawId, ...fields } = isObject ? (raw as Record<string, unknown>) : {};
  const request = parseRotationRequest(isObject ? fields : raw, deps.settings.overlapBounds);
  const rotationId = rawId ?? `${request.mode}-${randomUUID()}`;
  assertValidRotationId(rotationId);
  const client = await deps.keys.requireClient(request.clientId);
  if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
  return deps.executions.start(rotationId, request);
}
