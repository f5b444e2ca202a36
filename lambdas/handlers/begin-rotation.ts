/** Lambda entry point for the beginRotation step; the logic lives in aws/rotation/begin-rotation.ts. */
import { beginRotation } from '../aws/rotation/begin-rotation';
import type { BeginRotationInput } from '../aws/rotation/begin-rotation';
import { runtime, step } from './runtime';

export const handler = step('beginRotation', (input: BeginRotationInput) => beginRotation(runtime(), input));
