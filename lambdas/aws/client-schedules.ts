/**
 * EventBridge Scheduler adapter: one schedule per client (named after the client) in
 * KeyRoll's schedule group, invoking the scheduled-start function with the client id and
 * `<aws.scheduler.scheduled-time>`. Writes converge: putting a schedule that exists compares
 * it with the wanted one and updates it only if it differs; deleting a missing one is done.
 * The group belongs to the stack (output ScheduleGroupName, unique per stack instance): deleting
 * the stack deletes the group and every schedule in it, so none outlives its target.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type GetScheduleCommandOutput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { SchedulePlan } from '../core/schedule-plan';
import { scheduleInputFor } from '../core/scheduled-start';
import { classifyTransient } from './transient';

/** Where schedules live and what they invoke: the stack outputs. */
export interface ClientScheduleSettings {
  /** Stack output ScheduleGroupName. */
  readonly groupName: string;
  /** Stack output ScheduledStartFunctionArn. */
  readonly targetArn: string;
  /** Stack output SchedulerRoleArn: may invoke the target and send to the DLQ, nothing else. */
  readonly roleArn: string;
  /** Stack output ScheduleDeadLetterQueueArn: deliveries Scheduler gave up on. */
  readonly deadLetterArn: string;
  /**
   * How Scheduler retries a delivery it could not make.
   * @default {@link DEFAULT_SCHEDULE_RETRY}
   */
  readonly retry?: ScheduleRetry;
}

/** Scheduler's RetryPolicy. */
export interface ScheduleRetry {
  readonly maximumRetryAttempts: number;
  readonly maximumEventAgeSeconds: number;
}

/** 20 attempts within 6 hours: a throttled or briefly failing delivery still starts that day's rotation. */
export const DEFAULT_SCHEDULE_RETRY: ScheduleRetry = { maximumRetryAttempts: 20, maximumEventAgeSeconds: 6 * 3600 };

/** What {@link ClientSchedules.put} did. */
export type SchedulePutOutcome = 'created' | 'updated' | 'unchanged';

/** The parts of a schedule KeyRoll sets, as it reads them back. */
export interface ClientSchedule {
  readonly name: string;
  readonly groupName: string;
  readonly expression: string;
  readonly timeZone?: string;
  readonly startDate?: string;
  readonly flexibleWindowMinutes?: number;
  readonly targetArn: string;
  readonly roleArn: string;
  readonly input?: string;
  readonly deadLetterArn?: string;
  readonly retry?: ScheduleRetry;
  readonly state?: string;
}

/** The per-client schedules. */
export class ClientSchedules {
  private readonly retry: ScheduleRetry;

  constructor(
    private readonly scheduler: SchedulerClient,
    private readonly settings: ClientScheduleSettings,
  ) {
    this.retry = settings.retry ?? DEFAULT_SCHEDULE_RETRY;
  }

  /** A client's schedule name: the client id (1-64 characters of [A-Za-z0-9._-], as Scheduler allows). */
  scheduleName(clientId: string): string {
    return clientId;
  }

  /** Creates the client's schedule, or brings an existing one to `plan`. */
  async put(clientId: string, plan: SchedulePlan): Promise<SchedulePutOutcome> {
    const request = this.request(clientId, plan);
    try {
      await classifyTransient(() => this.scheduler.send(new CreateScheduleCommand(request)));
      return 'created';
    } catch (error) {
      if (!(error instanceof ConflictException)) throw error;
    }
    const existing = await this.get(clientId);
    if (existing && this.matches(existing, clientId, plan)) return 'unchanged';
    // The schedule exists (or vanished between the calls: update fails loudly then, and a re-run creates it).
    await classifyTransient(() => this.scheduler.send(new UpdateScheduleCommand(request)));
    return 'updated';
  }

  /** Deletes the client's schedule; false if there was none. */
  async delete(clientId: string): Promise<boolean> {
    try {
      await classifyTransient(() => this.scheduler.send(new DeleteScheduleCommand({ Name: this.scheduleName(clientId), GroupName: this.settings.groupName })));
      return true;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return false;
      throw error;
    }
  }

  /** The client's schedule as KeyRoll sees it, or undefined. */
  async get(clientId: string): Promise<ClientSchedule | undefined> {
    let found: GetScheduleCommandOutput;
    try {
      found = await classifyTransient(() => this.scheduler.send(new GetScheduleCommand({ Name: this.scheduleName(clientId), GroupName: this.settings.groupName })));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
    return {
      name: found.Name ?? this.scheduleName(clientId),
      groupName: found.GroupName ?? this.settings.groupName,
      expression: found.ScheduleExpression ?? '',
      timeZone: found.ScheduleExpressionTimezone,
      startDate: found.StartDate?.toISOString(),
      flexibleWindowMinutes: found.FlexibleTimeWindow?.Mode === 'FLEXIBLE' ? found.FlexibleTimeWindow.MaximumWindowInMinutes : undefined,
      targetArn: found.Target?.Arn ?? '',
      roleArn: found.Target?.RoleArn ?? '',
      input: found.Target?.Input,
      deadLetterArn: found.Target?.DeadLetterConfig?.Arn,
      retry: found.Target?.RetryPolicy
        ? { maximumRetryAttempts: found.Target.RetryPolicy.MaximumRetryAttempts ?? -1, maximumEventAgeSeconds: found.Target.RetryPolicy.MaximumEventAgeInSeconds ?? -1 }
        : undefined,
      state: found.State,
    };
  }

  private request(clientId: string, plan: SchedulePlan) {
    return {
      Name: this.scheduleName(clientId),
      GroupName: this.settings.groupName,
      Description: `KeyRoll scheduled rotation of client ${clientId}`,
      ScheduleExpression: plan.expression,
      ScheduleExpressionTimezone: plan.timeZone,
      StartDate: plan.startDate ? new Date(plan.startDate) : undefined,
      // FLEXIBLE spreads the starts of many clients with the same window over its length.
      FlexibleTimeWindow: { Mode: 'FLEXIBLE' as const, MaximumWindowInMinutes: plan.flexibleWindowMinutes },
      State: 'ENABLED' as const,
      Target: {
        Arn: this.settings.targetArn,
        RoleArn: this.settings.roleArn,
        Input: scheduleInputFor(clientId),
        RetryPolicy: { MaximumRetryAttempts: this.retry.maximumRetryAttempts, MaximumEventAgeInSeconds: this.retry.maximumEventAgeSeconds },
        DeadLetterConfig: { Arn: this.settings.deadLetterArn },
      },
    };
  }

  /** Whether `existing` already is the schedule `plan` asks for (a rate schedule's start date is kept as it is). */
  private matches(existing: ClientSchedule, clientId: string, plan: SchedulePlan): boolean {
    return (
      existing.expression === plan.expression &&
      existing.timeZone === plan.timeZone &&
      existing.flexibleWindowMinutes === plan.flexibleWindowMinutes &&
      (plan.startDate === undefined) === (existing.startDate === undefined) &&
      existing.targetArn === this.settings.targetArn &&
      existing.roleArn === this.settings.roleArn &&
      existing.deadLetterArn === this.settings.deadLetterArn &&
      existing.input === scheduleInputFor(clientId) &&
      existing.retry?.maximumRetryAttempts === this.retry.maximumRetryAttempts &&
      existing.retry?.maximumEventAgeSeconds === this.retry.maximumEventAgeSeconds &&
      existing.state === 'ENABLED'
    );
  }
}
