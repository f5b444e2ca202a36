/**
 * Where docs/design.md ("Where the truth lives") lets AWSPENDING and AWSPREVIOUS rest once no
 * rotation is in flight, as the invariant checks hold the labels to (AWSCURRENT on the table's
 * current version is checked by each caller). Written from the design, not from
 * lambdas/aws/label-projection.ts, so that the checks do not trust the code they check.
 *
 * - AWSPENDING: on no version, or on the current one, where a finished rotation leaves it
 *   (API_RotateSecret: "When rotation is successful, the AWSPENDING staging label might be
 *   attached to the same version as the AWSCURRENT version, or it might not be attached to any
 *   version", https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
 * - AWSPREVIOUS: on the table's previous version when it has one (the overlap); otherwise on no
 *   version, or on the version AWSCURRENT left: never the current version, and never a version
 *   whose key the table holds ACTIVE (after an emergency that key is REVOKED).
 */
import { KeyState } from '../../lambdas/core/key-state';
import type { KeyRecord } from '../../lambdas/core/model';
import { Stage } from '../../lambdas/aws/secret-store';

/** What is wrong with each label, if anything. */
export interface RestingLabelViolations {
  readonly pending?: string;
  readonly previous?: string;
}

/**
 * @param stages version id → labels (DescribeSecret).
 * @param client the table's pointers.
 * @param keys the client's key records (their versions and states).
 * @param options.previousMayBeMissing when the table has a previous version, AWSPREVIOUS may also be on no version.
 */
export function restingLabelViolations(
  stages: Readonly<Record<string, readonly string[]>>,
  client: { readonly currentVersionId: string; readonly previousVersionId?: string },
  keys: readonly Pick<KeyRecord, 'secretVersionId' | 'state' | 'keyId'>[],
  options: { readonly previousMayBeMissing?: boolean } = {},
): RestingLabelViolations {
  const withLabel = (label: string) =>
    Object.entries(stages)
      .filter(([, l]) => l.includes(label))
      .map(([id]) => id);
  const out: { pending?: string; previous?: string } = {};
  const pending = withLabel(Stage.PENDING).filter((id) => id !== client.currentVersionId);
  if (pending.length > 0) out.pending = `AWSPENDING on ${pending.join(', ')}, which is not the current version ${client.currentVersionId}`;
  const previous = withLabel(Stage.PREVIOUS);
  if (client.previousVersionId) {
    const missingAllowed = options.previousMayBeMissing && previous.length === 0;
    if (!missingAllowed && (previous.length !== 1 || previous[0] !== client.previousVersionId)) {
      out.previous = `AWSPREVIOUS on [${previous.join(', ')}], the table's previous version is ${client.previousVersionId}`;
    }
  } else {
    const wrong = previous.filter((id) => id === client.currentVersionId || keys.some((k) => k.secretVersionId === id && k.state === KeyState.ACTIVE));
    if (wrong.length > 0) out.previous = `AWSPREVIOUS on ${wrong.join(', ')}, the current version or one whose key is ACTIVE (the table has no previous version)`;
  }
  return out;
}
