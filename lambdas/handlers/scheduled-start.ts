/**
 * Lambda entry point of the scheduled start (invoked by the client schedules); the logic lives
 * in aws/scheduled-start.ts. STATE_MACHINE_ARN is set by the stack.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SFNClient } from '@aws-sdk/client-sfn';
import { describeError } from '../core/errors';
import { RotationExecutions, type StartedRotation } from '../aws/rotation-executions';
import { startScheduledRotation } from '../aws/scheduled-start';

const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'keyroll' });
let executions: RotationExecutions | undefined;

function stateMachineExecutions(): RotationExecutions {
  const arn = process.env.STATE_MACHINE_ARN;
  if (!arn) throw new Error('Environment variable STATE_MACHINE_ARN is not set; the stack sets it on the scheduled-start function.');
  return (executions ??= new RotationExecutions(new SFNClient({}), arn));
}

/** Starts the rotation for one schedule delivery; a failure is retried by Lambda, then lands in the DLQ. */
export const handler = async (event: unknown): Promise<StartedRotation> => {
  try {
    const started = await startScheduledRotation(stateMachineExecutions(), event);
    logger.info(started.started ? 'scheduled rotation started' : 'scheduled rotation already started', { rotationId: started.rotationId });
    return started;
  } catch (error) {
    logger.error('scheduled start failed', { error: describeError(error) });
    throw error;
  }
};
