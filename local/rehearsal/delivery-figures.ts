/**
 * The rehearsal's figures on how each consumer followed its key: how long after each rotation
 * it first used the new key (simulated minutes, from the authorizer's answers), how fast it
 * recovered after an emergency (wall-clock milliseconds: notice received, new key held, new
 * key used), and the pickup endpoint's latency. Key ids only, never a key.
 */
import type { CallerBehaviour, RequestOutcome } from './callers';

const MINUTE = 60_000;

/** What the delivery consumers observed as they ran, in wall-clock time. */
export interface DeliveryObservations {
  /** A consumer's provider started to hold another key (KeyProvider.onChange). */
  readonly keyChanges: readonly { readonly consumer: string; readonly wallMs: number; readonly keyId: string }[];
  /** A verified KeyRoll notice reached a consumer (its webhook or its queue). */
  readonly notices: readonly { readonly consumer: string; readonly wallMs: number; readonly type: string }[];
  /** One POST to the pickup endpoint: how long it took and its HTTP status. */
  readonly pickups: readonly { readonly consumer: string; readonly ms: number; readonly status: number }[];
}

/** No observations: a rehearsal without delivery consumers. */
export const NO_OBSERVATIONS: DeliveryObservations = { keyChanges: [], notices: [], pickups: [] };

/** A rotation as the figures need it. */
export interface RotationWindow {
  readonly clientId: string;
  readonly mode: string;
  readonly startedAtMs: number;
  readonly startedAtWallMs: number;
}

/** When one consumer first used its client's new key after one rotation. */
export interface SwitchRecord {
  readonly clientId: string;
  readonly mode: string;
  readonly consumer: string;
  readonly kind: CallerBehaviour;
  /** Simulated minutes from the rotation's start to the first request with another key; null: none before the next rotation or the end. */
  readonly afterMinutes: number | null;
}

/** How one consumer came back to a working key after an emergency rotation of its client. */
export interface EmergencyRecovery {
  readonly clientId: string;
  readonly consumer: string;
  readonly kind: CallerBehaviour;
  /** Wall-clock ms from the emergency's start to the key.emergency notice reaching the consumer (absent: none reached it). */
  readonly noticeAfterMs?: number;
  /** Wall-clock ms from the emergency's start to the consumer holding the new key (absent: it never did). */
  readonly heldAfterMs?: number;
  /** Wall-clock ms from the emergency's start to its first accepted request with the new key. */
  readonly usedAfterMs?: number;
  /** The same in simulated minutes (requests are one per simulated minute). */
  readonly usedAfterMinutes: number | null;
  /** Requests of this consumer refused after the emergency's start. */
  readonly failuresAfter: number;
}

/** Latency of the pickup endpoint as its consumers saw it (one local process, loopback). */
export interface PickupLatency {
  readonly requests: number;
  readonly failures: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The nearest-rank percentile `p` (0-100) of `values` (0 when empty). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * For every rotation and every consumer of the rotated client: the simulated minutes until its
 * first accepted request with a key other than the one it used just before the rotation.
 */
export function switchTimes(outcomes: readonly RequestOutcome[], rotations: readonly RotationWindow[]): SwitchRecord[] {
  const byConsumer = new Map<string, RequestOutcome[]>();
  for (const o of outcomes) {
    const mine = byConsumer.get(o.caller);
    if (mine) mine.push(o);
    else byConsumer.set(o.caller, [o]);
  }
  const records: SwitchRecord[] = [];
  const sorted = [...rotations].sort((a, b) => a.startedAtMs - b.startedAtMs);
  for (const [i, r] of sorted.entries()) {
    const nextOfClient = sorted.slice(i + 1).find((n) => n.clientId === r.clientId)?.startedAtMs ?? Infinity;
    for (const [consumer, mine] of byConsumer) {
      if (mine[0].clientId !== r.clientId) continue;
      const before = mine.filter((o) => o.atMs < r.startedAtMs && o.ok && o.keyId).at(-1)?.keyId;
      const first = mine.find((o) => o.atMs >= r.startedAtMs && o.atMs < nextOfClient && o.ok && o.keyId && o.keyId !== before);
      records.push({ clientId: r.clientId, mode: r.mode, consumer, kind: mine[0].behaviour, afterMinutes: first ? (first.atMs - r.startedAtMs) / MINUTE : null });
    }
  }
  return records;
}

/** For every emergency rotation and every consumer of its client that is not the never-updating one. */
export function emergencyRecoveries(outcomes: readonly RequestOutcome[], rotations: readonly RotationWindow[], observations: DeliveryObservations): EmergencyRecovery[] {
  const records: EmergencyRecovery[] = [];
  for (const r of rotations.filter((rotation) => rotation.mode === 'emergency')) {
    const consumers = [...new Set(outcomes.filter((o) => o.clientId === r.clientId && o.behaviour !== 'never').map((o) => o.caller))];
    for (const consumer of consumers) {
      const mine = outcomes.filter((o) => o.caller === consumer);
      const before = mine.filter((o) => o.atMs < r.startedAtMs && o.ok && o.keyId).at(-1)?.keyId;
      const used = mine.find((o) => o.atMs >= r.startedAtMs && o.ok && o.keyId && o.keyId !== before);
      const held = observations.keyChanges.find((c) => c.consumer === consumer && c.wallMs >= r.startedAtWallMs && c.keyId !== before);
      const notice = observations.notices.find((n) => n.consumer === consumer && n.wallMs >= r.startedAtWallMs && n.type === 'key.emergency');
      records.push({
        clientId: r.clientId,
        consumer,
        kind: mine[0].behaviour,
        ...(notice ? { noticeAfterMs: notice.wallMs - r.startedAtWallMs } : {}),
        ...(held ? { heldAfterMs: held.wallMs - r.startedAtWallMs } : {}),
        ...(used?.wallMs !== undefined ? { usedAfterMs: used.wallMs - r.startedAtWallMs } : {}),
        usedAfterMinutes: used ? (used.atMs - r.startedAtMs) / MINUTE : null,
        failuresAfter: mine.filter((o) => o.atMs >= r.startedAtMs && !o.ok).length,
      });
    }
  }
  return records;
}

/** p50/p99 of the pickup requests (undefined when no consumer picked up a key). */
export function pickupLatency(observations: DeliveryObservations): PickupLatency | undefined {
  if (observations.pickups.length === 0) return undefined;
  const ms = observations.pickups.map((p) => p.ms);
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    requests: ms.length,
    failures: observations.pickups.filter((p) => p.status !== 200).length,
    p50Ms: round(percentile(ms, 50)),
    p99Ms: round(percentile(ms, 99)),
    maxMs: round(Math.max(...ms)),
  };
}
