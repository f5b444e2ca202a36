/**
 * The auth layer's CloudWatch metrics, as EMF through Powertools Metrics. The names are a
 * contract with the alarms and dashboard in lib/ (imported there from this file).
 *
 * Each verdict emits a total with only the service dimension (cheap to alarm on and to
 * combine in metric math) and a breakdown in its own dimension set (key role or reason).
 * The client id is a property of the log record, never a dimension: 10,000 clients must
 * not become 10,000 metrics.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { KeyVerdict } from '../../core/key-verifier';

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

/** Adds one verdict to `metrics` (flushed by the caller). */
export function recordVerdict(metrics: Metrics, verdict: KeyVerdict): void {
  if (verdict.accepted) {
    metrics.addMetric(AuthMetric.SUCCEEDED, MetricUnit.Count, 1);
    const single = metrics.singleMetric();
    single.addDimension(AuthMetric.KEY_ROLE_DIMENSION, verdict.principal.keyRole);
    single.addMetadata('clientId', verdict.principal.clientId);
    single.addMetric(AuthMetric.SUCCEEDED_BY_KEY_ROLE, MetricUnit.Count, 1);
    metrics.addMetadata('clientId', verdict.principal.clientId);
    return;
  }
  metrics.addMetric(AuthMetric.FAILED, MetricUnit.Count, 1);
  const single = metrics.singleMetric();
  single.addDimension(AuthMetric.REASON_DIMENSION, verdict.reason);
  if (verdict.clientId) single.addMetadata('clientId', verdict.clientId);
  if (verdict.keyId) single.addMetadata('keyId', verdict.keyId);
  single.addMetric(AuthMetric.FAILED_BY_REASON, MetricUnit.Count, 1);
  if (verdict.clientId) metrics.addMetadata('clientId', verdict.clientId);
}
