/**
 * `keyroll clients update`: change a client's delivery settings (AWS readers, notification
 * endpoints, pickup public keys) on its record, then have the delivery function project them
 * onto AWS. The table is the truth: the record changes by one compare-and-set on the previous
 * settings, with its audit entry in the same transaction, and the projection follows it.
 * Everything is validated before anything is read. Idempotent: asking for what is stored
 * writes nothing and still projects, so a re-run repairs a projection that drifted.
 */
import { createHash } from 'node:crypto';
import { isoNow } from '../../lambdas/core/clock';
import type { ClientDelivery } from '../../lambdas/core/delivery';
import { applyDeliveryChange, deliveryDifferences, sameDelivery } from '../../lambdas/core/delivery-request';
import { ClientOffboardedError, DeliveryUnavailableError } from '../../lambdas/core/errors';
import type { ClientRecord } from '../../lambdas/core/model';
import { parseDeliveryUpdateRequest, type DeliveryUpdateRequest } from '../../lambdas/core/ops-requests';
import type { DeliveryProjectionResult } from '../../lambdas/aws/delivery/delivery-projector';
import { deliveryParseOptions, type OpsDeps } from './ops-deps';

/** What a delivery update did. */
export interface UpdateDeliveryResult {
  /** The record after the update (and the projection). */
  readonly client: ClientRecord;
  /** False when the stored settings already were the requested ones (nothing written). */
  readonly changed: boolean;
  /** What the delivery function did (it runs in both cases). */
  readonly projection: DeliveryProjectionResult;
}

/** Rounds of "read, compare-and-set" before giving up on a record that keeps changing under us. */
const MAX_UPDATE_ROUNDS = 5;

/**
 * Changes a client's delivery settings and projects them.
 *
 * @param raw a {@link DeliveryUpdateRequest} (validated here).
 * @throws InvalidOperationInput, DeliveryUnavailable (no delivery projector): nothing changed;
 *   UnknownClient; ClientOffboarded; ConditionFailed after {@link MAX_UPDATE_ROUNDS} lost races.
 */
export async function updateClientDelivery(deps: OpsDeps, raw: unknown): Promise<UpdateDeliveryResult> {
  const request = await parseDeliveryUpdateRequest(raw, deliveryParseOptions(deps));
  const projector = deps.delivery;
  if (!projector) throw new DeliveryUnavailableError(request.clientId);
  const changed = await storeDelivery(deps, request);
  const projection = await projector.project(request.clientId);
  return { client: await deps.keys.requireClient(request.clientId), changed, projection };
}

/** Writes the new settings unless they are stored already; true if this call wrote them. */
async function storeDelivery(deps: OpsDeps, request: DeliveryUpdateRequest): Promise<boolean> {
  for (let round = 1; ; round++) {
    const client = await deps.keys.requireClient(request.clientId);
    if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
    const next = applyDeliveryChange(client.delivery, request.delivery);
    if (sameDelivery(client.delivery, next)) return false;
    const now = isoNow(deps.clock);
    try {
      await deps.keys.applyChange({
        client: {
          clientId: client.clientId,
          // Compare-and-set on what this round decided from: a concurrent update or offboarding makes it fail.
          expect: { delivery: client.delivery ?? null, offboardedAt: null },
          ...(isEmpty(next) ? { set: { updatedAt: now }, remove: ['delivery'] } : { set: { delivery: plain(next), updatedAt: now } }),
        },
        audit: [
          {
            clientId: client.clientId,
            at: now,
            action: 'client.delivery_updated',
            actor: request.requestedBy,
            reason: request.reason,
            detail: deliveryDifferences(client.delivery, next),
            sequence: digest(next),
          },
        ],
      });
      return true;
    } catch (error) {
      // Someone changed the settings (or offboarded the client) in between: read again and decide again.
      if ((error as Error).name !== 'ConditionFailed' || round >= MAX_UPDATE_ROUNDS) throw error;
    }
  }
}

function isEmpty(delivery: ClientDelivery): boolean {
  return delivery.readers.length + delivery.endpoints.length + delivery.pickupKeys.length === 0;
}

/** Plain JSON, as DynamoDB stores it (no undefined members, no shared references). */
function plain(delivery: ClientDelivery): ClientDelivery {
  return JSON.parse(JSON.stringify(delivery)) as ClientDelivery;
}

/**
 * Tells two updates recorded in the same millisecond apart (the audit key is client, time and
 * action): the same settings give the same entry (a retried write is a replay), others do not.
 */
function digest(delivery: ClientDelivery): string {
  return createHash('sha256').update(JSON.stringify(delivery)).digest('hex').slice(0, 16);
}
