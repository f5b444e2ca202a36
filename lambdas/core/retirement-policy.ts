/**
 * When the previous key of a finished rotation is retired: not before its not-after, and
 * not while its client still uses it, unless the hard deadline has come. Pure: the state
 * machine's check step feeds it the key's timestamps and the clock.
 *
 * The check runs `leadMs` before the not-after, so that extending the deadline happens
 * while the key is still valid: a client that is still calling never sees a rejection.
 */

/** The inputs of one check, all in epoch milliseconds. */
export interface RetirementCheck {
  readonly nowMs: number;
  /** The previous key's current not-after. */
  readonly notAfterMs: number;
  /** When the previous key was last seen (the auth layer's lastUsedAt), if ever. */
  readonly lastUsedAtMs?: number;
  /** The previous key is never extended past this (the rotation's finish + max overlap). */
  readonly hardDeadlineMs: number;
  /** "Still in use" means used within this long before the check. */
  readonly usageWindowMs: number;
  /** How far each reminder moves the not-after. */
  readonly reminderIntervalMs: number;
  /** How long before the not-after the check runs. */
  readonly leadMs: number;
}

/** What to do next. */
export type RetirementDecision =
  /** Too early to judge: check again at `checkAt`. */
  | { readonly decision: 'wait'; readonly checkAtMs: number; readonly notAfterMs: number }
  /** Still in use and before the deadline: extend to `notAfterMs`, remind the client, check again at `checkAtMs`. */
  | { readonly decision: 'remind'; readonly checkAtMs: number; readonly notAfterMs: number; readonly lastUsedAtMs: number }
  /** Unused (or out of time): retire at `notAfterMs`. */
  | { readonly decision: 'retire'; readonly notAfterMs: number; readonly deadlineReached: boolean };

/** Decides the next step for a previous key. */
export function decideRetirement(check: RetirementCheck): RetirementDecision {
  const { nowMs, notAfterMs, lastUsedAtMs, hardDeadlineMs, usageWindowMs, reminderIntervalMs, leadMs } = check;
  if (nowMs < notAfterMs - leadMs) return { decision: 'wait', checkAtMs: notAfterMs - leadMs, notAfterMs };
  const stillUsed = lastUsedAtMs !== undefined && nowMs - lastUsedAtMs <= usageWindowMs;
  if (stillUsed && notAfterMs < hardDeadlineMs) {
    const extendedMs = Math.min(Math.max(notAfterMs, nowMs) + reminderIntervalMs, hardDeadlineMs);
    return { decision: 'remind', notAfterMs: extendedMs, checkAtMs: Math.max(nowMs, extendedMs - leadMs), lastUsedAtMs };
  }
  return { decision: 'retire', notAfterMs, deadlineReached: stillUsed };
}

/** The check's lead for an overlap: the configured lead, but at most half the overlap. */
export function checkLeadMs(configuredLeadMs: number, overlapMs: number): number {
  return Math.max(0, Math.min(configuredLeadMs, Math.floor(overlapMs / 2)));
}
