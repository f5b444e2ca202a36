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

/**
 * Which version each label should be on (docs/design.md, "Where the truth lives").
 *
 * - `current`: AWSCURRENT is there and nowhere else.
 * - `pending`: AWSPENDING is there when set. When absent it is on no version or left on
 *   `current`, where a finished rotation leaves it: Secrets Manager reads that as a finished
 *   rotation ("When rotation is successful, the AWSPENDING staging label might be attached to
 *   the same version as the AWSCURRENT version, or it might not be attached to any version",
 *   https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html), and
 *   the next rotation's PutSecretValue takes it from there ("If you specify a staging label
 *   that's already associated with a different version of the same secret, then Secrets
 *   Manager removes the label from the other version and attaches it to this version",
 *   https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
 * - `previous`: AWSPREVIOUS is there when set (the overlap's previous version). When absent it
 *   is left where Secrets Manager put it, on the version AWSCURRENT last left (whose key the
 *   table holds as REVOKED or retiring, never current), but never on `current`.
 *
 * Removing a label the table does not need would be a quota-bound write that no invariant asks
 * for: clients read AWSCURRENT only, and the verifier reads the table.
 */
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
 * True when `holder` (the version carrying `stage`, if any) is where `target` allows it
 * without a change: the named version, or for an unnamed AWSPENDING / AWSPREVIOUS the rest
 * positions {@link LabelTarget} describes.
 */
function isInPlace(stage: Stage, holder: string | undefined, target: LabelTarget): boolean {
  const wanted = wantedFor(stage, target);
  if (holder === wanted) return true;
  if (wanted !== undefined || holder === undefined) return false;
  return stage === Stage.PENDING ? holder === target.current : stage === Stage.PREVIOUS && holder !== target.current;
}

/** The version `target` names for `stage`, if any. */
function wantedFor(stage: Stage, target: LabelTarget): string | undefined {
  return stage === Stage.CURRENT ? target.current : stage === Stage.PENDING ? target.pending : target.previous;
}

const ORDER: readonly Stage[] = [Stage.CURRENT, Stage.PENDING, Stage.PREVIOUS];

/**
 * The next change towards `target`, or undefined when the labels already match it.
 * AWSCURRENT goes first: moving it makes Secrets Manager put AWSPREVIOUS on the version it
 * left, which is then either where `target.previous` says or allowed to stay.
 */
export function nextLabelChange(stages: VersionStages, target: LabelTarget): LabelChange | undefined {
  for (const stage of ORDER) {
    const holder = versionWithStage(stages, stage);
    if (isInPlace(stage, holder, target)) continue;
    const wanted = wantedFor(stage, target);
    if (wanted === undefined) return { stage, from: holder };
    return { stage, to: wanted, ...(holder ? { from: holder } : {}) };
  }
  return undefined;
}

/** Each label that is not where `target` allows it, in words (empty when the labels match). */
export function labelDisagreements(stages: VersionStages, target: LabelTarget): string[] {
  return ORDER.filter((stage) => !isInPlace(stage, versionWithStage(stages, stage), target)).map(
    (stage) => `${stage} is on ${versionWithStage(stages, stage) ?? 'no version'}; the table says ${wantedFor(stage, target) ?? 'no version'}`,
  );
}
