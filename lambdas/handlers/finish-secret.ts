/** Lambda entry point for the finishSecret step; the logic lives in aws/rotation/finish-secret.ts. */
import { finishSecret } from '../aws/rotation/finish-secret';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The finishSecret step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('finishSecret', (input: RotationContext) => finishSecret(deps, input));
}

export const handler = onFirstCall('finishSecret', () => createHandler(rotationDepsFromEnvironment()));
