/**
 * The scheduled start: what a client's EventBridge Scheduler schedule invokes. It turns the
 * delivery into a rotation whose id (the execution name) depends only on the client and the
 * scheduled time, and starts it. A duplicate delivery of the same scheduled time finds that
 * execution (ExecutionAlreadyExists, or the same running execution) and succeeds without
 * starting another: never two rotations for one scheduled time.
 *
 * A Lambda rather than Scheduler's universal StartExecution target: the execution name must
 * be a valid rotation id, and `<aws.scheduler.scheduled-time>` (with its ':' characters) can
 * only be placed into the input, not transformed into a name.
 */
import { parseScheduledStartEvent, scheduledRotationId, scheduledRotationRequest } from '../core/scheduled-start';
import type { RotationExecutions, StartedRotation } from './rotation-executions';

/**
 * Starts the scheduled rotation that `event` (the schedule's Input) asks for.
 *
 * @throws InvalidOperationInput when the event is malformed (nothing is started).
 */
export async function startScheduledRotation(executions: RotationExecutions, event: unknown): Promise<StartedRotation> {
  const parsed = parseScheduledStartEvent(event);
  return executions.start(scheduledRotationId(parsed), scheduledRotationRequest(parsed));
}
