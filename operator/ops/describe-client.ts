/** Read-only view of a client for operators: its record, keys, audit trail and schedule. No key material exists in any of them. */
import type { AuditEvent, ClientRecord, KeyRecord } from '../../lambdas/core/model';
import type { ClientSchedule } from '../../lambdas/aws/client-schedules';
import type { OpsDeps } from './ops-deps';

/** Everything KeyRoll knows about one client. */
export interface ClientDescription {
  readonly client: ClientRecord;
  /** Oldest first (byClient index). */
  readonly keys: readonly KeyRecord[];
  /** In the order the events happened. */
  readonly audit: readonly AuditEvent[];
  /** Absent when the client has no schedule (offboarded, or registered without a policy). */
  readonly schedule?: ClientSchedule;
}

/**
 * Reads a client (one GetItem, two Queries, one GetSchedule).
 *
 * @throws UnknownClient
 */
export async function describeClient(deps: OpsDeps, clientId: string): Promise<ClientDescription> {
  const client = await deps.keys.requireClient(clientId);
  const [keys, audit, schedule] = await Promise.all([deps.keys.listClientKeys(clientId), deps.keys.listAudit(clientId), deps.schedules.get(clientId)]);
  return { client, keys, audit, ...(schedule ? { schedule } : {}) };
}
