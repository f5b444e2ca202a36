/** The one way KeyRoll alarms: sum over the metric's period at or above a threshold, missing data fine, to the ops topic. */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** Creates alarm `id` in `scope` that notifies `opsTopic` when `metric` reaches `threshold` (default 1) in one period. */
export function opsAlarm(scope: Construct, id: string, opsTopic: sns.ITopic, metric: cloudwatch.IMetric, description: string, threshold = 1): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric,
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: description,
  });
  alarm.addAlarmAction(new cloudwatchActions.SnsAction(opsTopic));
  return alarm;
}
