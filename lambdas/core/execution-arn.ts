/**
 * Execution ARNs of the rotation state machine. The execution name is the rotation id, so
 * the execution that holds a client's lock is found from the lock alone.
 */

const STATE_MACHINE_ARN = /^arn:(aws[a-z-]*):states:([a-z0-9-]+):(\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** True for a standard state machine ARN (`arn:<partition>:states:<region>:<account>:stateMachine:<name>`). */
export function isStateMachineArn(arn: string): boolean {
  return STATE_MACHINE_ARN.test(arn);
}

/**
 * `arn:<partition>:states:<region>:<account>:execution:<state machine name>:<rotationId>`.
 *
 * @throws RangeError when `stateMachineArn` is not a state machine ARN.
 */
export function executionArnFor(stateMachineArn: string, rotationId: string): string {
  const match = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!match) throw new RangeError('Expected a state machine ARN (arn:<partition>:states:<region>:<account>:stateMachine:<name>).');
  const [, partition, region, account, name] = match;
  return `arn:${partition}:states:${region}:${account}:execution:${name}:${rotationId}`;
}
