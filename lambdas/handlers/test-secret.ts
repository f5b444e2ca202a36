/** Lambda entry point for the testSecret step; the logic lives in aws/rotation/test-secret.ts. */
import { testSecret } from '../aws/rotation/test-secret';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('testSecret', (input: RotationContext) => testSecret(runtime(), input));
