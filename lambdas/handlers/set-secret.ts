/** Lambda entry point for the setSecret step; the logic lives in aws/rotation/set-secret.ts. */
import { setSecret } from '../aws/rotation/set-secret';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('setSecret', (input: RotationContext) => setSecret(runtime(), input));
