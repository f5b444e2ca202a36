/**
 * checkUsage: after a finished (non-emergency) rotation, decides when the previous key is
 * retired. Early in the overlap it says when to look again; near the not-after it extends
 * the deadline (and asks for a key.expiring reminder) while the client still uses the old
 * key, up to the hard deadline; otherwise it says retire.
 *
 * Idempotent: the extension is a conditional write from the not-after it read; a retry
 * after a crash finds the later not-after and answers "wait" (the reminder of that cycle
 * may be lost, the extension is not).
 */
import { isoNow } from '../../core/clock';
import { RotationStateConflictError } from '../../core/errors';
import { KeyState } from '../../core/key-state';
import { expiringNotice, type ClientNotice } from '../../core/notifications';
import { checkLeadMs, decideRetirement } from '../../core/retirement-policy';
import { clientLockedBy, convergent, type RotationContext, type RotationDeps } from './context';

/** What the state machine does next; timestamps are ISO-8601 for its Wait states. */
export type UsageCheckResult =
  | { readonly decision: 'wait'; readonly checkAt: string; readonly notAfter: string }
  | { readonly decision: 'remind'; readonly checkAt: string; readonly notAfter: string; readonly notice: ClientNotice }
  | { readonly decision: 'retire'; readonly notAfter: string; readonly deadlineReached: boolean };

const iso = (ms: number) => new Date(ms).toISOString();

export async function checkUsage(deps: RotationDeps, context: RotationContext): Promise<UsageCheckResult> {
  const client = await clientLockedBy(deps, context);
  const last = client.lastRotation;
  if (last?.rotationId !== context.rotationId) {
    throw new RotationStateConflictError(`checkUsage: rotation ${context.rotationId} has not finished.`);
  }
  const nowMs = deps.clock.nowMs();
  // Already retired (a retried execution): nothing to wait for.
  if (!client.previousKeyHash || client.previousKeyId !== last.previousKeyId) {
    return { decision: 'retire', notAfter: isoNow(deps.clock), deadlineReached: false };
  }
  const key = await deps.keys.getKey(client.previousKeyHash);
  const notAfterMs = key?.notAfter === undefined ? Number.NaN : Date.parse(key.notAfter);
  if (key?.state !== KeyState.RETIRING || Number.isNaN(notAfterMs)) {
    // Not RETIRING (revoked by hand, or unreadable): retiring now is safe and converges.
    return { decision: 'retire', notAfter: isoNow(deps.clock), deadlineReached: false };
  }
  const finishedMs = Date.parse(last.finishedAt);
  const initialNotAfterMs = last.previousKeyNotAfter ? Date.parse(last.previousKeyNotAfter) : notAfterMs;
  const { settings } = deps;
  const decision = decideRetirement({
    nowMs,
    notAfterMs,
    lastUsedAtMs: key.lastUsedAt ? Date.parse(key.lastUsedAt) : undefined,
    // The client's policy may set an earlier hard deadline than the deployment's maximum.
    hardDeadlineMs: finishedMs + Math.min(settings.overlapBounds.maxSeconds, client.policy?.maxOverlapSeconds ?? Number.POSITIVE_INFINITY) * 1000,
    usageWindowMs: settings.usageWindowSeconds * 1000,
    reminderIntervalMs: settings.reminderIntervalSeconds * 1000,
    leadMs: checkLeadMs(settings.usageCheckLeadSeconds * 1000, initialNotAfterMs - finishedMs),
  });
  if (decision.decision === 'wait') return { decision: 'wait', checkAt: iso(decision.checkAtMs), notAfter: iso(decision.notAfterMs) };
  if (decision.decision === 'retire') return { decision: 'retire', notAfter: iso(decision.notAfterMs), deadlineReached: decision.deadlineReached };

  const fromNotAfter = key.notAfter!;
  const toNotAfter = iso(decision.notAfterMs);
  const now = iso(nowMs);
  await convergent(
    () =>
      deps.keys.applyChange({
        extensions: [{ keyHash: key.keyHash, keyId: key.keyId, fromNotAfter, toNotAfter }],
        client: { clientId: context.clientId, expect: { 'lock.rotationId': context.rotationId }, set: { updatedAt: now } },
        audit: [
          {
            clientId: context.clientId,
            at: now,
            action: 'key.extended',
            actor: 'keyroll',
            reason: `still in use (last used ${key.lastUsedAt}); not-after ${fromNotAfter} -> ${toNotAfter}`,
            rotationId: context.rotationId,
            keyId: key.keyId,
            sequence: toNotAfter,
          },
        ],
      }),
    async () => (await deps.keys.getKey(key.keyHash))?.notAfter === toNotAfter,
  );
  return {
    decision: 'remind',
    checkAt: iso(decision.checkAtMs),
    notAfter: toNotAfter,
    notice: expiringNotice({
      clientId: context.clientId,
      rotationId: context.rotationId,
      occurredAt: now,
      previousKeyId: key.keyId,
      currentKeyId: client.currentKeyId,
      previousKeyNotAfter: toNotAfter,
      lastUsedAt: key.lastUsedAt!,
      hardDeadline: iso(finishedMs + settings.overlapBounds.maxSeconds * 1000),
    }),
  };
}
