/** A source of the current time, injected so that domain logic is testable. */
export interface Clock {
  /** Milliseconds since the epoch. */
  nowMs(): number;
}

/** The wall clock. */
export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that returns a fixed instant and can be advanced by tests. */
export class ManualClock implements Clock {
  constructor(private currentMs: number) {}
  nowMs(): number {
    return this.currentMs;
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.currentMs += ms;
  }
}

/** ISO-8601 timestamp of the clock's current instant. */
export function isoNow(clock: Clock): string {
  return new Date(clock.nowMs()).toISOString();
}
