/**
 * The rotation steps as the tests call them directly: each runs as its own Lambda function
 * (`actAs({ function: '<step>' })`), so every AWS call it makes is judged by the IAM check
 * against that function's role in the synthesized template (docs/design.md invariant 10),
 * as the local rotation runner does per Task state. Same names and signatures as the steps
 * in lambdas/aws/rotation, so a test imports them from here instead.
 *
 * A test hook that runs inside a step (a fault injected into a client, a zombie write) is
 * the test's own code, not the step's: it must run `asNoPrincipal` (local/local-identity.ts).
 */
import { actAs } from '../../local/local-identity';
import { beginRotation as beginRotationStep } from '../../lambdas/aws/rotation/begin-rotation';
import { checkUsage as checkUsageStep } from '../../lambdas/aws/rotation/check-usage';
import { createSecret as createSecretStep } from '../../lambdas/aws/rotation/create-secret';
import { finishSecret as finishSecretStep } from '../../lambdas/aws/rotation/finish-secret';
import { retireOldKey as retireOldKeyStep } from '../../lambdas/aws/rotation/retire-old-key';
import { rollbackRotation as rollbackRotationStep } from '../../lambdas/aws/rotation/rollback-rotation';
import { setSecret as setSecretStep } from '../../lambdas/aws/rotation/set-secret';
import { testSecret as testSecretStep } from '../../lambdas/aws/rotation/test-secret';

/**
 * `step` run as the Lambda function `name` (`beginRotation` → the template's
 * RotationBeginRotationFunction and its role; iam-principals.ts resolves the name).
 */
function asFunction<A extends unknown[], R>(name: string, step: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return (...args) => actAs({ function: name }, () => step(...args));
}

/** beginRotation as the BeginRotation function. */
export const beginRotation = asFunction('beginRotation', beginRotationStep);
/** createSecret as the CreateSecret function. */
export const createSecret = asFunction('createSecret', createSecretStep);
/** setSecret as the SetSecret function. */
export const setSecret = asFunction('setSecret', setSecretStep);
/** testSecret as the TestSecret function. */
export const testSecret = asFunction('testSecret', testSecretStep);
/** finishSecret as the FinishSecret function. */
export const finishSecret = asFunction('finishSecret', finishSecretStep);
/** checkUsage as the CheckUsage function. */
export const checkUsage = asFunction('checkUsage', checkUsageStep);
/** retireOldKey as the RetireOldKey function. */
export const retireOldKey = asFunction('retireOldKey', retireOldKeyStep);
/** rollbackRotation as the RollbackRotation function. */
export const rollbackRotation = asFunction('rollbackRotation', rollbackRotationStep);
