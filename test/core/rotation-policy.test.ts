/**
 * The rotation policy and the schedule planned from it (pure): validation with named issues
 * that never echo a value, the interval/overlap/window rules, and the expression, time zone,
 * first run and flexible window, across time zones and daylight-saving changes.
 */
import fc from 'fast-check';
import { ManualClock } from '../../lambdas/core/clock';
import { InvalidOperationInputError } from '../../lambdas/core/errors';
import { executionArnFor, isStateMachineArn } from '../../lambdas/core/execution-arn';
import type { RotationPolicy } from '../../lambdas/core/model';
import { parseRevokeKeyRequest, parseRollbackRequest } from '../../lambdas/core/ops-requests';
import { canonicalTimeZone, parseRotationPolicy, SCHEDULE_MARGIN_SECONDS, windowMinutes } from '../../lambdas/core/rotation-policy';
import { parseRotationRequest } from '../../lambdas/core/rotation-request';
import { nextLocalTime, planSchedule } from '../../lambdas/core/schedule-plan';
import { RUNS, thrownBy } from './helpers';

const BOUNDS = { minOverlapSeconds: 60, maxOverlapSeconds: 30 * 86_400 };
const policy = (extra: Partial<RotationPolicy> = {}): RotationPolicy => ({
  intervalDays: 90,
  overlapSeconds: 86_400,
  maxOverlapSeconds: 7 * 86_400,
  timeZone: 'Europe/Berlin',
  window: { start: '02:00', end: '04:00' },
  ...extra,
});

function issuesOf(raw: unknown): string[] {
  const error = thrownBy(() => parseRotationPolicy(raw, BOUNDS));
  expect(error).toBeInstanceOf(InvalidOperationInputError);
  return [...(error as InvalidOperationInputError).issues];
}

describe('parseRotationPolicy', () => {
  it('accepts a valid policy and keeps it as given (optional fields may be left out)', () => {
    expect(parseRotationPolicy(policy(), BOUNDS)).toEqual(policy());
    const minimal = { intervalDays: 90, timeZone: 'UTC', window: { start: '22:00', end: '01:00' } };
    expect(parseRotationPolicy(minimal, BOUNDS)).toEqual(minimal);
  });

  it('canonicalises the time zone name', () => {
    expect(parseRotationPolicy(policy({ timeZone: 'europe/berlin' }), BOUNDS).timeZone).toBe('Europe/Berlin');
    expect(canonicalTimeZone('America/New_York')).toBe('America/New_York');
    expect(canonicalTimeZone('Not/A_Zone')).toBeUndefined();
    expect(canonicalTimeZone('../../etc/passwd')).toBeUndefined();
  });

  it.each([
    [{ intervalDays: 366 }, 'intervalDays: must be at most 365'],
    [{ intervalDays: '7' }, 'intervalDays: must be a number'],
    [{ overlapSeconds: 3.5 }, 'overlapSeconds: must be a whole number of seconds'],
    [{ maxOverlapSeconds: 31 * 86_400 }, 'maxOverlapSeconds: must be at most 2592000'],
    [{ timeZone: 'CEST+2' }, 'timeZone: must be an IANA time zone name, e.g. Europe/Berlin'],
    [{ window: { start: '2:00', end: '04:00' } }, 'window.start: must be HH:MM (24-hour)'],
    [{ window: { start: '02:00' } }, 'window.end: is required'],
    [{ window: '02:00-04:00' }, 'window: must be an object'],
    [{ window: { start: '02:00', end: '02:00' } }, 'window: start and end must differ'],
    [{ overlapSeconds: 8 * 86_400 }, 'overlapSeconds: must not exceed maxOverlapSeconds'],
  ])('names the field: %j', (patch, issue) => {
    expect(issuesOf({ ...policy(), ...patch })).toContain(issue);
  });

  it('needs the longest overlap, the window and a margin to fit in the interval (else the next start finds the lock held)', () => {
    // 7 days: 604800 s - 120 min window - 1 h margin = 594000 s.
    const weekly = policy({ intervalDays: 7, overlapSeconds: 3600 });
    expect(604_800 - 7200 - SCHEDULE_MARGIN_SECONDS).toBe(594_000);
    expect(parseRotationPolicy({ ...weekly, maxOverlapSeconds: 594_000 }, BOUNDS)).toBeDefined();
    expect(issuesOf({ ...weekly, maxOverlapSeconds: 594_001 })).toEqual([
      "maxOverlapSeconds: the previous key's hard deadline (594001 s) must end before the next scheduled rotation can start; at most 594000 s for this interval and window",
    ]);
    // Without maxOverlapSeconds the deployment's maximum (30 days) is the deadline: too long for a weekly rotation.
    expect(issuesOf({ intervalDays: 7, timeZone: 'UTC', window: { start: '02:00', end: '03:00' } })).toEqual([expect.stringContaining('the deployment maximum')]);
  });

  it('never echoes a value (nor a field name as long as a key), whatever is thrown at it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 33 }), fc.constantFrom('timeZone', 'intervalDays', 'window', 'extra'), (junk, field) => {
        const error = thrownBy(() => parseRotationPolicy({ ...policy(), [field]: junk, [junk]: junk }, BOUNDS)) as InvalidOperationInputError;
        expect(error.message.includes(junk)).toBe(false);
      }),
      RUNS,
    );
  });

  it('window length wraps past midnight', () => {
    expect(windowMinutes({ start: '02:00', end: '04:00' })).toBe(120);
    expect(windowMinutes({ start: '23:30', end: '00:15' })).toBe(45);
    expect(windowMinutes({ start: '00:00', end: '23:59' })).toBe(1439);
  });
});

describe('planSchedule', () => {
  const at = (iso: string) => new ManualClock(Date.parse(iso));

  it('every day: a cron at the window start in the client time zone (Scheduler keeps the local time across DST)', () => {
    expect(planSchedule(policy({ intervalDays: 1, maxOverlapSeconds: 3600 }), at('2026-03-01T00:00:00Z'))).toEqual({
      expression: 'cron(0 2 * * ? *)',
      timeZone: 'Europe/Berlin',
      flexibleWindowMinutes: 120,
    });
    expect(planSchedule(policy({ intervalDays: 1, window: { start: '23:45', end: '00:30' } }), at('2026-03-01T00:00:00Z')).expression).toBe('cron(45 23 * * ? *)');
  });

  it('every N days: a rate whose first run is the next window start in the client time zone', () => {
    // Berlin is UTC+1 in winter, UTC+2 in summer.
    expect(planSchedule(policy(), at('2026-01-10T01:30:00Z'))).toEqual({ expression: 'rate(90 days)', timeZone: 'Europe/Berlin', startDate: '2026-01-11T01:00:00.000Z', flexibleWindowMinutes: 120 });
    expect(planSchedule(policy(), at('2026-01-10T00:59:00Z')).startDate).toBe('2026-01-10T01:00:00.000Z');
    expect(planSchedule(policy(), at('2026-07-10T00:30:00Z')).startDate).toBe('2026-07-11T00:00:00.000Z');
    expect(planSchedule(policy({ timeZone: 'America/New_York' }), at('2026-07-10T12:00:00Z')).startDate).toBe('2026-07-11T06:00:00.000Z');
    expect(planSchedule(policy({ timeZone: 'Asia/Kolkata', window: { start: '03:30', end: '05:00' } }), at('2026-07-10T12:00:00Z')).startDate).toBe('2026-07-10T22:00:00.000Z');
  });

  it('a start inside the spring-forward gap runs when the clock jumps past it', () => {
    // 2026-03-29 02:30 does not exist in Berlin (02:00 CET → 03:00 CEST): 03:30 CEST = 01:30 UTC.
    expect(nextLocalTime('Europe/Berlin', 2, 30, Date.parse('2026-03-28T12:00:00Z'))).toBe(Date.parse('2026-03-29T01:30:00Z'));
  });

  it('the first run is always later than now and reads the window start on the local clock', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Asia/Kathmandu', 'Pacific/Chatham'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2026-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') }),
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        (nowMs, zone, hour, minute) => {
          const start = nextLocalTime(zone, hour, minute, nowMs);
          expect(start).toBeGreaterThan(nowMs);
          expect(start - nowMs).toBeLessThanOrEqual(26 * 3600_000);
          const [h, m] = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(start)).split(':').map(Number) as [number, number];
          // The wanted wall time, or (inside a spring-forward gap) at most an hour after it.
          const late = (((h * 60 + m - (hour * 60 + minute)) % 1440) + 1440) % 1440;
          expect(late).toBeLessThanOrEqual(60);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('incident requests', () => {
  it('revokeImmediately is for emergency rotations only, and false is the same as absent', () => {
    const base = { clientId: 'acme', reason: 'leak', requestedBy: 'sec' };
    expect(parseRotationRequest({ ...base, mode: 'emergency', revokeImmediately: true })).toEqual({ ...base, mode: 'emergency', revokeImmediately: true });
    expect(parseRotationRequest({ ...base, mode: 'emergency', revokeImmediately: false })).toEqual({ ...base, mode: 'emergency' });
    for (const mode of ['manual', 'scheduled']) {
      expect(thrownBy(() => parseRotationRequest({ ...base, mode, revokeImmediately: true }))).toMatchObject({
        name: 'InvalidRotationInput',
        issues: ['revokeImmediately: only an emergency rotation may revoke every key at once'],
      });
    }
    expect(thrownBy(() => parseRotationRequest({ ...base, mode: 'emergency', revokeImmediately: 'yes' }))).toMatchObject({ issues: ['revokeImmediately: must be true or false'] });
  });

  it('a revocation names a key id, never a key; a rollback names a rotation id', () => {
    const base = { clientId: 'acme', requestedBy: 'sec', reason: 'leak' };
    expect(parseRevokeKeyRequest({ ...base, keyId: 'kr_kid_0123456789abcdef', force: true })).toEqual({ ...base, keyId: 'kr_kid_0123456789abcdef', force: true });
    expect(thrownBy(() => parseRevokeKeyRequest({ ...base, keyId: 'kr_kid_0123' }))).toMatchObject({ name: 'InvalidOperationInput' });
    expect(thrownBy(() => parseRollbackRequest({ ...base, rotationId: 'short' }))).toMatchObject({ issues: ['rotationId: must be 32-64 characters of [A-Za-z0-9_-]'] });
  });

  it('execution ARNs come from the state machine ARN and the rotation id', () => {
    const machine = 'arn:aws:states:eu-central-1:123456789012:stateMachine:KeyRoll-Rotation-835DCB83';
    expect(isStateMachineArn(machine)).toBe(true);
    expect(executionArnFor(machine, 'rot-1234')).toBe('arn:aws:states:eu-central-1:123456789012:execution:KeyRoll-Rotation-835DCB83:rot-1234');
    expect(executionArnFor(machine.replace('arn:aws:', 'arn:aws-cn:'), 'x')).toMatch(/^arn:aws-cn:states:.*:execution:KeyRoll-Rotation-835DCB83:x$/);
    expect(() => executionArnFor('arn:aws:states:eu-central-1:123456789012:execution:a:b', 'x')).toThrow(RangeError);
  });
});
