/**
 * The staging labels of a client's secret as a projection of the table (docs/design.md,
 * invariant 7): given the versions the table names (current, previous, pending), the next
 * single label change that brings Secrets Manager closer to them. Pure, so the order and the
 * end condition are tested without a service.
 *
 * Every change names the version the label is taken from (`RemoveFromVersionId`), which
 * Secrets Manager enforces as a compare-and-set: "If the label is attached and you either do
 * not specify this parameter, or the version ID does not match, then the operation fails"
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
 * A late write of a stopped step therefore cannot move a label that has moved since it read it.
 */
import type { VersionStages } from './secret-store';

/** The staging labels of the Secrets Manager rotation protocol. */
export const Stage = {
  PENDING: 'AWSPENDING',
  CURRENT: 'AWSCURRENT',
  PREVIOUS: 'AWSPREVIOUS',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** Which version each label should be on; an absent entry means "on no version". */
export interface LabelTarget {
  readonly current: string;
  readonly previous?: string;
  readonly pending?: string;
}

/** One UpdateSecretVersionStage call: move `stage` to `to` (or remove it when `to` is absent) from `from`. */
export interface LabelChange {
  readonly stage: Stage;
  readonly to?: string;
  readonly from?: string;
}

/** The version that carries `stage`, if any. */
export function versionWithStage(stages: VersionStages, stage: Stage): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels.includes(stage))?.[0];
}

/**
 * The next change towards `target`, or undefined when the labels already match it.
 * AWSCURRENT goes first: moving it makes Secrets Manager put AWSPREVIOUS on the version it
 * left, which the AWSPREVIOUS change then corrects.
 */
export function nextLabelChange(stages: VersionStages, target: LabelTarget): LabelChange | undefined {
  const order: [Stage, string | undefined][] = [
    [Stage.CURRENT, target.current],
    [Stage.PENDING, target.pending],
    [Stage.PREVIOUS, target.previous],
  ];
  for (const [stage, wanted] of order) {
    const holder = versionWithStage(stages, stage);
    if (holder === wanted) continue;
    if (wanted === undefined) return { stage, from: holder };
    return { stage, to: wanted, ...(holder ? { from: holder } : {}) };
  }
  return undefined;
}

/** Each label that is not where `target` says, in words (empty when the labels match). */
export function labelDisagreements(stages: VersionStages, target: LabelTarget): string[] {
  const wanted: [Stage, string | undefined][] = [
    [Stage.CURRENT, target.current],
    [Stage.PENDING, target.pending],
    [Stage.PREVIOUS, target.previous],
  ];
  return wanted
    .filter(([stage, version]) => versionWithStage(stages, stage) !== version)
    .map(([stage, version]) => `${stage} is on ${versionWithStage(stages, stage) ?? 'no version'}; the table says ${version ?? 'no version'}`);
}
