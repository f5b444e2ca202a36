/**
 * The floor-ratio estimate, apart from the timing: every ratio is taken against one floor
 * variant (the fastest by median), round by round; the per-round-maximum estimate it replaced
 * is still reported; warm cases also get a ratio to the reference (a plain cached lookup); no
 * ratio carries a goal.
 */
import { summarizeRounds } from '../../bench/lib/floor-ratio';
import { metricsOf } from '../../bench/lib/metrics';

const cases = [
  { id: 'hex', label: 'hex', kind: 'floor' as const },
  { id: 'b64', label: 'base64', kind: 'floor' as const },
  { id: 'bin', label: 'bin', kind: 'floor' as const },
  { id: 'control', label: 'bin again', kind: 'control' as const },
  { id: 'plain', label: 'plain lookup', kind: 'reference' as const },
  { id: 'warm', label: 'warm', kind: 'warm' as const },
];

describe('summarizeRounds', () => {
  // Three near-equal variants with noise: hex and base64 each beat bin in some rounds, so the
  // per-round maximum is above every variant's median, and a case equal to bin reads below 1 against it.
  const rates = new Map<string, number[]>([
    ['hex', [110, 90, 90, 110, 90, 90]],
    ['b64', [90, 110, 90, 90, 110, 90]],
    ['bin', [100, 100, 100, 100, 100, 100]],
    ['control', [100, 100, 100, 100, 100, 100]],
    ['plain', [64, 64, 64, 64, 64, 64]],
    ['warm', [80, 80, 80, 80, 80, 80]],
  ]);
  const result = summarizeRounds(cases, rates, { rounds: 6, blockOps: 10 });
  const byId = new Map(result.cases.map((c) => [c.id, c]));

  it('takes the floor variant with the highest median and every ratio against it in the same round', () => {
    expect(result.floor).toEqual({ id: 'bin', opsPerSec: 100 });
    expect(byId.get('control')!.floorRatio).toBe(1);
    expect(byId.get('warm')!.floorRatio).toBeCloseTo(0.8, 10);
    expect(byId.get('plain')!.floorRatio).toBeCloseTo(0.64, 10);
    expect(byId.get('hex')!.floorRatio).toBeUndefined();
  });

  it('gives warm cases their ratio to the reference in the same round, and no other case one', () => {
    expect(byId.get('warm')!.referenceRatio).toBeCloseTo(80 / 64, 10);
    expect(byId.get('control')!.referenceRatio).toBeUndefined();
    expect(byId.get('plain')!.referenceRatio).toBeUndefined();
  });

  it('still reports the old estimate, against each round’s fastest variant, which reads low: the control at 100/110', () => {
    expect(byId.get('control')!.floorRatioVsRoundMax).toBeCloseTo(100 / 110, 10);
    expect(byId.get('warm')!.floorRatioVsRoundMax).toBeCloseTo(80 / 110, 10);
  });

  it('pairs rounds: a case at 0.8 of the floor variant in every round reads 0.8, however much the rounds swing', () => {
    const swinging = new Map<string, number[]>([
      ['hex', [50, 200, 120]],
      ['b64', [40, 190, 100]],
      ['bin', [45, 210, 110]],
      ['control', [45, 210, 110]],
      ['plain', [40, 160, 96]],
      ['warm', [40, 160, 96]],
    ]);
    const r = summarizeRounds(cases, swinging, { rounds: 3, blockOps: 10 });
    expect(r.floor.id).toBe('hex');
    expect(r.cases.find((c) => c.id === 'warm')!.floorRatio).toBeCloseTo(0.8, 10);
    expect(r.cases.find((c) => c.id === 'warm')!.referenceRatio).toBe(1);
  });

  it('needs a floor case', () => {
    expect(() => summarizeRounds([cases[5]], new Map([['warm', [1]]]), { rounds: 1, blockOps: 1 })).toThrow(/floor/);
  });

  it('reports the estimate under `ratioVsFloor`, the old one under `ratio`, the ratio to the reference under `ratioVsReference`, none with a goal', () => {
    const m = metricsOf({ floorRatio: result });
    expect(m['floorRatio.warm.ratioVsFloor']).toEqual({ value: byId.get('warm')!.floorRatio, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.control.ratioVsFloor']).toEqual({ value: 1, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.warm.ratio']).toEqual({ value: byId.get('warm')!.floorRatioVsRoundMax, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.warm.ratioVsReference']).toEqual({ value: byId.get('warm')!.referenceRatio, unit: 'ratio', better: 'higher' });
    expect(m['floorRatio.plain.ratioVsReference']).toBeUndefined();
    expect(m['floorRatio.floor.opsPerSec'].value).toBe(100);
  });
});
