import fc from 'fast-check';
import { isoNow, ManualClock, systemClock } from '../../lambdas/core/clock';
import { RUNS } from './helpers';

describe('ManualClock', () => {
  it('returns the instant it was created with until advanced', () => {
    const clock = new ManualClock(1_717_243_200_000);
    expect(clock.nowMs()).toBe(1_717_243_200_000);
    expect(clock.nowMs()).toBe(1_717_243_200_000);
  });

  it('advance moves it forward by exactly the given milliseconds (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4e12 }), fc.array(fc.integer({ min: 0, max: 1e9 }), { maxLength: 30 }), (start, steps) => {
        const clock = new ManualClock(start);
        let expected = start;
        for (const step of steps) {
          clock.advance(step);
          expected += step;
          expect(clock.nowMs()).toBe(expected);
        }
      }),
      RUNS,
    );
  });

  it('instances are independent', () => {
    const a = new ManualClock(0);
    const b = new ManualClock(0);
    a.advance(5);
    expect([a.nowMs(), b.nowMs()]).toEqual([5, 0]);
  });
});

describe('isoNow', () => {
  it('formats the clock instant as ISO-8601 UTC with milliseconds', () => {
    expect(isoNow(new ManualClock(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(isoNow(new ManualClock(Date.UTC(2024, 5, 1, 12, 0, 0, 7)))).toBe('2024-06-01T12:00:00.007Z');
  });

  it('round-trips through Date.parse (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8.64e15 }), (ms) => {
        expect(Date.parse(isoNow(new ManualClock(ms)))).toBe(ms);
      }),
      RUNS,
    );
  });

  it('follows the clock as it advances', () => {
    const clock = new ManualClock(Date.UTC(2024, 0, 1));
    clock.advance(90_000);
    expect(isoNow(clock)).toBe('2024-01-01T00:01:30.000Z');
  });
});

describe('systemClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    const now = systemClock.nowMs();
    const after = Date.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(after);
  });

  it('follows faked time (it is not a captured constant)', () => {
    jest.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
    try {
      expect(systemClock.nowMs()).toBe(Date.UTC(2030, 0, 1));
      expect(isoNow(systemClock)).toBe('2030-01-01T00:00:00.000Z');
    } finally {
      jest.useRealTimers();
    }
  });
});
