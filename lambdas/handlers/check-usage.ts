/** Lambda entry point for the checkUsage step; the logic lives in aws/rotation/check-usage.ts. */
import { checkUsage } from '../aws/rotation/check-usage';
import type { RotationContext, RotationDeps } from '../aws/rotation/context';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The checkUsage step over `deps`, with its log lines. */
export function createHandler(deps: RotationDeps) {
  return step('checkUsage', (input: RotationContext) => checkUsage(deps, input));
}

export const handler = onFirstCall('checkUsage', () => createHandler(rotationDepsFromEnvironment()));
