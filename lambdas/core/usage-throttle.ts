/**
 * Decides when a container records that a key was used. A busy key would otherwise cause
 * one DynamoDB write per request; with this, each container writes at most once per key
 * per interval, and the conditional update in the repository keeps the fleet as a whole
 * near one write per key per interval.
 */
import type { Clock } from './clock';

/** Per-container memory of when each key's use was last written. */
export class UsageThrottle {
  private readonly lastWrittenMs = new Map<string, number>();

  /**
   * @param intervalMs how stale lastUsedAt may be; also the reminder loop's resolution.
   * @param maxEntries keys remembered at most (the oldest are forgotten first).
   */
  constructor(
    private readonly clock: Clock,
    readonly intervalMs: number,
    private readonly maxEntries = 10_000,
  ) {
    if (!(Number.isFinite(intervalMs) && intervalMs > 0)) throw new RangeError(`intervalMs must be positive; got ${intervalMs}.`);
  }

  /** True (and remembered) if this key's use should be written now; false within the interval. */
  claim(keyHash: string): boolean {
    const now = this.clock.nowMs();
    const last = this.lastWrittenMs.get(keyHash);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.lastWrittenMs.delete(keyHash);
    if (this.lastWrittenMs.size >= this.maxEntries) {
      const oldest = this.lastWrittenMs.keys().next();
      if (!oldest.done) this.lastWrittenMs.delete(oldest.value);
    }
    this.lastWrittenMs.set(keyHash, now);
    return true;
  }
}
