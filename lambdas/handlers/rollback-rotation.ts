/** Lambda entry point for the rollback step; the logic lives in aws/rotation/rollback-rotation.ts. */
import type { RotationContext } from '../aws/rotation/context';
import { rollbackRotation, type CaughtError } from '../aws/rotation/rollback-rotation';
import { runtime, step } from './runtime';

/** The state machine passes the rotation and the error it caught. */
export interface RollbackInput {
  readonly rotation: RotationContext;
  readonly error?: CaughtError;
}

export const handler = step('rollbackRotation', (input: RollbackInput) => rollbackRotation(runtime(), input.rotation, input.error));
