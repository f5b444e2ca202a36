/** The fleet rotation's pure part: the request schema, the tally of outcomes and the ops notice. */
import {
  fleetNotice,
  fleetRequestInput,
  itemRotationId,
  MAX_ERROR_KINDS,
  MAX_PAGE_SIZE,
  MAX_REPORTED_FAILURES,
  NO_TOTALS,
  OTHER_ERRORS,
  parseFleetExecutionInput,
  parseFleetRequest,
  selectionDigest,
  startTimes,
  tallyFleetPage,
  WORST_ITEM_RESULT_BYTES,
  writesPerRotation,
  type FleetItemResult,
} from '../../lambdas/core/fleet';
import { ROTATION_ID_PATTERN } from '../../lambdas/core/rotation-request';
import { generateApiKey } from '../../lambdas/core/api-key';

const base = { mode: 'emergency', reason: 'INC-1', requestedBy: 'oncall' };

describe('parseFleetRequest', () => {
  it('takes exactly one selector and normalizes revokeImmediately', () => {
    expect(parseFleetRequest({ ...base, all: true })).toEqual({ mode: 'emergency', reason: 'INC-1', requestedBy: 'oncall', revokeImmediately: false, selector: { all: true } });
    expect(parseFleetRequest({ ...base, tag: 'tier-1', revokeImmediately: true }).selector).toEqual({ tag: 'tier-1' });
    expect(parseFleetRequest({ ...base, clientIds: ['a', 'b'] }).selector).toEqual({ clientIds: ['a', 'b'] });
  });

  it('round-trips through the form the fleet state carries', () => {
    const request = parseFleetRequest({ ...base, tag: 'eu' });
    expect(parseFleetExecutionInput(fleetRequestInput(request))).toEqual(request);
  });

  it.each([
    { name: 'no selector', input: base, issue: 'exactly one of all, tag, clientIds' },
    { name: 'two selectors', input: { ...base, all: true, tag: 'x' }, issue: 'exactly one of all, tag, clientIds' },
    { name: 'revokeImmediately outside an emergency', input: { ...base, mode: 'manual', all: true, revokeImmediately: true }, issue: 'revokeImmediately' },
    { name: 'a repeated client', input: { ...base, clientIds: ['a', 'a'] }, issue: 'must not repeat' },
    { name: 'an empty list', input: { ...base, clientIds: [] }, issue: 'clientIds' },
    { name: 'all: false', input: { ...base, all: false }, issue: 'all' },
    { name: 'a tag with a slash', input: { ...base, tag: 'a/b' }, issue: 'tag' },
    { name: 'an unknown field', input: { ...base, all: true, overlapSeconds: 60 }, issue: 'is not allowed' },
    { name: 'not an object', input: 'all', issue: '(input)' },
  ])('refuses $name with InvalidOperationInput', ({ input, issue }) => {
    expect(() => parseFleetRequest(input)).toThrow(expect.objectContaining({ name: 'InvalidOperationInput', message: expect.stringContaining(issue) }));
  });

  it('refuses a pasted API key as a tag or a client id, without echoing it', () => {
    const key = generateApiKey('kr');
    for (const input of [
      { ...base, tag: key },
      { ...base, clientIds: [key] },
    ]) {
      let error: Error | undefined;
      try {
        parseFleetRequest(input);
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.name).toBe('InvalidOperationInput');
      expect(error?.message).not.toContain(key);
    }
  });
});

describe('startTimes', () => {
  it('spaces starts so they come at the write quota divided by the writes of one rotation', () => {
    const start = Date.parse('2026-12-01T00:00:00Z');
    // 2 quota-bound writes per rotation in every mode (test/workflow/quota-writes.test.ts counts
    // them), 48 writes/s → 24 starts/s → one every 41.7 ms (emergencies made 4 writes: 12/s).
    expect(startTimes(['a', 'b', 'c', 'd'], 'emergency', 48, start).map((t) => Date.parse(t.startAt) - start)).toEqual([0, 42, 83, 125]);
    expect(startTimes(['a', 'b'], 'scheduled', 48, start)).toEqual([
      { clientId: 'a', startAt: '2026-12-01T00:00:00.000Z' },
      { clientId: 'b', startAt: '2026-12-01T00:00:00.042Z' },
    ]);
    expect(writesPerRotation('manual')).toBe(2);
    expect(writesPerRotation('emergency')).toBe(2);
  });
});

describe('tallyFleetPage', () => {
  it('adds pages, counts failures by error and names the first failed clients only', () => {
    const failures: FleetItemResult[] = Array.from({ length: MAX_REPORTED_FAILURES + 5 }, (_, i) => ({ ok: false, clientId: `c${i}`, error: i % 2 ? 'RotationInProgress' : 'UnknownClient' }));
    const once = tallyFleetPage(NO_TOTALS, [{ ok: true }, { ok: true }, ...failures.slice(0, 10)]);
    const twice = tallyFleetPage(once, [{ ok: true }, ...failures.slice(10)]);
    expect(twice).toMatchObject({ rotated: 3, failed: failures.length, pages: 2, failuresByError: { UnknownClient: 28, RotationInProgress: 27 } });
    expect(twice.failedClients).toHaveLength(MAX_REPORTED_FAILURES);
    expect(twice.failedClients[0]).toEqual({ clientId: 'c0', error: 'UnknownClient' });
  });

  it('does not let an odd error text into the summary', () => {
    const totals = tallyFleetPage(NO_TOTALS, [{ ok: false, clientId: 'a', error: 'x\n[ERROR] forged' }]);
    expect(totals.failuresByError).toEqual({ UnnamedError: 1 });
  });
});

describe('fleetNotice', () => {
  it('says how many were rotated and, when some were not, why', () => {
    const request = parseFleetRequest({ ...base, all: true });
    expect(fleetNotice('f1', request, tallyFleetPage(NO_TOTALS, [{ ok: true }])).summary).toBe('Fleet rotation f1: 1 clients rotated.');
    const partial = fleetNotice('f2', request, tallyFleetPage(NO_TOTALS, [{ ok: true }, { ok: false, clientId: 'b', error: 'RotationInProgress' }]));
    expect(partial).toMatchObject({ eventType: 'fleet.finished', rotated: 1, failed: 1, failedClients: [{ clientId: 'b', error: 'RotationInProgress' }] });
    expect(partial.summary).toContain('1 NOT rotated (RotationInProgress 1)');
  });
});

describe('the fleet execution input (what the state carries: no list)', () => {
  const listed = { count: 2, digest: selectionDigest(['a', 'b']) };

  it('names an explicit list by count and digest; refuses an inline list', () => {
    expect(parseFleetExecutionInput({ ...base, listed }).selector).toEqual({ listed });
    expect(fleetRequestInput(parseFleetExecutionInput({ ...base, listed }))).toMatchObject({ listed });
    expect(() => parseFleetExecutionInput({ ...base, clientIds: ['a'] })).toThrow(expect.objectContaining({ name: 'InvalidOperationInput', message: expect.stringContaining('never inline') }));
    expect(() => parseFleetRequest({ ...base, listed })).toThrow(expect.objectContaining({ name: 'InvalidOperationInput' }));
    expect(() => fleetRequestInput(parseFleetRequest({ ...base, clientIds: ['a'] }))).toThrow();
  });

  it.each([
    { count: 0, digest: listed.digest },
    { count: 10_001, digest: listed.digest },
    { count: 1, digest: 'nothex' },
    { count: 1.5, digest: listed.digest },
  ])('refuses listed %p', (bad) => {
    expect(() => parseFleetExecutionInput({ ...base, listed: bad })).toThrow(expect.objectContaining({ name: 'InvalidOperationInput' }));
  });

  it('gives each item a rotation id that is a valid execution name and ClientRequestToken, per fleet and client', () => {
    const id = itemRotationId('fleet-1', 'x'.repeat(64));
    expect(id).toMatch(ROTATION_ID_PATTERN);
    expect(id).toHaveLength(64);
    expect(itemRotationId('fleet-1', 'x'.repeat(64))).toBe(id);
    expect(itemRotationId('fleet-2', 'x'.repeat(64))).not.toBe(id);
  });

  it('sizes a page so its results fit 256 KiB with margin', () => {
    expect(WORST_ITEM_RESULT_BYTES).toBe(358);
    expect(MAX_PAGE_SIZE * WORST_ITEM_RESULT_BYTES).toBeLessThan(262_144 * 0.75);
  });
});

describe('bounded totals and notice', () => {
  it('keeps at most MAX_ERROR_KINDS error names and MAX_REPORTED_FAILURES clients; the counts stay exact', () => {
    const results: FleetItemResult[] = Array.from({ length: 300 }, (_, i) => ({ ok: false, clientId: `c-${i}`, error: `Error${i}` }));
    const totals = tallyFleetPage(tallyFleetPage(NO_TOTALS, results), results);
    expect(totals.failed).toBe(600);
    expect(Object.keys(totals.failuresByError)).toHaveLength(MAX_ERROR_KINDS + 1);
    expect(totals.failuresByError[OTHER_ERRORS]).toBe(600 - 2 * MAX_ERROR_KINDS);
    expect(totals.failedClients).toHaveLength(MAX_REPORTED_FAILURES);
    const notice = fleetNotice('fleet-1', parseFleetRequest({ ...base, all: true }), totals);
    expect(notice.moreFailedClients).toBe(600 - MAX_REPORTED_FAILURES);
    expect(notice.summary).toContain(`and ${600 - MAX_REPORTED_FAILURES} more`);
  });
});
