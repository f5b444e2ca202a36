/**
 * From a rotation policy to an EventBridge Scheduler schedule: the expression, its time
 * zone, where a rate schedule starts, and the flexible window that spreads the start of
 * many clients' rotations over the preferred window.
 *
 * - Every day: `cron(MM HH * * ? *)` in the client's time zone; Scheduler keeps it at the
 *   same local time across daylight-saving changes.
 * - Every N > 1 days: `rate(N days)` whose first run (StartDate) is the next window start
 *   in the client's time zone. A rate counts 24-hour days, so across a daylight-saving
 *   change the start moves by the change (usually an hour) in local time; cron cannot say
 *   "every N days" (day-of-month steps restart every month).
 */
import type { Clock } from './clock';
import type { RotationPolicy } from './model';
import { minutesOf, windowMinutes } from './rotation-policy';

/** What CreateSchedule needs from the policy. */
export interface SchedulePlan {
  /** `cron(...)` or `rate(N days)`. */
  readonly expression: string;
  /** IANA time zone the expression (and the window) is evaluated in. */
  readonly timeZone: string;
  /** ISO-8601 first run of a rate schedule; absent for cron. */
  readonly startDate?: string;
  /** FlexibleTimeWindow MaximumWindowInMinutes: the preferred window's length. */
  readonly flexibleWindowMinutes: number;
}

/** The schedule for `policy`, planned at the clock's current instant. */
export function planSchedule(policy: RotationPolicy, clock: Clock): SchedulePlan {
  const start = minutesOf(policy.window.start);
  const [hour, minute] = [Math.floor(start / 60), start % 60];
  const flexibleWindowMinutes = windowMinutes(policy.window);
  if (policy.intervalDays === 1) {
    return { expression: `cron(${minute} ${hour} * * ? *)`, timeZone: policy.timeZone, flexibleWindowMinutes };
  }
  return {
    expression: `rate(${policy.intervalDays} days)`,
    timeZone: policy.timeZone,
    startDate: new Date(nextLocalTime(policy.timeZone, hour, minute, clock.nowMs())).toISOString(),
    flexibleWindowMinutes,
  };
}

/** The first instant after `afterMs` at which the wall clock in `timeZone` reads `hour:minute`. */
export function nextLocalTime(timeZone: string, hour: number, minute: number, afterMs: number): number {
  const today = localDate(timeZone, afterMs);
  for (let dayOffset = 0; dayOffset <= 2; dayOffset++) {
    const candidate = zonedToUtc(timeZone, today.year, today.month, today.day + dayOffset, hour, minute);
    if (candidate > afterMs) return candidate;
  }
  throw new RangeError(`No ${hour}:${minute} in ${timeZone} within two days of ${new Date(afterMs).toISOString()}.`);
}

function partsOf(timeZone: string, utcMs: number): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', number> {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(utcMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((part) => part.type === type)?.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

function localDate(timeZone: string, utcMs: number): { year: number; month: number; day: number } {
  const { year, month, day } = partsOf(timeZone, utcMs);
  return { year, month, day };
}

/** Offset of `timeZone` from UTC at `utcMs`, in milliseconds (positive east of Greenwich). */
function offsetMs(timeZone: string, utcMs: number): number {
  const p = partsOf(timeZone, utcMs);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The UTC instant of a local wall-clock time. `day` may overflow the month (Date.UTC
 * normalises). In a spring-forward gap the result is the instant the clock jumps past it.
 */
function zonedToUtc(timeZone: string, year: number, month: number, day: number, hour: number, minute: number): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute);
  const first = asUtc - offsetMs(timeZone, asUtc);
  const second = asUtc - offsetMs(timeZone, first);
  return second;
}
