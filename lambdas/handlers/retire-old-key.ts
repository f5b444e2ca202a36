/** Lambda entry point for the retireOldKey step; the logic lives in aws/rotation/retire-old-key.ts. */
import { retireOldKey } from '../aws/rotation/retire-old-key';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The retireOldKey step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('retireOldKey', (input: RotationContext) => retireOldKey(deps, input));
}

export const handler = onFirstCall('retireOldKey', () => createHandler(rotationDepsFromEnvironment()));
