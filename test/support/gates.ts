/**
 * Gates for ordering concurrent rotations in tests: a rotation waits at a state until the
 * test opens its gate, and the test waits until the rotation has got there.
 */

/** A rotation held before one of its states. */
export interface Gate {
  /** Resolves when the rotation has reached the gate. */
  readonly reached: Promise<void>;
  /** Lets the rotation go on. */
  open(): void;
  /** A `beforeTask` hook that stops at `state` (the first time it is reached). */
  readonly beforeTask: (state: string) => Promise<void>;
}

/** A gate before `state`. */
export function gateBefore(state: string): Gate {
  let arrive!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const opened = new Promise<void>((resolve) => (open = resolve));
  let passed = false;
  return {
    reached,
    open,
    beforeTask: async (current) => {
      if (current !== state || passed) return;
      passed = true;
      arrive();
      await opened;
    },
  };
}

/** Polls `condition` until it holds (or fails after `timeoutMs`). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
