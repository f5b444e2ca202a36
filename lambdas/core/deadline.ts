/**
 * A time by which work must be over, for callers that run inside a time limit (a Lambda
 * invocation): retries ask it how much time is left before they start an attempt. Pure
 * apart from the clock it is given.
 */

/** What a Lambda context offers about its time limit. */
export interface InvocationTimer {
  getRemainingTimeInMillis(): number;
}

/** An absolute deadline on a millisecond clock. */
export class Deadline {
  constructor(
    /** The deadline, in the clock's milliseconds. */
    readonly atMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * The deadline of the running invocation less `reserveMs`, the time kept to answer after
   * the last call (response, metrics flush).
   */
  static ofInvocation(timer: InvocationTimer, reserveMs: number, nowMs: () => number = Date.now): Deadline {
    return new Deadline(nowMs() + timer.getRemainingTimeInMillis() - reserveMs, nowMs);
  }

  /** Milliseconds left; zero or negative once the deadline has passed. */
  remainingMs(): number {
    return this.atMs - this.nowMs();
  }
}
