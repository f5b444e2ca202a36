/**
 * The acceptance rule of the auth layer, shared by testSecret and the verifier so that
 * the rotation proves a key with exactly the code that will judge it in production.
 */
import type { Clock } from './clock';
import { parseApiKey, hashApiKey } from './api-key';
import { MalformedKeyError } from './errors';
import { KeyState } from './key-state';
import type { Deadline } from './deadline';
import type { KeyRecord } from './model';

/** Why a key was rejected. */
export const RejectionReason = {
  MALFORMED: 'malformed',
  UNKNOWN: 'unknown',
  PENDING: 'pending',
  REVOKED: 'revoked',
  EXPIRED: 'expired',
  INSUFFICIENT_SCOPE: 'insufficient_scope',
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

/** Looks a key record up by the key's hash, giving up by `deadline` when one is given. */
export type KeyLookup = (keyHash: string, deadline?: Deadline) => Promise<KeyRecord | undefined>;

/** The outcome of a verification: who the caller is, or why not. Never carries the key. */
export type Verification = { readonly accepted: true; readonly record: KeyRecord } | { readonly accepted: false; readonly reason: RejectionReason; readonly keyId?: string };

/** Which key of its client an accepted key is: the one to use, or the one being retired. */
export const KeyRole = { CURRENT: 'current', PREVIOUS: 'previous' } as const;
export type KeyRole = (typeof KeyRole)[keyof typeof KeyRole];

/** Who an accepted key belongs to. Carries ids and scopes, never the key. */
export interface Principal {
  readonly clientId: string;
  readonly keyId: string;
  readonly scopes: readonly string[];
  readonly keyRole: KeyRole;
}

/** The principal of an accepted record: ACTIVE keys are current, RETIRING keys previous. */
export function principalOf(record: KeyRecord): Principal {
  return {
    clientId: record.clientId,
    keyId: record.keyId,
    scopes: [...(record.scopes ?? [])],
    keyRole: record.state === KeyState.RETIRING ? KeyRole.PREVIOUS : KeyRole.CURRENT,
  };
}

/**
 * Whether granted scopes cover every required one. A granted scope matches itself; one
 * ending in `*` matches every scope that starts with what precedes it (`orders:*` covers
 * `orders:read`; `*` covers all).
 */
export function scopesCover(granted: readonly string[], required: readonly string[]): boolean {
  return required.every((need) => granted.some((have) => have === need || (have.endsWith('*') && need.startsWith(have.slice(0, -1)))));
}

/** Decides whether a stored key is accepted at `nowMs`: ACTIVE, or RETIRING before its not-after. */
export function judgeRecord(record: KeyRecord, nowMs: number): Verification {
  switch (record.state) {
    case KeyState.ACTIVE:
      return { accepted: true, record };
    case KeyState.RETIRING: {
      // Fail closed: a RETIRING key without a readable deadline is treated as expired, so
      // a corrupt item can never extend an old key's life.
      const notAfterMs = record.notAfter === undefined ? Number.NaN : Date.parse(record.notAfter);
      if (Number.isNaN(notAfterMs) || notAfterMs <= nowMs) {
        return { accepted: false, reason: RejectionReason.EXPIRED, keyId: record.keyId };
      }
      return { accepted: true, record };
    }
    case KeyState.PENDING:
      return { accepted: false, reason: RejectionReason.PENDING, keyId: record.keyId };
    case KeyState.REVOKED:
      return { accepted: false, reason: RejectionReason.REVOKED, keyId: record.keyId };
    default:
      // A state this code does not know (a newer writer, a corrupt item) is never accepted.
      return { accepted: false, reason: RejectionReason.REVOKED, keyId: record.keyId };
  }
}

/**
 * Verifies a presented key: offline format and checksum checks first (a malformed key
 * costs no lookup), then the lookup by hash, then the state rule.
 */
export async function verifyApiKey(presented: unknown, lookup: KeyLookup, clock: Clock, expectedPrefix?: string): Promise<Verification> {
  let key: string;
  try {
    key = parseApiKey(presented, expectedPrefix).key;
  } catch (error) {
    if (error instanceof MalformedKeyError) return { accepted: false, reason: RejectionReason.MALFORMED };
    throw error;
  }
  const record = await lookup(hashApiKey(key));
  if (!record) return { accepted: false, reason: RejectionReason.UNKNOWN };
  return judgeRecord(record, clock.nowMs());
}
