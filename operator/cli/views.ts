/**
 * What the CLI shows of clients, keys and audit events, as plain objects (for --json) and as
 * text. Built from records that never hold key material: hashes are left out too.
 */
import type { ClientSchedule } from '../../lambdas/aws/client-schedules';
import type { AuditEvent, ClientRecord, KeyRecord, RotationPolicy } from '../../lambdas/core/model';
import { formatDuration } from './arguments';
import { deliveryView } from './delivery-options';
import { relative, table, timestamp } from './output';

/** A key as the CLI shows it. */
export interface KeyView {
  readonly keyId: string;
  readonly state: string;
  /** current (AWSCURRENT), previous (in its overlap), pending (being created), or none. */
  readonly role: 'current' | 'previous' | 'pending' | 'none';
  readonly rotationId: string;
  readonly createdAt: string;
  readonly activatedAt?: string;
  readonly lastUsedAt?: string;
  readonly notAfter?: string;
  readonly revokedAt?: string;
  readonly scopes: readonly string[];
}

/** The client record fields the CLI reads beyond ClientRecord (the pending pointers). */
type ClientWithPointers = ClientRecord & { readonly pendingKeyId?: string; readonly pendingRotationId?: string };

export function keyViews(client: ClientRecord, keys: readonly KeyRecord[]): KeyView[] {
  const withPointers = client as ClientWithPointers;
  return keys.map((key) => ({
    keyId: key.keyId,
    state: key.state,
    role: key.keyId === client.currentKeyId ? 'current' : key.keyId === client.previousKeyId ? 'previous' : key.keyId === withPointers.pendingKeyId ? 'pending' : 'none',
    rotationId: key.rotationId,
    createdAt: key.createdAt,
    ...(key.activatedAt ? { activatedAt: key.activatedAt } : {}),
    ...(key.lastUsedAt ? { lastUsedAt: key.lastUsedAt } : {}),
    ...(key.notAfter ? { notAfter: key.notAfter } : {}),
    ...(key.revokedAt ? { revokedAt: key.revokedAt } : {}),
    scopes: [...(key.scopes ?? [])],
  }));
}

export function keysTable(keys: readonly KeyView[], nowMs: number): string {
  if (keys.length === 0) return '  (no keys)';
  return indent(
    table(
      ['KEY ID', 'STATE', 'ROLE', 'AGE', 'LAST USED', 'NOT AFTER', 'REVOKED'],
      keys.map((key) => [
        key.keyId,
        key.state,
        key.role === 'none' ? '-' : key.role,
        relative(key.createdAt, nowMs).replace(/ ago$/, ''),
        key.lastUsedAt ? relative(key.lastUsedAt, nowMs) : 'never',
        key.notAfter ? `${timestamp(key.notAfter)} (${relative(key.notAfter, nowMs)})` : '-',
        key.revokedAt ? relative(key.revokedAt, nowMs) : '-',
      ]),
    ),
  );
}

/** The client record as the CLI shows it (no hashes). */
export function clientView(client: ClientRecord) {
  const withPointers = client as ClientWithPointers;
  return {
    clientId: client.clientId,
    status: client.offboardedAt ? 'offboarded' : 'active',
    secretId: client.secretId,
    scopes: [...client.scopes],
    currentKeyId: client.currentKeyId,
    ...(client.previousKeyId ? { previousKeyId: client.previousKeyId } : {}),
    ...(withPointers.pendingKeyId ? { pendingKeyId: withPointers.pendingKeyId, pendingRotationId: withPointers.pendingRotationId } : {}),
    ...(client.overlapSeconds !== undefined ? { overlapSeconds: client.overlapSeconds } : {}),
    ...(client.policy ? { policy: client.policy } : {}),
    ...(client.lock ? { lock: client.lock } : {}),
    ...(client.lastRotation ? { lastRotation: client.lastRotation } : {}),
    ...(client.offboardedAt ? { offboardedAt: client.offboardedAt } : {}),
    // Readers, endpoints without their secrets, kids: never a JWK or a webhook token.
    ...(client.delivery ? { delivery: deliveryView(client.delivery) } : {}),
    // The subscriptions KeyRoll made (their ARNs, not the endpoints), so an operator can tell them from any other.
    ...(client.deliveryProjection ? { deliveryProjection: { subscriptionArns: client.deliveryProjection.subscriptions.map((s) => s.subscriptionArn), projectedAt: client.deliveryProjection.projectedAt } } : {}),
    createdAt: client.createdAt,
    updatedAt: client.updatedAt,
  };
}

export function policyText(policy: RotationPolicy | undefined): string {
  if (!policy) return 'none (no scheduled rotations)';
  const overlap = policy.overlapSeconds !== undefined ? formatDuration(policy.overlapSeconds) : 'deployment default';
  const deadline = policy.maxOverlapSeconds !== undefined ? formatDuration(policy.maxOverlapSeconds) : 'deployment maximum';
  return `every ${policy.intervalDays}d in ${policy.window.start}-${policy.window.end} ${policy.timeZone}; overlap ${overlap}, hard deadline ${deadline}`;
}

export function scheduleView(schedule: ClientSchedule | undefined) {
  if (!schedule) return undefined;
  return {
    name: schedule.name,
    groupName: schedule.groupName,
    expression: schedule.expression,
    ...(schedule.timeZone ? { timeZone: schedule.timeZone } : {}),
    ...(schedule.startDate ? { startDate: schedule.startDate } : {}),
    ...(schedule.flexibleWindowMinutes !== undefined ? { flexibleWindowMinutes: schedule.flexibleWindowMinutes } : {}),
    ...(schedule.state ? { state: schedule.state } : {}),
  };
}

export function scheduleText(schedule: ClientSchedule | undefined): string {
  if (!schedule) return 'none';
  const start = schedule.startDate ? `, first ${timestamp(schedule.startDate)}` : '';
  const window = schedule.flexibleWindowMinutes ? `, flexible ${schedule.flexibleWindowMinutes} min` : '';
  return `${schedule.expression} ${schedule.timeZone ?? 'UTC'}${start}${window} (${schedule.state ?? 'unknown'})`;
}

export function auditTable(events: readonly AuditEvent[]): string {
  if (events.length === 0) return '  (no events)';
  return indent(
    table(
      ['AT', 'ACTION', 'ACTOR', 'KEY / ROTATION', 'REASON'],
      events.map((event) => [timestamp(event.at), event.action, event.actor, [event.keyId, event.rotationId].filter(Boolean).join(' ') || '-', [event.reason, event.detail].filter(Boolean).join(' — ')]),
    ),
  );
}

export function indent(text: string, by = '  '): string {
  return text
    .split('\n')
    .map((line) => (line ? by + line : line))
    .join('\n');
}
