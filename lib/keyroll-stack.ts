/** The deployable KeyRoll stack: the rotation pipeline, the auth layer, a dashboard and the outputs. */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { KeyRollAuth, type KeyRollAuthProps } from './keyroll-auth';
import { addKeyRollDashboard } from './keyroll-dashboard';
import { KeyRollFleet, type KeyRollFleetProps } from './keyroll-fleet';
import { KeyRollRotation, type KeyRollRotationProps } from './keyroll-rotation';
import { KeyRollSchedules, type KeyRollSchedulesProps } from './keyroll-schedules';

/** Props of {@link KeyRollStack}. */
export interface KeyRollStackProps extends StackProps {
  /**
   * Policy of the rotation pipeline.
   * @default the construct's defaults
   */
  readonly rotation?: KeyRollRotationProps;
  /**
   * The auth layer (the table, key, ops topic and key prefix come from the rotation pipeline).
   * @default the construct's defaults, with the example API
   */
  readonly auth?: Omit<KeyRollAuthProps, 'table' | 'encryptionKey' | 'opsTopic' | 'keyPrefix'>;
  /**
   * An endpoint behind the KeyRoll authorizer that testSecret calls with the new key
   * (`Authorization: Bearer`), expecting a 2xx, before the key becomes current.
   * @default the example API's `GET /whoami` when it is deployed; otherwise the in-process proof only
   */
  readonly verifyEndpointUrl?: string;
  /**
   * Scheduled rotations (the state machine, key and ops topic come from the rotation pipeline).
   * @default the construct's defaults
   */
  readonly schedules?: Omit<KeyRollSchedulesProps, 'stateMachine' | 'encryptionKey' | 'opsTopic'>;
  /**
   * Fleet rotation pacing (the rotation pipeline comes from this stack).
   * @default the construct's defaults
   */
  readonly fleet?: Omit<KeyRollFleetProps, 'rotation'>;
}

/** KeyRoll in one stack. Outputs are what the operator CLI looks up. */
export class KeyRollStack extends Stack {
  readonly rotation: KeyRollRotation;
  readonly auth: KeyRollAuth;
  readonly schedules: KeyRollSchedules;
  readonly fleet: KeyRollFleet;

  constructor(scope: Construct, id: string, props: KeyRollStackProps = {}) {
    super(scope, id, props);
    this.rotation = new KeyRollRotation(this, 'Rotation', props.rotation);
    this.auth = new KeyRollAuth(this, 'Auth', {
      ...props.auth,
      table: this.rotation.table,
      encryptionKey: this.rotation.encryptionKey,
      opsTopic: this.rotation.opsTopic,
      keyPrefix: this.rotation.keyPrefix,
    });
    const recordInterval = props.auth?.usageRecordInterval ?? Duration.minutes(5);
    if (this.rotation.usageWindow.toSeconds() < 2 * recordInterval.toSeconds()) {
      throw new Error(
        `The rotation's usageWindow (${this.rotation.usageWindow.toSeconds()} s) must be at least twice the auth layer's usageRecordInterval (${recordInterval.toSeconds()} s), or a key in use could look unused.`,
      );
    }
    const verifyEndpointUrl = props.verifyEndpointUrl ?? this.auth.exampleEndpointUrl;
    if (verifyEndpointUrl) this.rotation.proveKeysAgainst(verifyEndpointUrl);
    this.schedules = new KeyRollSchedules(this, 'Schedules', {
      ...props.schedules,
      stateMachine: this.rotation.stateMachine,
      encryptionKey: this.rotation.encryptionKey,
      opsTopic: this.rotation.opsTopic,
      removalPolicy: props.schedules?.removalPolicy ?? props.rotation?.removalPolicy,
      logRetention: props.schedules?.logRetention ?? props.rotation?.logRetention,
    });
    this.fleet = new KeyRollFleet(this, 'Fleet', { ...props.fleet, rotation: this.rotation });
    addKeyRollDashboard(this, this.rotation, this.auth);

    new CfnOutput(this, 'StateMachineArn', { value: this.rotation.stateMachine.stateMachineArn, description: 'Start rotations here' });
    new CfnOutput(this, 'FleetStateMachineArn', { value: this.fleet.stateMachine.stateMachineArn, description: 'Rotate every client, a tag or a list in one execution' });
    new CfnOutput(this, 'TableName', { value: this.rotation.table.tableName });
    new CfnOutput(this, 'ClientTopicArn', { value: this.rotation.clientTopic.topicArn, description: 'Clients subscribe here, filtered on clientId' });
    new CfnOutput(this, 'OpsTopicArn', { value: this.rotation.opsTopic.topicArn, description: 'Alarms and failed rotations' });
    new CfnOutput(this, 'KeyArn', { value: this.rotation.encryptionKey.keyArn, description: 'Encrypts client secrets' });
    new CfnOutput(this, 'SecretNamePrefix', { value: this.rotation.secretNamePrefix });
    new CfnOutput(this, 'KeyPrefix', { value: this.rotation.keyPrefix });
    new CfnOutput(this, 'MinOverlapSeconds', { value: String(this.rotation.minOverlap.toSeconds()), description: 'Smallest overlap a request or client policy may ask for' });
    new CfnOutput(this, 'ZombieWindowSeconds', { value: String(this.rotation.zombieWindow.toSeconds()), description: 'How long after a lock holder ended it may still write; keyroll unlock waits this long' });
    new CfnOutput(this, 'MaxOverlapSeconds', { value: String(this.rotation.maxOverlap.toSeconds()), description: 'Largest overlap (hard deadline of a previous key)' });
    new CfnOutput(this, 'ScheduleGroupName', { value: this.schedules.scheduleGroup.scheduleGroupName, description: 'Client schedules are created here at onboarding' });
    new CfnOutput(this, 'SchedulerRoleArn', { value: this.schedules.schedulerRole.roleArn, description: 'Execution role of every client schedule' });
    new CfnOutput(this, 'ScheduleDeadLetterQueueArn', { value: this.schedules.deadLetterQueue.queueArn, description: 'Scheduled starts that failed for good' });
    new CfnOutput(this, 'ScheduledStartFunctionArn', { value: this.schedules.scheduledStartFunction.functionArn, description: 'Target of every client schedule' });
    new CfnOutput(this, 'AuthorizerFunctionArn', { value: this.auth.authorizerFunction.functionArn, description: 'Attach to your API Gateway REST or HTTP APIs' });
    if (this.auth.exampleEndpointUrl) new CfnOutput(this, 'ExampleEndpointUrl', { value: this.auth.exampleEndpointUrl, description: 'GET with Authorization: Bearer <key>' });
  }
}
