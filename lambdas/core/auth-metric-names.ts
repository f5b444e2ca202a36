/**
 * The auth layer's CloudWatch metric names: a contract between the authorizer that emits them
 * (lambdas/aws/auth/auth-metrics.ts), the alarms and dashboard (lib/keyroll-auth.ts) and
 * `keyroll status` (operator/cli/deployment-health.ts). No imports, so the construct library
 * and the CLI can read the names without loading Powertools Metrics.
 */

/** CloudWatch namespace of the auth metrics. */
export const AUTH_METRICS_NAMESPACE = 'KeyRoll';
/** The `service` dimension the authorizer's metrics carry. */
export const AUTH_METRICS_SERVICE = 'keyroll-authorizer';

/** Metric and dimension names. */
export const AuthMetric = {
  SUCCEEDED: 'AuthSucceeded',
  FAILED: 'AuthFailed',
  SUCCEEDED_BY_KEY_ROLE: 'AuthSucceededByKeyRole',
  FAILED_BY_REASON: 'AuthFailedByReason',
  KEY_ROLE_DIMENSION: 'KeyRole',
  REASON_DIMENSION: 'Reason',
} as const;
