/**
 * The outputs the operator CLI discovers by OutputKey (operator/cli/stack-discovery.ts). Their
 * logical IDs are fixed to those keys wherever KeyRoll sits in the construct tree, so a KeyRoll
 * embedded in a user's stack is found by that stack's name, as KeyRollStack is.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { KeyRollAuth } from './keyroll-auth';
import type { KeyRollDelivery } from './keyroll-delivery';
import type { KeyRollFleet } from './keyroll-fleet';
import type { KeyRollPickup } from './keyroll-pickup';
import type { KeyRollRotation } from './keyroll-rotation';
import type { KeyRollSchedules } from './keyroll-schedules';

/** A second KeyRoll with outputs in one stack: the CLI could not tell them apart. */
export class DuplicateKeyRollOutputsError extends Error {
  override readonly name = 'DuplicateKeyRollOutputs';
}

/** What the outputs describe. */
export interface KeyRollOutputSources {
  readonly rotation: KeyRollRotation;
  readonly auth: KeyRollAuth;
  readonly schedules: KeyRollSchedules;
  readonly fleet: KeyRollFleet;
  readonly delivery: KeyRollDelivery;
  readonly pickup?: KeyRollPickup;
}

/** Which construct owns a stack's KeyRoll outputs, per stack: found before a second one is added. */
const owners = new WeakMap<Stack, string>();

/**
 * Claims `scope`'s stack for one set of KeyRoll outputs; call before building anything, so a
 * second KeyRoll fails at once rather than at template merge.
 * @throws DuplicateKeyRollOutputsError when the stack's outputs are already claimed.
 */
export function claimKeyRollOutputs(scope: Construct): void {
  const stack = Stack.of(scope);
  const owner = owners.get(stack);
  if (owner !== undefined) {
    throw new DuplicateKeyRollOutputsError(
      `Stack '${stack.node.path}' already has the KeyRoll outputs (of '${owner}'); '${scope.node.path}' would repeat their OutputKeys. The keyroll CLI finds one KeyRoll per stack: put the other in its own stack, or give it \`outputs: false\`.`,
    );
  }
  owners.set(stack, scope.node.path);
}

/** Adds the outputs in `scope` (claimed with {@link claimKeyRollOutputs}), each with its OutputKey as logical ID. */
export function addKeyRollOutputs(scope: Construct, sources: KeyRollOutputSources): void {
  const { rotation, auth, schedules, fleet, delivery, pickup } = sources;
  const output = (key: string, value: string, description?: string) => new CfnOutput(scope, key, { value, description }).overrideLogicalId(key);
  output('StateMachineArn', rotation.stateMachine.stateMachineArn, 'Start rotations here');
  output('FleetStateMachineArn', fleet.stateMachine.stateMachineArn, 'Rotate every client, a tag or a list in one execution');
  output('TableName', rotation.table.tableName);
  output('ClientTopicArn', rotation.clientTopic.topicArn, 'Client notices; KeyRoll subscribes each client endpoint, filtered on clientId');
  output('OpsTopicArn', rotation.opsTopic.topicArn, 'Alarms and failed rotations');
  output('KeyArn', rotation.encryptionKey.keyArn, 'Encrypts client secrets');
  output('SecretNamePrefix', rotation.secretNamePrefix);
  output('KeyPrefix', rotation.keyPrefix);
  output('MinOverlapSeconds', String(rotation.minOverlap.toSeconds()), 'Smallest overlap a request or client policy may ask for');
  output('ZombieWindowSeconds', String(rotation.zombieWindow.toSeconds()), 'How long after a lock holder ended it may still write; keyroll unlock waits this long');
  output('MaxOverlapSeconds', String(rotation.maxOverlap.toSeconds()), 'Largest overlap (hard deadline of a previous key)');
  output('ScheduleGroupName', schedules.scheduleGroup.scheduleGroupName, 'Client schedules are created here at onboarding');
  output('SchedulerRoleArn', schedules.schedulerRole.roleArn, 'Execution role of every client schedule');
  output('ScheduleDeadLetterQueueArn', schedules.deadLetterQueue.queueArn, 'Scheduled starts that failed for good');
  output('ScheduledStartFunctionArn', schedules.scheduledStartFunction.functionArn, 'Target of every client schedule');
  output('DeliveryFunctionName', delivery.deliveryFunction.functionName, 'Invoke with {"clientId"} to project a client\'s readers, grants and subscriptions');
  output('AuthorizerFunctionArn', auth.authorizerFunction.functionArn, 'Attach to your API Gateway REST or HTTP APIs');
  if (pickup) output('PickupUrl', pickup.url, 'Clients outside AWS POST a signed assertion here for their key (and put this URL in its aud)');
  if (auth.exampleEndpointUrl) output('ExampleEndpointUrl', auth.exampleEndpointUrl, 'GET with Authorization: Bearer <key>');
}
