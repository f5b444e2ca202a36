/** The KeyRoll CloudWatch dashboard: authentication health and rotation health on one page. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import type { KeyRollAuth } from './keyroll-auth';
import { stepFunctionsOf, type KeyRollRotation } from './keyroll-rotation';

const FAILURE_REASONS = ['malformed', 'unknown', 'pending', 'revoked', 'expired', 'insufficient_scope'] as const;

/** Adds the dashboard to `scope`. */
export function addKeyRollDashboard(scope: Construct, rotation: KeyRollRotation, auth: KeyRollAuth): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.hours(24) });
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Authentications', left: [auth.metricAuthSucceeded(), auth.metricAuthFailed()], width: 8 }),
    new cloudwatch.GraphWidget({ title: 'Failure rate', left: [auth.metricAuthFailureRate()], leftYAxis: { min: 0, max: 1 }, width: 8 }),
    new cloudwatch.GraphWidget({ title: 'Previous-key use (clients still lagging)', left: [auth.metricPreviousKeyUse()], width: 8 }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Failures by reason', left: FAILURE_REASONS.map((reason) => auth.metricAuthFailedByReason(reason, { label: reason })), stacked: true, width: 12 }),
    new cloudwatch.GraphWidget({
      title: 'Rotations',
      left: [
        rotation.stateMachine.metricStarted({ statistic: 'Sum', label: 'started' }),
        rotation.stateMachine.metricSucceeded({ statistic: 'Sum', label: 'succeeded' }),
        rotation.metricFailedRotations({ label: 'failed' }),
        rotation.metricTimedOutRotations({ label: 'timed out' }),
        rotation.metricAbortedRotations({ label: 'aborted' }),
      ],
      width: 12,
    }),
  );
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Lambda errors',
      left: [...stepFunctionsOf(rotation.functions).map(([step, fn]) => fn.metricErrors({ statistic: 'Sum', label: step })), auth.authorizerFunction.metricErrors({ statistic: 'Sum', label: 'authorizer' })],
      width: 24,
    }),
  );
  return dashboard;
}
