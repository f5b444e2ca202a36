/**
 * The KeyRoll construct library (`@keyroll/cdk`): the rotation pipeline, the auth layer,
 * scheduled and fleet rotation, as constructs to embed in a CDK app, or as one stack.
 */
export { KeyRoll, type KeyRollProps } from './keyroll';
export { KeyRollAuth, type KeyRollApiAuthorizerOptions, type KeyRollAuthProps, type KeyRollKeyHeader, type KeyRollRestApiAuthorizerOptions } from './keyroll-auth';
export { KeyRollDelivery, type KeyRollDeliveryProps } from './keyroll-delivery';
export { KeyRollFleet, type KeyRollFleetProps } from './keyroll-fleet';
export { DuplicateKeyRollOutputsError } from './keyroll-outputs';
export { KeyRollRotation, type KeyRollRotationProps } from './keyroll-rotation';
export { KeyRollSchedules, type KeyRollSchedulesProps } from './keyroll-schedules';
export { KeyRollStack, type KeyRollStackProps } from './keyroll-stack';
export { ConflictingRouteScopesError, CrossStackRouteScopesError } from './api-route-scope-maps';
