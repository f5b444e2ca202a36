/**
 * The zombie window: how long after a rotation's execution ended one of its steps can still
 * send a request to AWS.
 *
 * The argument. StopExecution (and a failure or time-out) ends the execution, not a Lambda
 * invocation already running: that step goes on and may still write. But an invocation cannot
 * run past its function's timeout ("the amount of time that Lambda allows a function to run
 * before stopping it", https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html),
 * it began before the execution ended (Step Functions starts no task of an ended execution),
 * and the SDK's retries, backoff included, run inside that invocation. So every request a
 * stopped execution's step sends is sent within `timeout` of the execution's stopDate
 * (DescribeExecution, https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html).
 * A request sent just before the timeout may still be in flight; {@link REQUEST_SLACK_SECONDS}
 * covers its delivery. After `stopDate + timeout + slack` nothing of the execution can land.
 *
 * What this does not cover: an execution that cannot be found (its state machine was deleted
 * or renamed) has no stopDate to count from; the lock's own age is used instead, and the
 * lock-conditioned writes (docs/design.md invariant 7) are what keep a late write harmless.
 */

/** Delivery time allowed for a request sent just before the function timed out. */
export const REQUEST_SLACK_SECONDS = 30;

/** The keyRollFunction default timeout of every rotation step (lib/keyroll-function.ts). */
export const DEFAULT_STEP_TIMEOUT_SECONDS = 30;

/** The window for steps whose longest function timeout is `maxStepTimeoutSeconds`. */
export function zombieWindowSeconds(maxStepTimeoutSeconds: number): number {
  if (!(Number.isFinite(maxStepTimeoutSeconds) && maxStepTimeoutSeconds > 0)) throw new RangeError('A step timeout must be a positive number of seconds.');
  return Math.ceil(maxStepTimeoutSeconds) + REQUEST_SLACK_SECONDS;
}

/** The window of a deployment with the default step timeout (60 s), when none is configured. */
export const DEFAULT_ZOMBIE_WINDOW_SECONDS = zombieWindowSeconds(DEFAULT_STEP_TIMEOUT_SECONDS);

/**
 * When an execution that ended at `endedAtMs` can no longer write: `endedAtMs + window`.
 * The earliest instant at which a lock it held may be taken over.
 */
export function quietAfterMs(endedAtMs: number, windowSeconds: number): number {
  return endedAtMs + windowSeconds * 1000;
}
