/**
 * The pickup endpoint's CloudWatch metric names: a contract between the handler that emits them
 * (lambdas/aws/pickup/pickup-handler.ts) and whatever alarms or charts on them. No imports, so
 * the construct library can read the names without loading jose or Powertools.
 */

/** CloudWatch namespace (KeyRoll's, shared with the auth metrics). */
export const PICKUP_METRICS_NAMESPACE = 'KeyRoll';
/** The `service` dimension the pickup metrics carry. */
export const PICKUP_METRICS_SERVICE = 'keyroll-pickup';

/** Metric and dimension names. */
export const PickupMetric = {
  SUCCEEDED: 'PickupSucceeded',
  /** Every 400 and 401; with the {@link PickupMetric.REASON_DIMENSION} breakdown in `PickupRefusedByReason`. */
  REFUSED: 'PickupRefused',
  REFUSED_BY_REASON: 'PickupRefusedByReason',
  /** A 500: KeyRoll's own state or a dependency failed. */
  FAILED: 'PickupFailed',
  REASON_DIMENSION: 'Reason',
} as const;
