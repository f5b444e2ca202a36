/**
 * Writes lastUsedAt for accepted keys, at most once per key per interval per container
 * (the throttle) and about once per interval for the fleet (the conditional update).
 */
import type { Clock } from '../../core/clock';
import type { Deadline } from '../../core/deadline';
import { UsageThrottle } from '../../core/usage-throttle';
import type { UsageWriter } from '../key-access';

/** What happened to one use: written, skipped by the throttle, already recorded by another writer, or failed. */
export type UsageOutcome = 'written' | 'throttled' | 'recent' | 'failed';

/** Records key use without ever failing the request it belongs to. */
export class UsageRecorder {
  private readonly throttle: UsageThrottle;

  constructor(
    private readonly keys: UsageWriter,
    private readonly clock: Clock,
    intervalMs: number,
  ) {
    this.throttle = new UsageThrottle(clock, intervalMs);
  }

  /** Records a use of the key with this hash, giving up by `deadline`. Resolves, never rejects. */
  async record(keyHash: string, deadline?: Deadline): Promise<UsageOutcome> {
    if (!this.throttle.claim(keyHash)) return 'throttled';
    const nowMs = this.clock.nowMs();
    // Stale means "at least one interval old", the throttle's own rule (now - last >= interval),
    // so a use recorded exactly one interval ago is replaced, not kept for another interval.
    const staleBefore = new Date(nowMs - this.throttle.intervalMs + 1).toISOString();
    try {
      const wrote = await this.keys.recordUse(keyHash, new Date(nowMs).toISOString(), staleBefore, deadline);
      return wrote ? 'written' : 'recent';
    } catch {
      // A lost usage write only delays retirement evidence; the request must not fail for it.
      return 'failed';
    }
  }
}
