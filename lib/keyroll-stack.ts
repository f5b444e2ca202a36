/** The deployable KeyRoll stack: the rotation pipeline and its outputs. */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { KeyRollRotation, type KeyRollRotationProps } from './keyroll-rotation';

/** Props of {@link KeyRollStack}. */
export interface KeyRollStackProps extends StackProps {
  /**
   * Policy of the rotation pipeline.
   * @default the construct's defaults
   */
  readonly rotation?: KeyRollRotationProps;
}

/** KeyRoll in one stack. Outputs are what the operator CLI looks up. */
export class KeyRollStack extends Stack {
  readonly rotation: KeyRollRotation;

  constructor(scope: Construct, id: string, props: KeyRollStackProps = {}) {
    super(scope, id, props);
    this.rotation = new KeyRollRotation(this, 'Rotation', props.rotation);
    new CfnOutput(this, 'StateMachineArn', { value: this.rotation.stateMachine.stateMachineArn, description: 'Start rotations here' });
    new CfnOutput(this, 'TableName', { value: this.rotation.table.tableName });
    new CfnOutput(this, 'ClientTopicArn', { value: this.rotation.clientTopic.topicArn, description: 'Clients subscribe here, filtered on clientId' });
    new CfnOutput(this, 'OpsTopicArn', { value: this.rotation.opsTopic.topicArn, description: 'Alarms and failed rotations' });
    new CfnOutput(this, 'KeyArn', { value: this.rotation.encryptionKey.keyArn, description: 'Encrypts client secrets' });
    new CfnOutput(this, 'SecretNamePrefix', { value: this.rotation.secretNamePrefix });
    new CfnOutput(this, 'KeyPrefix', { value: this.rotation.keyPrefix });
  }
}
