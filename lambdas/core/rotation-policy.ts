/**
 * A client's scheduled-rotation policy, validated with a schema: how often (every N days),
 * the overlap and the hard deadline of the previous key, and a preferred local window
 * (IANA time zone, `HH:MM`-`HH:MM`) in which scheduled rotations start.
 */
import * as v from 'valibot';
import { parseOperation, rejectIssues } from './input-schema';
import type { RotationPolicy } from './model';

/** Longest interval: a year. */
export const MAX_INTERVAL_DAYS = 365;
/**
 * Slack between the end of one scheduled rotation's longest possible overlap and the start
 * of the next: the rotation's own steps, retries and clock skew fit in it.
 */
export const SCHEDULE_MARGIN_SECONDS = 3600;

/** The deployment's overlap bounds (the construct's minOverlap/maxOverlap), in seconds. */
export interface PolicyBounds {
  readonly minOverlapSeconds: number;
  readonly maxOverlapSeconds: number;
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;
// IANA names: Area/Location[/Sublocation], or a few single names (UTC, GMT, ...). Checked
// against the runtime's tz database after the shape, so nothing odd reaches Intl.
const TIME_ZONE_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]{0,31}(\/[A-Za-z0-9_+-]{1,32}){0,2}$/;

/** The canonical IANA name of `name`, or undefined if the runtime's tz database does not know it. */
export function canonicalTimeZone(name: string): string | undefined {
  if (!TIME_ZONE_SHAPE.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Minutes since midnight of an `HH:MM` string (already validated). */
export function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':').map(Number) as [number, number];
  return hours * 60 + minutes;
}

/** Length of a window in minutes (1-1439); a window may wrap past midnight (22:00-02:00). */
export function windowMinutes(window: RotationPolicy['window']): number {
  return (((minutesOf(window.end) - minutesOf(window.start)) % 1440) + 1440) % 1440;
}

/** The schema of a policy under the deployment's bounds (also a piece of the register request's schema). */
export function rotationPolicySchema(bounds: PolicyBounds) {
  const seconds = (min: number) =>
    v.pipe(
      v.number('must be a number'),
      v.integer('must be a whole number of seconds'),
      v.minValue(min, `must be at least ${min}`),
      v.maxValue(bounds.maxOverlapSeconds, `must be at most ${bounds.maxOverlapSeconds}`),
    );
  const time = v.pipe(v.string('must be a string'), v.regex(HH_MM, 'must be HH:MM (24-hour)'));
  return v.strictObject(
    {
      intervalDays: v.pipe(v.number('must be a number'), v.integer('must be a whole number of days'), v.minValue(1, 'must be at least 1'), v.maxValue(MAX_INTERVAL_DAYS, `must be at most ${MAX_INTERVAL_DAYS}`)),
      overlapSeconds: v.optional(seconds(bounds.minOverlapSeconds)),
      maxOverlapSeconds: v.optional(seconds(bounds.minOverlapSeconds)),
      timeZone: v.pipe(
        v.string('must be a string'),
        v.check((name) => canonicalTimeZone(name) !== undefined, 'must be an IANA time zone name, e.g. Europe/Berlin'),
        v.transform((name) => canonicalTimeZone(name)!),
      ),
      window: v.strictObject(
        {
          start: time,
          end: time,
        },
        (issue) => (issue.expected === 'never' ? 'is not allowed; the fields are start, end' : issue.path?.length ? 'is required' : 'must be an object'),
      ),
    },
    (issue) => (issue.expected === 'never' ? 'is not allowed; the fields are intervalDays, overlapSeconds, maxOverlapSeconds, timeZone, window' : issue.path?.length ? 'is required' : 'must be an object'),
  );
}

/**
 * Rules across fields, as issue lines (`policy.` prefixed by the caller if nested): the
 * window has a length; the overlap fits under the hard deadline; the longest possible
 * overlap (plus the window's spread and a margin) ends before the next scheduled rotation,
 * which would otherwise find the client still locked.
 */
export function policyIssues(policy: RotationPolicy, bounds: PolicyBounds): string[] {
  const issues: string[] = [];
  const windowLength = windowMinutes(policy.window);
  if (windowLength === 0) issues.push('window: start and end must differ');
  const maxOverlap = policy.maxOverlapSeconds ?? bounds.maxOverlapSeconds;
  if (policy.overlapSeconds !== undefined && policy.overlapSeconds > maxOverlap) {
    issues.push('overlapSeconds: must not exceed maxOverlapSeconds');
  }
  const budget = policy.intervalDays * 86_400 - windowLength * 60 - SCHEDULE_MARGIN_SECONDS;
  if (maxOverlap > budget) {
    issues.push(
      `maxOverlapSeconds: the previous key's hard deadline (${maxOverlap} s${policy.maxOverlapSeconds === undefined ? ', the deployment maximum' : ''}) ` +
        `must end before the next scheduled rotation can start; at most ${Math.max(0, budget)} s for this interval and window`,
    );
  }
  return issues;
}

/**
 * Validates a policy on its own (e.g. before a CLI asks anything else).
 *
 * @throws InvalidOperationInputError listing every offending field (never a value).
 */
export function parseRotationPolicy(raw: unknown, bounds: PolicyBounds): RotationPolicy {
  const policy = parseOperation('rotation policy', rotationPolicySchema(bounds), raw);
  rejectIssues('rotation policy', policyIssues(policy, bounds));
  return policy;
}
