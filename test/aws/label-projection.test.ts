/** The label projection (lambdas/aws/label-projection.ts): the next change, its order, and the end condition. */
import fc from 'fast-check';
import { labelDisagreements, nextLabelChange, Stage, type LabelTarget } from '../../lambdas/aws/label-projection';
import type { VersionStages } from '../../lambdas/aws/secret-store';

/** Applies a change as Secrets Manager does (moving AWSCURRENT puts AWSPREVIOUS on the version it left). */
function apply(stages: Record<string, string[]>, change: NonNullable<ReturnType<typeof nextLabelChange>>): void {
  if (change.from) stages[change.from] = stages[change.from].filter((l) => l !== change.stage);
  if (change.to) (stages[change.to] ??= []).push(change.stage);
  if (change.stage === Stage.CURRENT && change.from && change.to) {
    for (const v of Object.keys(stages)) stages[v] = stages[v].filter((l) => l !== Stage.PREVIOUS);
    stages[change.from].push(Stage.PREVIOUS);
  }
}

describe('nextLabelChange', () => {
  it('moves AWSCURRENT first, naming the holder, then AWSPENDING, then AWSPREVIOUS', () => {
    const stages: VersionStages = { v1: [Stage.PREVIOUS], v2: [Stage.CURRENT], v3: [Stage.PENDING] };
    expect(nextLabelChange(stages, { current: 'v1' })).toEqual({ stage: Stage.CURRENT, to: 'v1', from: 'v2' });
    expect(nextLabelChange({ v1: [Stage.CURRENT], v3: [Stage.PENDING] }, { current: 'v1' })).toEqual({ stage: Stage.PENDING, from: 'v3' });
    expect(nextLabelChange({ v1: [Stage.CURRENT] }, { current: 'v1', previous: 'v0' })).toEqual({ stage: Stage.PREVIOUS, to: 'v0' });
    expect(nextLabelChange({ v1: [Stage.CURRENT], v0: [Stage.PREVIOUS] }, { current: 'v1', previous: 'v0' })).toBeUndefined();
  });

  it('from any labelling of up to four versions, at most five changes reach the target', () => {
    const versions = ['v0', 'v1', 'v2', 'v3'];
    const holder = fc.option(fc.constantFrom(...versions), { nil: undefined });
    fc.assert(
      fc.property(fc.constantFrom(...versions), holder, holder, fc.constantFrom(...versions), holder, holder, (cur, prev, pend, tCur, tPrev, tPend) => {
        const stages: Record<string, string[]> = Object.fromEntries(versions.map((v) => [v, []]));
        stages[cur].push(Stage.CURRENT);
        if (prev && prev !== cur) stages[prev].push(Stage.PREVIOUS);
        if (pend) stages[pend].push(Stage.PENDING);
        const target: LabelTarget = { current: tCur, ...(tPrev && tPrev !== tCur ? { previous: tPrev } : {}), ...(tPend ? { pending: tPend } : {}) };
        let changes = 0;
        for (let next = nextLabelChange(stages, target); next; next = nextLabelChange(stages, target)) {
          apply(stages, next);
          expect(++changes).toBeLessThanOrEqual(5);
        }
        expect(labelDisagreements(stages, target)).toEqual([]);
      }),
    );
  });
});

describe('labelDisagreements', () => {
  it('names each label that is not where the table says', () => {
    expect(labelDisagreements({ v2: [Stage.CURRENT], v1: [Stage.PREVIOUS] }, { current: 'v1' })).toEqual(['AWSCURRENT is on v2; the table says v1', 'AWSPREVIOUS is on v1; the table says no version']);
  });
});

/**
 * Where AWSPENDING and AWSPREVIOUS may rest when the table names no version for them (see
 * LabelTarget): each removal would be a write against Secrets Manager's 50 writes/s
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html) that no
 * invariant needs.
 */
describe('labels at rest', () => {
  it('AWSPENDING may stay on the current version (a finished rotation, API_RotateSecret), nowhere else', () => {
    expect(nextLabelChange({ r: [Stage.CURRENT, Stage.PENDING], v0: [Stage.PREVIOUS] }, { current: 'r', previous: 'v0' })).toBeUndefined();
    expect(labelDisagreements({ r: [Stage.CURRENT, Stage.PENDING] }, { current: 'r' })).toEqual([]);
    expect(nextLabelChange({ v0: [Stage.CURRENT], r: [Stage.PENDING] }, { current: 'v0' })).toEqual({ stage: Stage.PENDING, from: 'r' });
    expect(labelDisagreements({ v0: [Stage.CURRENT], r: [Stage.PENDING] }, { current: 'v0' })).toEqual(['AWSPENDING is on r; the table says no version']);
  });

  it('AWSPREVIOUS may stay where AWSCURRENT left it when the table has no previous version, never on the current one', () => {
    expect(nextLabelChange({ r: [Stage.CURRENT], v0: [Stage.PREVIOUS] }, { current: 'r' })).toBeUndefined();
    expect(labelDisagreements({ r: [Stage.CURRENT], v0: [Stage.PREVIOUS] }, { current: 'r' })).toEqual([]);
    expect(nextLabelChange({ r: [Stage.CURRENT, Stage.PREVIOUS] }, { current: 'r' })).toEqual({ stage: Stage.PREVIOUS, from: 'r' });
    // A named previous version is still enforced.
    expect(nextLabelChange({ r: [Stage.CURRENT], v1: [Stage.PREVIOUS] }, { current: 'r', previous: 'v0' })).toEqual({ stage: Stage.PREVIOUS, to: 'v0', from: 'v1' });
  });

  it('finishing takes one change, the AWSCURRENT move, in both modes, and the table afterwards asks for none', () => {
    for (const previousBefore of [undefined, 'vp']) {
      // After createSecret's PutSecretValue: AWSPENDING on r (taken from v0, where the last rotation left it).
      const stages: Record<string, string[]> = { v0: [Stage.CURRENT], r: [Stage.PENDING], vp: previousBefore ? [Stage.PREVIOUS] : [] };
      for (const target of [
        { current: 'r', pending: 'r' },
        { current: 'r', pending: 'r', previous: 'v0' },
      ] as LabelTarget[]) {
        const s = structuredClone(stages);
        const first = nextLabelChange(s, target);
        expect(first).toEqual({ stage: Stage.CURRENT, to: 'r', from: 'v0' });
        apply(s, first!);
        expect(nextLabelChange(s, target)).toBeUndefined();
        // After the commit: an emergency's table has no previous, a scheduled one's has v0; no pending.
        expect(nextLabelChange(s, target.previous ? { current: 'r', previous: 'v0' } : { current: 'r' })).toBeUndefined();
      }
    }
  });
});
