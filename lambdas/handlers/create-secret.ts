/** Lambda entry point for the createSecret step; the logic lives in aws/rotation/create-secret.ts. */
import { createSecret } from '../aws/rotation/create-secret';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The createSecret step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('createSecret', (input: RotationContext) => createSecret(deps, input));
}

export const handler = onFirstCall('createSecret', () => createHandler(rotationDepsFromEnvironment()));
