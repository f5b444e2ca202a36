/**
 * Lambda entry point for the beginRotation step; the logic lives in aws/rotation/begin-rotation.ts.
 * STATE_MACHINE_ARN (set by the stack on this function only) lets an emergency rotation stop
 * the execution that holds the client's lock; the Step Functions client is built on first use.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { beginRotation } from '../aws/rotation/begin-rotation';
import type { BeginRotationInput } from '../aws/rotation/begin-rotation';
import { RotationExecutions } from '../aws/rotation-executions';
import { runtime, step } from './runtime';

let executions: RotationExecutions | undefined;

/** The executions of the state machine this function serves, if the stack named it. */
function stateMachineExecutions(): RotationExecutions | undefined {
  const arn = process.env.STATE_MACHINE_ARN;
  if (!arn) return undefined;
  return (executions ??= new RotationExecutions(new SFNClient({}), arn));
}

export const handler = step('beginRotation', (input: BeginRotationInput) => {
  const deps = runtime();
  return beginRotation(deps.executions ? deps : { ...deps, executions: stateMachineExecutions() }, input);
});
