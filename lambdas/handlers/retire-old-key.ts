/** Lambda entry point for the retireOldKey step; the logic lives in aws/rotation/retire-old-key.ts. */
import { retireOldKey } from '../aws/rotation/retire-old-key';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('retireOldKey', (input: RotationContext) => retireOldKey(runtime(), input));
