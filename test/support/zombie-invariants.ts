/**
 * The end state the zombie matrix holds every run to (docs/design.md invariants 1, 4, 7, 8),
 * as a check that returns what is broken instead of failing at the first, so that the matrix
 * can report every point. Every violation starts with the name of the check it breaks
 * (`<check>: <detail>`), which the report counts by.
 *
 * The table is the truth; the labels must agree with it once nothing runs any more:
 * - `one-current`: exactly one version is AWSCURRENT;
 * - `labels-table`: AWSCURRENT is on the table's current version, AWSPREVIOUS only on the
 *   table's previous version (or nowhere); with none, never on the current version or an
 *   ACTIVE key's (test/support/resting-labels.ts);
 * - `pending-label`: AWSPENDING on no version but the current one, where a finished rotation
 *   leaves it (no rotation is in flight);
 * - `foreign-label`: no label but the AWS ones and the fence labels KeyRoll may use;
 * - `current-value`: the AWSCURRENT value hashes to the table's current key hash;
 * - `current-active`: that key is ACTIVE;
 * - `orphan-key`: every ACTIVE, PENDING or RETIRING key is the table's current or previous key;
 * - `lock`, `pending-pointer`: the lock is free and no pending pointer is left;
 * - where an emergency ran, `emergency-current`: the last emergency's key is ACTIVE and
 *   current (or, if the victim's lock request landed only after the emergencies had released
 *   the lock, the victim's: a rotation after the incident), and `pre-incident-revoked`: every key that existed before the first emergency
 *   started is REVOKED.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import type { ClientWithPending, RotationDeps } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { restingLabelViolations } from './resting-labels';
import { labels } from './step-helpers';

/** The checks, in the order they are reported. */
export const ZOMBIE_CHECKS = [
  'one-current',
  'labels-table',
  'pending-label',
  'foreign-label',
  'current-value',
  'current-active',
  'orphan-key',
  'lock',
  'pending-pointer',
  'emergency-current',
  'pre-incident-revoked',
] as const;
export type ZombieCheck = (typeof ZOMBIE_CHECKS)[number];

/**
 * Labels other than Secrets Manager's own that KeyRoll may leave on unlabelled (tombstone)
 * versions to fence a stopped rotation's late writes; ignored by the checks.
 */
export const FENCE_LABELS: ReadonlySet<string> = new Set(['KEYROLL_FENCE']);

const AWS_LABELS: ReadonlySet<string> = new Set([Stage.CURRENT, Stage.PREVIOUS, Stage.PENDING]);

/** The emergencies that ran against the client, for the incident checks. */
export interface Incident {
  /** The rotation id of the last emergency that ran (its key must be current). */
  readonly lastEmergencyRotationId: string;
  /** Key hashes of every key the client had when the first emergency started (all must be REVOKED). */
  readonly preIncidentKeyHashes: readonly string[];
  /**
   * A rotation that took the lock only after the emergencies had released it (its lock request
   * landed late, so nothing preempted it): a rotation after the incident, which is allowed.
   * Its key, not the emergency's, must then be current.
   */
  readonly supersededBy?: string;
}

/** Everything broken in the client's end state (empty: it holds). */
export async function zombieEndStateViolations(deps: Pick<RotationDeps, 'keys' | 'secrets'>, clientId: string, incident?: Incident): Promise<string[]> {
  const v: string[] = [];
  const client = (await deps.keys.requireClient(clientId)) as ClientWithPending;
  const stages = await labels(client.secretId);
  const withLabel = (label: string) =>
    Object.entries(stages)
      .filter(([, l]) => l.includes(label))
      .map(([id]) => id);

  const current = withLabel(Stage.CURRENT);
  if (current.length !== 1) v.push(`one-current: ${current.length} versions are AWSCURRENT`);
  if (current[0] !== client.currentVersionId) v.push(`labels-table: AWSCURRENT is on ${current[0] ?? 'nothing'}, the table's current version is ${client.currentVersionId}`);
  // Strongly consistent reads of every key: the index only lists them.
  const keys = await Promise.all((await deps.keys.listClientKeys(clientId)).map(async (k) => (await deps.keys.getKey(k.keyHash)) ?? k));
  const resting = restingLabelViolations(stages, client, keys, { previousMayBeMissing: true });
  if (resting.previous) v.push(`labels-table: ${resting.previous}`);
  if (resting.pending) v.push(`pending-label: ${resting.pending}`);
  const foreign = Object.entries(stages).flatMap(([id, l]) => l.filter((label) => !AWS_LABELS.has(label) && !FENCE_LABELS.has(label)).map((label) => `${label} on ${id}`));
  if (foreign.length > 0) v.push(`foreign-label: ${foreign.join(', ')}`);

  const value = await deps.secrets.readStage(client.secretId, Stage.CURRENT);
  if (!value || hashApiKey(value.value.apiKey) !== client.currentKeyHash)
    v.push(`current-value: the AWSCURRENT value (${value?.versionId ?? 'none'}) does not hash to the table's current key ${client.currentKeyId}`);
  const currentKey = keys.find((k) => k.keyHash === client.currentKeyHash);
  if (currentKey?.state !== KeyState.ACTIVE) v.push(`current-active: the table's current key ${client.currentKeyId} is ${currentKey?.state ?? 'missing'}`);
  const orphans = keys.filter((k) => k.state !== KeyState.REVOKED && k.keyHash !== client.currentKeyHash && k.keyHash !== client.previousKeyHash);
  if (orphans.length > 0) v.push(`orphan-key: ${orphans.map((k) => `${k.keyId} (${k.rotationId ?? 'initial'}) is ${k.state}`).join(', ')} but neither current nor previous`);

  if (client.lock) v.push(`lock: held by ${client.lock.rotationId}`);
  if (client.pendingRotationId || client.pendingKeyHash) v.push(`pending-pointer: ${client.pendingRotationId ?? client.pendingKeyId} left`);

  if (incident) {
    const lastMaker = incident.supersededBy ?? incident.lastEmergencyRotationId;
    const emergencyKey = keys.find((k) => k.rotationId === lastMaker);
    if (!emergencyKey) v.push(`emergency-current: the last emergency ${lastMaker} has no key`);
    else if (emergencyKey.keyHash !== client.currentKeyHash || emergencyKey.state !== KeyState.ACTIVE) {
      v.push(
        `emergency-current: the last emergency's key ${emergencyKey.keyId} is ${emergencyKey.state}${emergencyKey.keyHash === client.currentKeyHash ? '' : `, the current key is ${client.currentKeyId} (${currentKey?.rotationId ?? 'initial'})`}`,
      );
    }
    const alive = incident.preIncidentKeyHashes.map((hash) => keys.find((k) => k.keyHash === hash)).filter((k) => k !== undefined && k.state !== KeyState.REVOKED);
    if (alive.length > 0) v.push(`pre-incident-revoked: ${alive.map((k) => `${k!.keyId} (${k!.rotationId ?? 'initial'}) is ${k!.state}`).join(', ')}`);
  }
  return v;
}

/** The check a violation breaks (its prefix). */
export function checkOf(violation: string): string {
  return violation.slice(0, Math.max(0, violation.indexOf(':'))) || 'other';
}
