/**
 * The comparison behind `npm run bench:compare`: deltas, the direction of "worse" per metric,
 * the threshold, goals, metrics only one run has, and refusal of reports it cannot compare.
 * Also that a real run's metric map (metricsOf) has the shape the comparison needs.
 */
import { asComparable, compareReports, IncomparableReportError, type ComparableReport } from '../../bench/lib/compare';
import { metricsOf, type Metric, type MetricSources } from '../../bench/lib/metrics';

const report = (metrics: Record<string, Metric>): ComparableReport => ({ schemaVersion: 2, commit: { sha: 'abc', dirty: false }, metrics });
const ops = (value: number): Metric => ({ value, unit: 'ops/s', better: 'higher' });
const ms = (value: number, goal?: number): Metric => ({ value, unit: 'ms', better: 'lower', ...(goal === undefined ? {} : { goal }) });

describe('compareReports', () => {
  it('flags a drop of a higher-is-better metric and a rise of a lower-is-better one beyond the threshold, and nothing within it', () => {
    const older = report({ warm: ops(1000), init: ms(100), floor: ops(1000), bytes: ms(100) });
    const newer = report({ warm: ops(850), init: ms(111), floor: ops(950), bytes: ms(109) });
    const result = compareReports(older, newer, 10);
    expect(result.regressions.map((c) => c.id)).toEqual(['warm', 'init']);
    const byId = Object.fromEntries(result.changes.map((c) => [c.id, c]));
    expect(byId.warm.deltaPct).toBeCloseTo(-15);
    expect(byId.init.deltaPct).toBeCloseTo(11);
    expect(byId.floor.regression).toBe(false);
    expect(byId.bytes.regression).toBe(false);
  });

  it('reads improvements the other way round: faster init and more ops/s are not regressions', () => {
    const result = compareReports(report({ warm: ops(1000), init: ms(100) }), report({ warm: ops(1500), init: ms(50) }), 10);
    expect(result.regressions).toEqual([]);
    expect(result.changes.every((c) => c.improvement)).toBe(true);
  });

  it('the threshold is strict and relative to the old value; 0 flags any change for the worse', () => {
    const older = report({ init: ms(100) });
    expect(compareReports(older, report({ init: ms(110) }), 10).regressions).toEqual([]);
    expect(compareReports(older, report({ init: ms(110.1) }), 10).regressions).toHaveLength(1);
    expect(compareReports(older, report({ init: ms(100.1) }), 0).regressions).toHaveLength(1);
    expect(compareReports(older, report({ init: ms(100) }), 0).regressions).toEqual([]);
  });

  it('reports a missed goal on the new value, whatever the change', () => {
    const result = compareReports(
      report({ init: ms(60, 50), ratio: { value: 0.9, unit: 'ratio', better: 'higher', goal: 0.8 } }),
      report({ init: ms(55, 50), ratio: { value: 0.7, unit: 'ratio', better: 'higher', goal: 0.8 } }),
      50,
    );
    expect(result.changes.map((c) => [c.id, c.missesGoal])).toEqual([
      ['init', true],
      ['ratio', true],
    ]);
    expect(compareReports(report({ init: ms(60, 50) }), report({ init: ms(50, 50) }), 10).changes[0].missesGoal).toBe(false);
  });

  it('lists metrics only one run has instead of comparing them', () => {
    const result = compareReports(report({ a: ops(1), b: ops(1) }), report({ b: ops(1), c: ops(1) }), 10);
    expect(result.changes.map((c) => c.id)).toEqual(['b']);
    expect(result.onlyOld).toEqual(['a']);
    expect(result.onlyNew).toEqual(['c']);
  });

  it('an old value of 0 gives no percentage and no verdict, rather than Infinity', () => {
    const [change] = compareReports(report({ reads: ms(0) }), report({ reads: ms(5) }), 10).changes;
    expect(change.deltaPct).toBeNaN();
    expect(change.regression).toBe(false);
  });

  it('refuses a negative or non-numeric threshold', () => {
    expect(() => compareReports(report({}), report({}), -1)).toThrow(RangeError);
    expect(() => compareReports(report({}), report({}), Number.NaN)).toThrow(RangeError);
  });
});

describe('asComparable', () => {
  it('accepts a report with a metrics map and refuses a schemaVersion 1 report, non-objects and malformed metrics', () => {
    expect(asComparable(report({ a: ops(1) }), 'new.json').metrics.a.value).toBe(1);
    expect(() => asComparable({ schemaVersion: 1, verifier: [] }, 'old.json')).toThrow(IncomparableReportError);
    expect(() => asComparable({ schemaVersion: 1, verifier: [] }, 'old.json')).toThrow(/old\.json has no metrics map \(schemaVersion 1\)/);
    expect(() => asComparable(null, 'x.json')).toThrow(IncomparableReportError);
    expect(() => asComparable({ schemaVersion: 2, metrics: { a: { value: '1', better: 'higher' } } }, 'x.json')).toThrow(/metric 'a'/);
    expect(() => asComparable({ schemaVersion: 2, metrics: { a: { value: 1, better: 'up' } } }, 'x.json')).toThrow(/metric 'a'/);
  });
});

describe('metricsOf', () => {
  const sources: MetricSources = {
    verifier: [{ id: 'verify-warm-valid', latency: { p50Ns: 900, p99Ns: 3000 }, throughput: { opsPerSec: 700_000 } }],
    floorRatio: {
      floor: { opsPerSec: 1_000_000 },
      cases: [
        { id: 'sha256-hash-hex', opsPerSec: 1_000_000 },
        { id: 'verify-cached-warm-valid', opsPerSec: 820_000, floorRatio: 0.82, floorRatioVsRoundMax: 0.79, referenceRatio: 1.1 },
      ],
    },
    bundle: { bytes: 60_000, gzipBytes: 20_000, limitBytes: 153_600 },
    sdkPath: { bytes: 60_000 },
    initTime: {
      limitMs: 50,
      bundle: { medianMs: 90, minMs: 70 },
      split: { sdkTotal: { medianMs: 75 }, bundleAfterSdk: { medianMs: 12 } },
      alternatives: [{ id: 'sdkPath', series: { medianMs: 110 } }],
    },
  };

  it('gives every figure a stable id, a direction and, where the issue sets one, its goal', () => {
    const m = metricsOf(sources);
    expect(m['verifier.verify-warm-valid.p50Ns']).toEqual({ value: 900, unit: 'ns', better: 'lower' });
    expect(m['verifier.verify-warm-valid.opsPerSec']).toEqual({ value: 700_000, unit: 'ops/s', better: 'higher' });
    expect(m['floorRatio.verify-cached-warm-valid.ratioVsFloor']).toEqual({ value: 0.82, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.verify-cached-warm-valid.ratioVsReference']).toEqual({ value: 1.1, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.verify-cached-warm-valid.ratio']).toEqual({ value: 0.79, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.floor.opsPerSec'].value).toBe(1_000_000);
    expect(m['floorRatio.sha256-hash-hex.ratioVsFloor']).toBeUndefined();
    expect(m['bundle.bytes']).toEqual({ value: 60_000, unit: 'bytes', better: 'lower', goal: 153_600 });
    expect(m['init.bundle.medianMs']).toEqual({ value: 90, unit: 'ms', better: 'lower', goal: 50 });
    expect(m['init.sdkPath.medianMs'].value).toBe(110);
    expect(m['bundle.sdkPath.bytes'].value).toBe(60_000);
    // What metricsOf builds is what the comparison accepts.
    expect(() => asComparable({ schemaVersion: 2, metrics: m }, 'run')).not.toThrow();
  });
});
