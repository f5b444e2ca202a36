/** Lambda entry point for the setSecret step; the logic lives in aws/rotation/set-secret.ts. */
import { setSecret } from '../aws/rotation/set-secret';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The setSecret step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('setSecret', (input: RotationContext) => setSecret(deps, input));
}

export const handler = onFirstCall('setSecret', () => createHandler(rotationDepsFromEnvironment()));
