/**
 * The operator API of KeyRoll, for the `keyroll` CLI and runbooks. Build the dependencies once
 * with {@link createOpsDeps} (SDK clients + stack outputs), then call the operations; each one
 * validates its input first (bad input changes nothing), is idempotent, and returns ids only.
 *
 * ```ts
 * const deps = createOpsDeps({ dynamoDb, secretsManager, scheduler, stepFunctions, sns }, outputs);
 * await onboardClient(deps, { clientId, scopes, policy, requestedBy, reason });
 * await startRotation(deps, { clientId, mode: 'emergency', revokeImmediately: true, requestedBy, reason });
 * await revokeKey(deps, { clientId, keyId, requestedBy, reason });
 * await rollbackLastRotation(deps, { clientId, requestedBy, reason });
 * await updateClientDelivery(deps, { clientId, delivery: { readers: [roleArn] }, requestedBy, reason }); // needs deps.delivery
 * await offboardClient(deps, { clientId, requestedBy, reason });
 * await unlockClient(deps, { clientId, requestedBy, reason }); // only once the lock's holder cannot write any more
 * ```
 */
export { createOpsDeps, deploymentPartition, policyBounds, type CreateOpsDepsOptions, type KeyRollStackOutputs, type OpsClients, type OpsDeps, type OpsSettings } from './ops-deps';
export { onboardClient, type OnboardResult } from './onboard-client';
export { offboardClient, type OffboardResult } from './offboard-client';
export { updateClientDelivery, type UpdateDeliveryResult } from './update-delivery';
export { revokeKey, type RevokeKeyResult } from './revoke-key';
export { rollbackLastRotation, ROLLBACK_MIN_REMAINING_MS, type RollbackLastRotationResult } from './rollback-last-rotation';
export { startRotation, type StartRotationRequest } from './start-rotation';
export { describeClient, type ClientDescription } from './describe-client';
export { repairLabels, type RepairLabelsResult } from './repair-labels';
export { unlockClient, parseUnlockRequest, type UnlockRequest, type UnlockResult } from './unlock-client';
export type { DeliveryUpdateRequest, OffboardRequest, OnboardRequest, RepairLabelsRequest, RevokeKeyRequest, RollbackRequest } from '../../lambdas/core/ops-requests';
export type { ClientDelivery, NotificationEndpoint, PickupPublicKey } from '../../lambdas/core/delivery';
export type { DeliveryChange } from '../../lambdas/core/delivery-request';
export type { DeliveryProjectionResult, DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';
export { parseRotationPolicy, type PolicyBounds } from '../../lambdas/core/rotation-policy';
export type { RotationPolicy } from '../../lambdas/core/model';
export type { SchedulePlan } from '../../lambdas/core/schedule-plan';
export type { StartedRotation } from '../../lambdas/aws/rotation-executions';
