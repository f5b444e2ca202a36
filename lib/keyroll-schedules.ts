/**
 * KeyRollSchedules: what scheduled rotations share. The per-client schedules themselves are
 * created at onboarding through the SDK (operator/ops/onboard-client.ts), one per client, so
 * nothing ever scans the client table; this construct deploys what they point at:
 *
 * - a schedule group that holds every client's schedule. It is deleted with the stack, and
 *   deleting a schedule group deletes its schedules (DeleteScheduleGroup,
 *   https://docs.aws.amazon.com/scheduler/latest/APIReference/API_DeleteScheduleGroup.html):
 *   no client schedule outlives the stack to fire at a deleted function. Its name is unique
 *   per stack instance (it ends with the CloudFormation stack id's UUID), so a stack re-created
 *   under the same name never meets a group still being deleted;
 * - the scheduled-start function, which turns a delivery into a rotation whose id depends only
 *   on the client and the scheduled time, and starts it (duplicates find the same execution);
 * - the role Scheduler assumes: invoke that one function, send to the DLQ, nothing else;
 * - an SQS dead-letter queue (SQS-managed encryption, TLS only) for deliveries Scheduler gave
 *   up on and for scheduled starts that failed after Lambda's retries, with an alarm on it.
 *
 * Why not aws-scheduler-targets: its targets bind to schedules defined in CDK; these schedules
 * are created at run time, so the role and DLQ wiring a target would add is written out here.
 */
import { Arn, ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { keyRollFunction } from './keyroll-function';
import { acknowledgeTracing } from './nag-acknowledgements';
import { opsAlarm } from './ops-alarm';

/** What scheduled rotations start and where they report. */
export interface KeyRollSchedulesProps {
  /** The rotation state machine; the scheduled-start function may only start its executions. */
  readonly stateMachine: sfn.IStateMachine;
  /** Encrypts the scheduled-start function's log group. */
  readonly encryptionKey: kms.IKey;
  /** Alarms (failed scheduled starts) go here. */
  readonly opsTopic: sns.ITopic;
  /**
   * How long failed deliveries stay in the dead-letter queue (1 minute to 14 days).
   * @default Duration.days(14)
   */
  readonly deadLetterRetention?: Duration;
  /**
   * Lambda retries of a failed scheduled start (0-2) before it goes to the dead-letter queue.
   * @default 2
   */
  readonly startRetryAttempts?: number;
  /**
   * What happens to the dead-letter queue and the log group when the stack is deleted. The
   * schedule group is always deleted with the stack (its schedules would otherwise keep firing
   * at the deleted scheduled-start function).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the scheduled-start function's logs.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The shared parts of scheduled rotations. Construct ids are a public contract. */
export class KeyRollSchedules extends Construct {
  /** Holds one schedule per client, named after the client. */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The target of every client schedule. */
  readonly scheduledStartFunction: lambda.IFunction;
  /** The role every client schedule runs as: invoke the scheduled-start function, send to the DLQ. */
  readonly schedulerRole: iam.Role;
  /** Deliveries that failed for good. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: KeyRollSchedulesProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.deadLetterRetention ?? Duration.days(14);
    const retries = props.startRetryAttempts ?? 2;
    if (retention.toSeconds() < 60 || retention.toSeconds() > Duration.days(14).toSeconds()) {
      throw new Error(`deadLetterRetention must be between 1 minute and 14 days; got ${retention.toSeconds()} seconds.`);
    }
    if (!Number.isInteger(retries) || retries < 0 || retries > 2) throw new Error(`startRetryAttempts must be 0, 1 or 2; got ${retries}.`);
    const stack = Stack.of(this);

    // The construct's unique name (27 characters at most) + '-' + the stack id's UUID (36) fits
    // Scheduler's 64 characters of [0-9a-zA-Z-_.]. The UUID changes when the stack is re-created.
    const scheduleGroupName = Fn.join('-', [Names.uniqueResourceName(this, { maxLength: 27, separator: '-' }), Fn.select(2, Fn.split('/', Aws.STACK_ID))]);
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Group', { scheduleGroupName, removalPolicy: RemovalPolicy.DESTROY });
    // Formatted from the name, not read from the group: the role may then exist before the group
    // and be deleted after it (see the dependency below).
    const scheduleGroupArn = Arn.format({ service: 'scheduler', resource: 'schedule-group', resourceName: scheduleGroupName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, stack);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: retention,
      removalPolicy,
    });

    const { fn, role } = keyRollFunction(this, 'ScheduledStart', {
      handlerFile: 'scheduled-start.ts',
      description: 'KeyRoll: starts the scheduled rotation of one client (execution name derived from client and scheduled time)',
      environment: { STATE_MACHINE_ARN: props.stateMachine.stateMachineArn, POWERTOOLS_SERVICE_NAME: 'keyroll', POWERTOOLS_LOG_LEVEL: 'INFO' },
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy,
      // Scheduler invokes asynchronously: a start that still fails after Lambda's retries lands here.
      deadLetterQueue: this.deadLetterQueue,
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['states:StartExecution'], resources: [props.stateMachine.stateMachineArn] }));
    fn.configureAsyncInvoke({ retryAttempts: retries, maxEventAge: Duration.hours(6) });
    acknowledgeTracing(role);
    this.scheduledStartFunction = fn;

    // Confused-deputy guard: only schedules of this account's group may assume the role.
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'KeyRoll client schedules: invoke the scheduled-start function, dead-letter to the queue',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': scheduleGroupArn } },
      }),
    });
    // The unqualified ARN only: schedules target it, and no version or alias is needed.
    this.schedulerRole.addToPolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [fn.functionArn] }));
    this.schedulerRole.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueue.queueArn] }));

    // CloudFormation deletes a resource before what it depends on: the group (and with it every
    // client schedule) goes first, while the function, its role and the DLQ still exist for
    // any schedule that fires during the deletion (the API reference above says it may).
    this.scheduleGroup.node.addDependency(fn, role, this.schedulerRole, this.deadLetterQueue);

    const alarm = (alarmId: string, metric: cloudwatch.IMetric, description: string) => opsAlarm(this, alarmId, props.opsTopic, metric, description);
    alarm('DeadLettersAlarm', this.metricDeadLetters(), 'A scheduled KeyRoll rotation was not started; its delivery is in the dead-letter queue (clientId and scheduled time in the message).');
    alarm('ScheduledStartErrorsAlarm', fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 'The KeyRoll scheduled-start function reported errors.');
  }

  /**
   * Lets `grantee` (e.g. the operator CLI's role) create, update, read and delete client
   * schedules in the group, and pass the scheduler role to them.
   */
  grantManageSchedules(grantee: iam.IGrantable): iam.Grant {
    const schedules = Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule', 'scheduler:GetSchedule', 'scheduler:DeleteSchedule'],
      resourceArns: [schedules],
    }).combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['iam:PassRole'],
        resourceArns: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
  }

  /** Deliveries waiting in the dead-letter queue. */
  metricDeadLetters(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum', ...props });
  }
}
