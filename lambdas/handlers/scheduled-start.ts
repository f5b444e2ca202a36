/**
 * Lambda entry point of the scheduled start (invoked by the client schedules); the logic lives
 * in aws/scheduled-start.ts. STATE_MACHINE_ARN is set by the stack.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { REQUIRED_STATE_MACHINE_ARN } from '../core/common-variables';
import { readVariable } from '../core/configuration';
import { describeError } from '../core/errors';
import { RotationExecutions, type StartedRotation } from '../aws/rotation-executions';
import { startScheduledRotation } from '../aws/scheduled-start';
import { logger, onFirstCall } from './entry';

/** Starts the rotation for one schedule delivery on `executions`; a failure is retried by Lambda, then lands in the DLQ. */
export function createHandler(executions: RotationExecutions): (event: unknown) => Promise<StartedRotation> {
  return async (event: unknown) => {
    try {
      const started = await startScheduledRotation(executions, event);
      logger.info(started.started ? 'scheduled rotation started' : 'scheduled rotation already started', { rotationId: started.rotationId });
      return started;
    } catch (error) {
      logger.error('scheduled start failed', { error: describeError(error) });
      throw error;
    }
  };
}

export const handler = onFirstCall('scheduledStart', () => createHandler(new RotationExecutions(new SFNClient({}), readVariable(process.env, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN))));
