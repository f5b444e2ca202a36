/**
 * What a schedule delivers and the rotation it starts. The rotation id is derived from the
 * client and the schedule's nominal time only, so every delivery of one scheduled time
 * (Scheduler retries, Lambda async retries, a duplicate) names the same execution, and Step
 * Functions runs it once.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { clientIdSchema, objectIssueMessage, parseOperation } from './input-schema';
import { ROTATION_ID_PATTERN, RotationMode, type RotationRequest } from './rotation-request';

/** Who the audit trail names for scheduled rotations. */
export const SCHEDULER_ACTOR = 'keyroll-scheduler';

/** The Input of every client schedule; Scheduler fills in `<aws.scheduler.scheduled-time>`. */
export interface ScheduledStartEvent {
  readonly clientId: string;
  /** The schedule's nominal time (not the delivery time), ISO-8601 UTC. */
  readonly scheduledTime: string;
}

/** The Input template a client's schedule carries (Scheduler substitutes the context attribute). */
export function scheduleInputFor(clientId: string): string {
  return JSON.stringify({ clientId, scheduledTime: '<aws.scheduler.scheduled-time>' });
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const EVENT_FIELDS = ['clientId', 'scheduledTime'] as const;

/** An ISO-8601 UTC time that names a real instant (Date.parse alone would turn Feb 30 into Mar 2). */
function isIsoUtc(text: string): boolean {
  if (!ISO_UTC.test(text)) return false;
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === text.slice(0, 19);
}

const eventSchema = v.strictObject(
  {
    clientId: clientIdSchema,
    scheduledTime: v.pipe(v.string('must be a string'), v.check(isIsoUtc, 'must be an ISO-8601 UTC date and time, e.g. 2026-12-06T01:00:00Z')),
  },
  objectIssueMessage(EVENT_FIELDS),
);

/**
 * Validates what the schedule delivered.
 *
 * @throws InvalidOperationInputError naming the offending fields.
 */
export function parseScheduledStartEvent(raw: unknown): ScheduledStartEvent {
  return parseOperation('scheduled start', eventSchema, raw);
}

/**
 * `sched-<YYYYMMDDTHHMMSSZ>-<32 hex of SHA-256(clientId)>`: 55 characters of [A-Za-z0-9_-], a
 * valid execution name and ClientRequestToken, the same for the same client and scheduled time.
 */
export function scheduledRotationId(event: ScheduledStartEvent): string {
  const compact = new Date(Date.parse(event.scheduledTime))
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  const clientHash = createHash('sha256').update(`keyroll:client:${event.clientId}`, 'utf8').digest('hex').slice(0, 32);
  const rotationId = `sched-${compact}-${clientHash}`;
  if (!ROTATION_ID_PATTERN.test(rotationId)) throw new RangeError('A scheduled rotation id must be a valid rotation id.');
  return rotationId;
}

/** The execution input of a scheduled rotation (the client's policy decides its overlap). */
export function scheduledRotationRequest(event: ScheduledStartEvent): RotationRequest {
  return {
    clientId: event.clientId,
    mode: RotationMode.SCHEDULED,
    reason: `scheduled rotation (${event.scheduledTime})`,
    requestedBy: SCHEDULER_ACTOR,
  };
}
