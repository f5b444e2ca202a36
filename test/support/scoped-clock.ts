/**
 * A manual clock with one timeline per async scope, so that rotations that jump the clock over
 * their Waits can run side by side in one process (one per client), each on its own time. The
 * handlers read the clock through the shared runtime dependencies; the scope travels with the
 * async context (AsyncLocalStorage), so a handler sees the timeline of the run that invoked it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ManualClock } from '../../lambdas/core/clock';

/** A {@link ManualClock} whose time, inside {@link ScopedClock.run}, is that scope's own. */
export class ScopedClock extends ManualClock {
  private readonly scope = new AsyncLocalStorage<ManualClock>();

  override nowMs(): number {
    return this.scope.getStore()?.nowMs() ?? super.nowMs();
  }

  override advance(ms: number): void {
    const own = this.scope.getStore();
    if (own) own.advance(ms);
    else super.advance(ms);
  }

  /** Runs `body` on a timeline of its own, starting at the shared timeline's now. */
  run<T>(body: () => Promise<T>): Promise<T> {
    return this.scope.run(new ManualClock(super.nowMs()), body);
  }
}
