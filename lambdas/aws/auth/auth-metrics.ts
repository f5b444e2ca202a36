/**
 * The auth layer's CloudWatch metrics, as EMF through Powertools Metrics. The names live in
 * lambdas/core/auth-metric-names.ts, a contract with the alarms, the dashboard and the CLI.
 *
 * Each verdict emits a total with only the service dimension (cheap to alarm on and to
 * combine in metric math) and a breakdown in its own dimension set (key role or reason).
 * The client id is a property of the log record, never a dimension: 10,000 clients must
 * not become 10,000 metrics.
 */
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric } from '../../core/auth-metric-names';
import type { KeyVerdict } from '../../core/key-verifier';

export { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric };

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
