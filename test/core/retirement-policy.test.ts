import fc from 'fast-check';
import { checkLeadMs, decideRetirement, type RetirementCheck } from '../../lambdas/core/retirement-policy';

const H = 3_600_000;
const base: RetirementCheck = {
  nowMs: 0,
  notAfterMs: 2 * H,
  hardDeadlineMs: 24 * H,
  usageWindowMs: H,
  reminderIntervalMs: 6 * H,
  leadMs: 5 * 60_000,
};

describe('decideRetirement', () => {
  it('waits until the lead before the not-after', () => {
    expect(decideRetirement(base)).toEqual({ decision: 'wait', checkAtMs: 2 * H - 5 * 60_000, notAfterMs: 2 * H });
  });

  it('retires an unused key at its not-after', () => {
    expect(decideRetirement({ ...base, nowMs: 2 * H - 5 * 60_000 })).toEqual({ decision: 'retire', notAfterMs: 2 * H, deadlineReached: false });
  });

  it('retires a key last used before the usage window', () => {
    const now = 2 * H - 5 * 60_000;
    expect(decideRetirement({ ...base, nowMs: now, lastUsedAtMs: now - H - 1 }).decision).toBe('retire');
    expect(decideRetirement({ ...base, nowMs: now, lastUsedAtMs: now - H }).decision).toBe('remind');
  });

  it('extends a still-used key by the reminder interval and checks again before the new not-after', () => {
    const now = 2 * H - 5 * 60_000;
    expect(decideRetirement({ ...base, nowMs: now, lastUsedAtMs: now - 1000 })).toEqual({
      decision: 'remind',
      notAfterMs: 8 * H,
      checkAtMs: 8 * H - 5 * 60_000,
      lastUsedAtMs: now - 1000,
    });
  });

  it('never extends past the hard deadline, and retires there even if still used', () => {
    const now = 20 * H - 5 * 60_000;
    expect(decideRetirement({ ...base, nowMs: now, notAfterMs: 20 * H, lastUsedAtMs: now })).toMatchObject({ decision: 'remind', notAfterMs: 24 * H });
    const atDeadline = 24 * H - 5 * 60_000;
    expect(decideRetirement({ ...base, nowMs: atDeadline, notAfterMs: 24 * H, lastUsedAtMs: atDeadline })).toEqual({ decision: 'retire', notAfterMs: 24 * H, deadlineReached: true });
  });

  it('properties: the not-after never moves earlier or past the deadline; a remind always extends; checks are never in the past', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 48 * H }),
        fc.integer({ min: 60_000, max: 30 * H }),
        fc.option(fc.integer({ min: 0, max: 48 * H }), { nil: undefined }),
        fc.integer({ min: 10 * 60_000, max: 12 * H }),
        (nowMs, notAfterMs, lastUsedAtMs, reminderIntervalMs) => {
          const check = { ...base, nowMs, notAfterMs, lastUsedAtMs: lastUsedAtMs === undefined ? undefined : Math.min(lastUsedAtMs, nowMs), reminderIntervalMs, hardDeadlineMs: Math.max(notAfterMs, 24 * H) };
          const d = decideRetirement(check);
          expect(d.notAfterMs).toBeGreaterThanOrEqual(notAfterMs);
          expect(d.notAfterMs).toBeLessThanOrEqual(check.hardDeadlineMs);
          if (d.decision === 'remind') expect(d.notAfterMs).toBeGreaterThan(Math.min(notAfterMs, check.hardDeadlineMs) - 1);
          if (d.decision !== 'retire') expect(d.checkAtMs).toBeGreaterThanOrEqual(nowMs);
          if (d.decision === 'retire') expect(d.notAfterMs).toBe(notAfterMs);
        },
      ),
    );
  });
});

describe('checkLeadMs', () => {
  it('is the configured lead, at most half the overlap', () => {
    expect(checkLeadMs(300_000, 2 * H)).toBe(300_000);
    expect(checkLeadMs(300_000, 120_000)).toBe(60_000);
    expect(checkLeadMs(300_000, 0)).toBe(0);
  });
});
