/** Lambda entry point for the createSecret step; the logic lives in aws/rotation/create-secret.ts. */
import { createSecret } from '../aws/rotation/create-secret';
import type { RotationContext } from '../aws/rotation/context';
import { runtime, step } from './runtime';

export const handler = step('createSecret', (input: RotationContext) => createSecret(runtime(), input));
