/**
 * Simulated time for the rehearsal: one manual clock that every component reads (handlers,
 * verifier, usage recorder, key providers), advanced tick by tick by the driver. Rotations
 * waiting in a Wait state park here until the clock reaches their target.
 */
import { ManualClock } from '../../lambdas/core/clock';

interface Waiter {
  readonly targetMs: number;
  readonly resolve: () => void;
}

/** The clock plus the executions waiting on it. */
export class SimulatedTime {
  readonly clock: ManualClock;
  private waiters: Waiter[] = [];
  private running = 0;

  constructor(startMs: number) {
    this.clock = new ManualClock(startMs);
  }

  nowMs(): number {
    return this.clock.nowMs();
  }

  /** Resolves once the clock has reached `targetMs` (at once if it already has). */
  waitUntil = (targetMs: number): Promise<void> => {
    if (this.clock.nowMs() >= targetMs) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ targetMs, resolve }));
  };

  /** Counts an activity (a rotation) as running until `work` settles or parks in {@link waitUntil}. */
  async track<T>(work: (waitUntil: (targetMs: number) => Promise<void>) => Promise<T>): Promise<T> {
    this.running += 1;
    const parkingWait = async (targetMs: number) => {
      if (this.clock.nowMs() >= targetMs) return;
      this.running -= 1;
      try {
        await this.waitUntil(targetMs);
      } finally {
        this.running += 1;
      }
    };
    try {
      return await work(parkingWait);
    } finally {
      this.running -= 1;
    }
  }

  /** Moves the clock to `targetMs` and wakes the waiters that are due. */
  advanceTo(targetMs: number): void {
    if (targetMs > this.clock.nowMs()) this.clock.advance(targetMs - this.clock.nowMs());
    const due = this.waiters.filter((w) => w.targetMs <= targetMs);
    this.waiters = this.waiters.filter((w) => w.targetMs > targetMs);
    for (const waiter of due) waiter.resolve();
  }

  /** Resolves once every tracked activity is parked or finished (real I/O included). */
  async settle(): Promise<void> {
    // Give woken executions a chance to start before checking.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.running > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
