/** Lambda entry point for the rollback step; the logic lives in aws/rotation/rollback-rotation.ts. */
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { rollbackRotation, type CaughtError } from '../aws/rotation/rollback-rotation';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The state machine passes the rotation and the error it caught. */
export interface RollbackInput {
  readonly rotation: RotationContext;
  readonly error?: CaughtError;
}

/** The rollback step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('rollbackRotation', (input: RollbackInput) => rollbackRotation(deps, input.rotation, input.error));
}

export const handler = onFirstCall('rollbackRotation', () => createHandler(rotationDepsFromEnvironment()));
