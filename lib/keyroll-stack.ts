/** The deployable KeyRoll stack: the rotation pipeline, the auth layer, a dashboard and the outputs. */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { buildKeyRoll, type KeyRollProps } from './keyroll';
import type { KeyRollAuth } from './keyroll-auth';
import type { KeyRollFleet } from './keyroll-fleet';
import type { KeyRollPickup } from './keyroll-pickup';
import type { KeyRollRotation } from './keyroll-rotation';
import type { KeyRollSchedules } from './keyroll-schedules';

/** Props of {@link KeyRollStack}: {@link KeyRollProps} (the stack always has the outputs) and StackProps. */
export interface KeyRollStackProps extends StackProps, Omit<KeyRollProps, 'outputs'> {}

/**
 * KeyRoll in one stack. Outputs are what the operator CLI looks up. The parts are built
 * directly in the stack (not under a KeyRoll construct), so deployed logical IDs never change.
 */
export class KeyRollStack extends Stack {
  readonly rotation: KeyRollRotation;
  readonly auth: KeyRollAuth;
  readonly schedules: KeyRollSchedules;
  readonly fleet: KeyRollFleet;
  /** Key pickup for clients outside AWS (undefined with `pickup: false`). */
  readonly pickup?: KeyRollPickup;

  constructor(scope: Construct, id: string, props: KeyRollStackProps = {}) {
    super(scope, id, props);
    ({ rotation: this.rotation, auth: this.auth, schedules: this.schedules, fleet: this.fleet, pickup: this.pickup } = buildKeyRoll(this, { ...props, outputs: true }));
  }
}
