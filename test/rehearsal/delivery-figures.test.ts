/**
 * The delivery figures of the rehearsal report, on hand-made outcomes: when each consumer first
 * used its client's new key after a rotation, how it recovered after an emergency, and the
 * pickup latency percentiles.
 */
import type { RequestOutcome } from '../../local/rehearsal/callers';
import { emergencyRecoveries, percentile, pickupLatency, switchTimes, type RotationWindow } from '../../local/rehearsal/delivery-figures';

const MINUTE = 60_000;

/** One request per minute of `consumer`, with `keyIdAt(minute)` (undefined: refused). */
function requests(consumer: string, behaviour: RequestOutcome['behaviour'], clientId: string, minutes: number, keyIdAt: (minute: number) => string | undefined): RequestOutcome[] {
  return Array.from({ length: minutes }, (_, m) => {
    const keyId = keyIdAt(m);
    const base = { atMs: m * MINUTE, wallMs: 1_000_000 + m * 50, caller: consumer, clientId, behaviour };
    return keyId ? { ...base, ok: true, keyRole: 'current' as const, keyId } : { ...base, ok: false, reason: 'revoked' };
  });
}

const rotations: RotationWindow[] = [
  { clientId: 'outside-01', mode: 'scheduled', startedAtMs: 10 * MINUTE, startedAtWallMs: 1_000_000 + 10 * 50 },
  { clientId: 'outside-01', mode: 'emergency', startedAtMs: 40 * MINUTE, startedAtWallMs: 1_000_000 + 40 * 50 },
];

test('switch times: minutes from each rotation of its client to the first request with another key; null when it never switched', () => {
  const outcomes = [
    ...requests('pickup-1', 'outside-aws', 'outside-01', 60, (m) => (m < 12 ? 'k1' : m < 40 ? 'k2' : 'k3')),
    ...requests('stuck', 'never', 'outside-01', 60, (m) => (m < 40 ? 'k1' : undefined)),
    ...requests('other', 'prompt', 'tenant-01', 60, () => 't1'),
  ];
  const records = switchTimes(outcomes, rotations);
  expect(records.map((r) => [r.consumer, r.mode, r.afterMinutes])).toEqual([
    ['pickup-1', 'scheduled', 2],
    ['stuck', 'scheduled', null],
    ['pickup-1', 'emergency', 0],
    ['stuck', 'emergency', null],
  ]);
});

test('emergency recovery: notice, key held and key used, in wall-clock ms from the emergency start; refusals after it counted', () => {
  const outcomes = requests('pickup-1', 'outside-aws', 'outside-01', 60, (m) => (m < 40 ? 'k1' : m === 40 ? undefined : 'k2'));
  const start = rotations[1].startedAtWallMs;
  const observations = {
    keyChanges: [
      { consumer: 'pickup-1', wallMs: 900_000, keyId: 'k1' },
      { consumer: 'pickup-1', wallMs: start + 120, keyId: 'k2' },
    ],
    notices: [
      { consumer: 'pickup-1', wallMs: start + 30, type: 'key.rotated' },
      { consumer: 'pickup-1', wallMs: start + 80, type: 'key.emergency' },
    ],
    pickups: [],
  };
  expect(emergencyRecoveries(outcomes, rotations, observations)).toEqual([
    { clientId: 'outside-01', consumer: 'pickup-1', kind: 'outside-aws', noticeAfterMs: 80, heldAfterMs: 120, usedAfterMs: 50, usedAfterMinutes: 1, failuresAfter: 1 },
  ]);
});

test('pickup latency: nearest-rank p50 and p99, refusals counted; absent without pickups', () => {
  expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
  expect(percentile([], 99)).toBe(0);
  const pickups = Array.from({ length: 100 }, (_, i) => ({ consumer: 'c', ms: i + 1, status: i === 0 ? 401 : 200 }));
  expect(pickupLatency({ keyChanges: [], notices: [], pickups })).toEqual({ requests: 100, failures: 1, p50Ms: 50, p99Ms: 99, maxMs: 100 });
  expect(pickupLatency({ keyChanges: [], notices: [], pickups: [] })).toBeUndefined();
});
