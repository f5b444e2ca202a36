/**
 * Whether the holder of a client's lock can still write: the one question behind taking an
 * orphaned lock over (beginRotation) and the operator's unlock. docs/design.md invariant 4
 * (one rotation per client) must survive both, so a lock is let go only when nothing of its
 * holder can still land:
 *
 * - a rotation whose execution is RUNNING (or PENDING_REDRIVE: it is about to run again) is live;
 * - a rotation whose execution ended (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) is quiet once the
 *   zombie window has passed since its stopDate (lambdas/core/zombie-window.ts);
 * - a rotation whose execution cannot be found (state machine replaced or renamed, history
 *   expired, or a local run) has no stopDate: it is quiet once its lock is older than the
 *   window, and only the lock-conditioned writes (invariant 7) make a late write harmless;
 * - an operator's operation lock (`<rotationId>.rollback`, not an execution name) has no
 *   execution to ask: it is held by one short CLI call, so it is quiet only when it expires
 *   (an hour after it was taken), as acquireLock already decides.
 */
import type { RotationLock } from '../../core/model';
import { ROTATION_ID_PATTERN } from '../../core/rotation-request';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS, quietAfterMs } from '../../core/zombie-window';
import type { ExecutionStatus, RotationExecutions } from '../rotation-executions';

/** How the lock's holder stands. */
export interface LockHolderState {
  readonly holder: string;
  /** The holder's execution status, or `operation` for an operator's operation lock. */
  readonly status: ExecutionStatus | 'operation';
  /** True when nothing of the holder can write any more: its lock may be taken over or released. */
  readonly quiet: boolean;
  /** When a holder that is not quiet yet will be (absent while its execution runs). */
  readonly quietAt?: string;
  /** One clause for messages and the audit trail, e.g. `its execution ended ABORTED at 2026-...`. Ids and times only. */
  readonly detail: string;
}

/** True for a lock held by an operator's operation rather than by a rotation's execution. */
export function isOperationLock(lock: Pick<RotationLock, 'rotationId'>): boolean {
  return !ROTATION_ID_PATTERN.test(lock.rotationId);
}

/**
 * Asks Step Functions how `lock`'s holder stands (one DescribeExecution) and decides whether it
 * is quiet at `nowMs`.
 */
export async function lockHolderState(executions: RotationExecutions, lock: RotationLock, nowMs: number, windowSeconds: number = DEFAULT_ZOMBIE_WINDOW_SECONDS): Promise<LockHolderState> {
  const holder = lock.rotationId;
  const at = (ms: number) => new Date(ms).toISOString();
  if (isOperationLock(lock)) {
    const expiresMs = Date.parse(lock.expiresAt);
    return { holder, status: 'operation', quiet: expiresMs <= nowMs, quietAt: lock.expiresAt, detail: `it is the operator operation ${holder}, whose lock expires at ${lock.expiresAt}` };
  }
  const execution = await executions.describe(holder);
  if (execution.status === 'RUNNING' || execution.status === 'PENDING_REDRIVE') {
    return { holder, status: execution.status, quiet: false, detail: `its execution is ${execution.status}` };
  }
  if (execution.status !== 'not-found' && execution.stopDate) {
    const quietMs = quietAfterMs(Date.parse(execution.stopDate), windowSeconds);
    return { holder, status: execution.status, quiet: quietMs <= nowMs, quietAt: at(quietMs), detail: `its execution ended ${execution.status} at ${execution.stopDate}` };
  }
  // No execution (or no stopDate) to count from: the lock's age is all there is.
  const quietMs = quietAfterMs(Date.parse(lock.acquiredAt), windowSeconds);
  return {
    holder,
    status: execution.status,
    quiet: quietMs <= nowMs,
    quietAt: at(quietMs),
    detail: `this state machine has no execution of it (replaced or renamed, history expired, or a local run); its lock was taken at ${lock.acquiredAt}`,
  };
}
