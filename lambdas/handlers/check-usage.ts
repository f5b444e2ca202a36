/** Lambda entry point for the checkUsage step; the logic lives in aws/rotation/check-usage.ts. */
import { checkUsage } from '../aws/rotation/check-usage';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('checkUsage', (input: RotationContext) => checkUsage(runtime(), input));
