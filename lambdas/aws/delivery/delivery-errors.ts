/**
 * The named errors of the delivery projection (lambdas/aws/delivery/). Messages name the client
 * and the offending field, never a key.
 */
import { KeyRollError } from '../../core/errors';

/** A principal ARN, or KeyRoll's own configuration, cannot go into a secret policy; nothing was written. */
export class InvalidDeliveryPolicyInputError extends KeyRollError {
  override readonly name = 'InvalidDeliveryPolicyInput';
  constructor(
    message: string,
    /** One line per offending value, e.g. `readers[2]: not an IAM principal ARN of partition aws`. */
    readonly issues: readonly string[],
  ) {
    super(message);
  }
}

/**
 * The secret policy would exceed Secrets Manager's resource-policy size limit (20,480
 * characters: https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html).
 */
export class DeliveryPolicyTooLargeError extends KeyRollError {
  override readonly name = 'DeliveryPolicyTooLarge';
  constructor(readonly size: number) {
    super(`The secret policy would be ${size} characters; Secrets Manager accepts at most 20480.`);
  }
}

/**
 * AWS refused a registered reader or endpoint (a principal that does not exist, a queue in a
 * partition the topic cannot reach): the record asks for something AWS will not hold. The
 * operator fixes the record; a re-run converges once it is valid.
 */
export class DeliveryTargetRejectedError extends KeyRollError {
  override readonly name = 'DeliveryTargetRejected';
  constructor(
    readonly clientId: string,
    /** What was refused: `secretPolicy`, `grant` or `subscription`. */
    readonly target: 'secretPolicy' | 'grant' | 'subscription',
    options?: { cause?: unknown },
  ) {
    super(`AWS refused the ${target} of client '${clientId}': check its registered readers and endpoints.`, options);
  }
}

/** Another projection of the same client kept changing the recorded state; this run gave up (a re-run converges). */
export class DeliveryProjectionConflictError extends KeyRollError {
  override readonly name = 'DeliveryProjectionConflict';
  constructor(readonly clientId: string) {
    super(`The delivery projection of client '${clientId}' was changed concurrently too often; run it again.`);
  }
}
