/**
 * Key states and the only transitions allowed between them. Every adapter that changes
 * a key's state asks {@link assertTransition} first and guards the write with a
 * condition on the `from` state, so this table is the single definition.
 */
import { IllegalKeyTransitionError } from './errors';

/** The states of an API key. */
export const KeyState = {
  /** Generated and stored as AWSPENDING; not yet accepted. */
  PENDING: 'PENDING',
  /** Accepted by the auth layer. */
  ACTIVE: 'ACTIVE',
  /** The previous key during an overlap: accepted until its not-after time. */
  RETIRING: 'RETIRING',
  /** Never accepted again. Terminal. */
  REVOKED: 'REVOKED',
} as const;
export type KeyState = (typeof KeyState)[keyof typeof KeyState];

/** Allowed transitions, each with the step that performs it. */
export const KEY_TRANSITIONS: Readonly<Record<KeyState, readonly KeyState[]>> = {
  // setSecret activates; rollback revokes a key that never became current.
  PENDING: [KeyState.ACTIVE, KeyState.REVOKED],
  // finishSecret retires the old key (or revokes it in emergency mode); rollback/kill switch revoke.
  ACTIVE: [KeyState.RETIRING, KeyState.REVOKED],
  // retire after the overlap; a rollback during the overlap makes the previous key current again.
  RETIRING: [KeyState.REVOKED, KeyState.ACTIVE],
  REVOKED: [],
};

/** All key states, in lifecycle order. */
export const ALL_KEY_STATES: readonly KeyState[] = Object.values(KeyState);

/** True when a key may move from `from` to `to`. */
export function canTransition(from: KeyState, to: KeyState): boolean {
  return KEY_TRANSITIONS[from].includes(to);
}

/** Throws {@link IllegalKeyTransitionError} unless the transition is allowed. */
export function assertTransition(keyId: string, from: KeyState, to: KeyState): void {
  if (!canTransition(from, to)) throw new IllegalKeyTransitionError(keyId, from, to);
}

/** The states from which `to` can be reached (used to build DynamoDB conditions). */
export function statesLeadingTo(to: KeyState): KeyState[] {
  return ALL_KEY_STATES.filter((from) => canTransition(from, to));
}
