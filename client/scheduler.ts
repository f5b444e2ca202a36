/**
 * Timers, injected so that background refreshes are testable with a manual clock. The
 * default does not keep the process alive: its timers are unref'd.
 */

/** Schedules one-shot callbacks. */
export interface Scheduler {
  /** Runs `callback` once after `delayMs`; returns a handle for {@link Scheduler.clearTimeout}. */
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Node's timers, unref'd so that a background refresh never keeps a process (or a Lambda invocation) alive. */
export const systemScheduler: Scheduler = {
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref?.();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
