/**
 * KeyRoll as one construct: the rotation pipeline, the auth layer, scheduled and fleet
 * rotation, the dashboard and the outputs the operator CLI reads, to embed in a user's own
 * stack. KeyRollStack builds the same parts with {@link buildKeyRoll} directly in the stack,
 * so its logical IDs (the table's among them) stay what they were.
 */
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { KeyRollAuth, type KeyRollAuthProps } from './keyroll-auth';
import { addKeyRollDashboard } from './keyroll-dashboard';
import { KeyRollFleet, type KeyRollFleetProps } from './keyroll-fleet';
import { KeyRollPickup, type KeyRollPickupOptions } from './keyroll-pickup';
import { addKeyRollOutputs, claimKeyRollOutputs } from './keyroll-outputs';
import { KeyRollRotation, type KeyRollRotationProps } from './keyroll-rotation';
import { KeyRollSchedules, type KeyRollSchedulesProps } from './keyroll-schedules';

/** What KeyRoll is built from: the props of {@link KeyRoll}, and of KeyRollStack besides its StackProps. */
export interface KeyRollProps {
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
   * Fleet rotation pacing (the rotation pipeline comes from this construct).
   * @default the construct's defaults
   */
  readonly fleet?: Omit<KeyRollFleetProps, 'rotation'>;
  /**
   * Key pickup for clients outside AWS: `POST /pickup` returns the client's current key
   * encrypted to its registered public key, to an assertion signed with its private key
   * (lambdas/core/pickup.ts). `false` leaves it out; an object sets its throttling, its
   * audience (a custom domain's URL) and whether to create API Gateway's account logging role.
   * @default true
   */
  readonly pickup?: boolean | KeyRollPickupOptions;
  /**
   * Add the stack outputs the `keyroll` CLI discovers (`StateMachineArn`, `TableName`, …),
   * with those names as logical IDs, to the enclosing stack. A stack holds one KeyRoll with
   * outputs (a second is a `DuplicateKeyRollOutputs` synth error); the CLI finds it by the
   * stack's name (`keyroll --stack <name>`).
   * @default true
   */
  readonly outputs?: boolean;
}

/** The parts of a KeyRoll deployment. */
export interface KeyRollParts {
  readonly rotation: KeyRollRotation;
  readonly auth: KeyRollAuth;
  readonly schedules: KeyRollSchedules;
  readonly fleet: KeyRollFleet;
  /** Undefined when `pickup: false`. */
  readonly pickup?: KeyRollPickup;
  readonly dashboard: cloudwatch.Dashboard;
}

/**
 * Builds every part of KeyRoll as children of `scope` (ids `Rotation`, `Auth`, `Schedules`,
 * `Fleet`, `Pickup`, `Dashboard`: a contract, renaming one replaces its resources), and the outputs
 * unless `props.outputs` is false. Shared by {@link KeyRoll} and KeyRollStack.
 */
export function buildKeyRoll(scope: Construct, props: KeyRollProps): KeyRollParts {
  const outputs = props.outputs ?? true;
  if (outputs) claimKeyRollOutputs(scope);
  const rotation = new KeyRollRotation(scope, 'Rotation', props.rotation);
  const auth = new KeyRollAuth(scope, 'Auth', {
    ...props.auth,
    table: rotation.table,
    encryptionKey: rotation.encryptionKey,
    opsTopic: rotation.opsTopic,
    keyPrefix: rotation.keyPrefix,
  });
  const recordInterval = props.auth?.usageRecordInterval ?? Duration.minutes(5);
  if (rotation.usageWindow.toSeconds() < 2 * recordInterval.toSeconds()) {
    throw new Error(
      `The rotation's usageWindow (${rotation.usageWindow.toSeconds()} s) must be at least twice the auth layer's usageRecordInterval (${recordInterval.toSeconds()} s), or a key in use could look unused.`,
    );
  }
  const verifyEndpointUrl = props.verifyEndpointUrl ?? auth.exampleEndpointUrl;
  if (verifyEndpointUrl) rotation.proveKeysAgainst(verifyEndpointUrl);
  const schedules = new KeyRollSchedules(scope, 'Schedules', {
    ...props.schedules,
    stateMachine: rotation.stateMachine,
    encryptionKey: rotation.encryptionKey,
    opsTopic: rotation.opsTopic,
    removalPolicy: props.schedules?.removalPolicy ?? props.rotation?.removalPolicy,
    logRetention: props.schedules?.logRetention ?? props.rotation?.logRetention,
  });
  const fleet = new KeyRollFleet(scope, 'Fleet', { ...props.fleet, rotation });
  const pickup =
    props.pickup === false
      ? undefined
      : new KeyRollPickup(scope, 'Pickup', {
          ...(props.pickup === true ? {} : props.pickup),
          table: rotation.table,
          encryptionKey: rotation.encryptionKey,
          secretNamePrefix: rotation.secretNamePrefix,
          logRetention: rotation.logRetention,
          removalPolicy: rotation.removalPolicy,
        });
  const dashboard = addKeyRollDashboard(scope, rotation, auth);
  if (outputs) addKeyRollOutputs(scope, { rotation, auth, schedules, fleet, pickup });
  return { rotation, auth, schedules, fleet, pickup, dashboard };
}

/**
 * Everything KeyRollStack deploys, as a construct in your own stack.
 *
 * @example
 * const keyRoll = new KeyRoll(this, 'KeyRoll', { auth: { exampleApi: false } });
 * api.root.addMethod('GET', integration, { authorizer: keyRoll.auth.restApiAuthorizer() });
 */
export class KeyRoll extends Construct implements KeyRollParts {
  /** The rotation pipeline: table, key, topics, state machine. */
  readonly rotation: KeyRollRotation;
  /** The auth layer: the authorizer to attach to your APIs, its metrics and alarms. */
  readonly auth: KeyRollAuth;
  /** Scheduled rotations. */
  readonly schedules: KeyRollSchedules;
  /** Fleet rotations. */
  readonly fleet: KeyRollFleet;
  /** Key pickup for clients outside AWS (undefined with `pickup: false`); `pickup.role` is a KeyRoll secret reader. */
  readonly pickup?: KeyRollPickup;
  /** The KeyRoll dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: KeyRollProps = {}) {
    super(scope, id);
    ({ rotation: this.rotation, auth: this.auth, schedules: this.schedules, fleet: this.fleet, pickup: this.pickup, dashboard: this.dashboard } = buildKeyRoll(this, props));
  }
}
