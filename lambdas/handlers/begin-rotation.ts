/**
 * Lambda entry point for the beginRotation step; the logic lives in aws/rotation/begin-rotation.ts.
 * STATE_MACHINE_ARN (set by the stack on this function only) lets an emergency rotation stop
 * the execution that holds the client's lock; without it, `executions` stays absent.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { OPTIONAL_STATE_MACHINE_ARN } from '../core/common-variables';
import { readVariable, type Environment } from '../core/configuration';
import { beginRotation } from '../aws/rotation/begin-rotation';
import type { BeginRotationInput } from '../aws/rotation/begin-rotation';
import type { RotationDeps } from '../aws/rotation/context';
import { RotationExecutions } from '../aws/rotation-executions';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The beginRotation step over `deps` (their `executions`, if any, for preemption), with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('beginRotation', (input: BeginRotationInput) => beginRotation(deps, input));
}

/** The rotation dependencies with the executions of the state machine this function serves, if the stack named it. */
function depsFromEnvironment(environment: Environment = process.env): RotationDeps {
  const deps = rotationDepsFromEnvironment(environment);
  const arn = readVariable(environment, 'STATE_MACHINE_ARN', OPTIONAL_STATE_MACHINE_ARN);
  return arn === undefined ? deps : { ...deps, executions: new RotationExecutions(new SFNClient({}), arn) };
}

export const handler = onFirstCall('beginRotation', () => createHandler(depsFromEnvironment()));
