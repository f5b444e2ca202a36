/** Lambda entry point for the finishSecret step; the logic lives in aws/rotation/finish-secret.ts. */
import { finishSecret } from '../aws/rotation/finish-secret';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('finishSecret', (input: RotationContext) => finishSecret(runtime(), input));
