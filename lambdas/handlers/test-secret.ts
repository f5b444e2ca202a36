/** Lambda entry point for the testSecret step; the logic lives in aws/rotation/test-secret.ts. */
import { testSecret } from '../aws/rotation/test-secret';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The testSecret step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('testSecret', (input: RotationContext) => testSecret(deps, input));
}

export const handler = onFirstCall('testSecret', () => createHandler(rotationDepsFromEnvironment()));
