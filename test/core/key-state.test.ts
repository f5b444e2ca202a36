import fc from 'fast-check';
import { IllegalKeyTransitionError, KeyRollError } from '../../lambdas/core/errors';
import { ALL_KEY_STATES, assertTransition, canTransition, KEY_TRANSITIONS, KeyState, statesLeadingTo } from '../../lambdas/core/key-state';
import { RUNS, thrownBy } from './helpers';

const STATES = ['PENDING', 'ACTIVE', 'RETIRING', 'REVOKED'] as const;
const stateArb = fc.constantFrom<KeyState>(...STATES);

/**
 * The documented lifecycle, written out independently of KEY_TRANSITIONS:
 * setSecret activates a pending key; rollback revokes it; finishSecret retires (or, in
 * emergency mode, revokes) the old active key; a retiring key is revoked after the overlap
 * or made current again by a rollback. REVOKED is terminal.
 */
const DOCUMENTED: ReadonlySet<string> = new Set(['PENDING->ACTIVE', 'PENDING->REVOKED', 'ACTIVE->RETIRING', 'ACTIVE->REVOKED', 'RETIRING->REVOKED', 'RETIRING->ACTIVE']);

describe('KeyState', () => {
  it('has exactly the four documented states, in lifecycle order', () => {
    expect(ALL_KEY_STATES).toEqual(['PENDING', 'ACTIVE', 'RETIRING', 'REVOKED']);
    expect(Object.keys(KEY_TRANSITIONS).sort()).toEqual([...STATES].sort());
    for (const state of STATES) expect(KeyState[state]).toBe(state);
  });

  it('KEY_TRANSITIONS only names known states and has no duplicates or self-loops', () => {
    for (const from of STATES) {
      const targets = KEY_TRANSITIONS[from];
      expect(new Set(targets).size).toBe(targets.length);
      for (const to of targets) {
        expect(STATES).toContain(to);
        expect(to).not.toBe(from);
      }
    }
  });
});

describe('canTransition / assertTransition', () => {
  it('canTransition agrees with KEY_TRANSITIONS and with the documented lifecycle for every pair (property)', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (from, to) => {
        expect(canTransition(from, to)).toBe(KEY_TRANSITIONS[from].includes(to));
        expect(canTransition(from, to)).toBe(DOCUMENTED.has(`${from}->${to}`));
      }),
      { numRuns: 200 },
    );
  });

  it('covers all 16 pairs exhaustively: 6 allowed, 10 refused', () => {
    let allowed = 0;
    for (const from of STATES) for (const to of STATES) if (canTransition(from, to)) allowed++;
    expect(allowed).toBe(DOCUMENTED.size);
    expect(allowed).toBe(6);
  });

  it('assertTransition throws IllegalKeyTransitionError exactly on disallowed pairs (property)', () => {
    fc.assert(
      fc.property(stateArb, stateArb, fc.string({ minLength: 1, maxLength: 40 }), (from, to, keyId) => {
        if (DOCUMENTED.has(`${from}->${to}`)) {
          expect(() => assertTransition(keyId, from, to)).not.toThrow();
        } else {
          const error = thrownBy(() => assertTransition(keyId, from, to));
          expect(error).toBeInstanceOf(IllegalKeyTransitionError);
          expect(error).toBeInstanceOf(KeyRollError);
          const e = error as IllegalKeyTransitionError;
          expect(e.name).toBe('IllegalKeyTransition');
          expect(e.keyId).toBe(keyId);
          expect(e.from).toBe(from);
          expect(e.to).toBe(to);
          expect(e.message).toContain(from);
          expect(e.message).toContain(to);
        }
      }),
      RUNS,
    );
  });

  it('refuses staying in the same state (writes must actually change the state)', () => {
    for (const state of STATES) expect(() => assertTransition('kr_kid_0', state, state)).toThrow(IllegalKeyTransitionError);
  });

  it('REVOKED is terminal: nothing leaves it', () => {
    expect(KEY_TRANSITIONS.REVOKED).toEqual([]);
    for (const to of STATES) {
      expect(canTransition('REVOKED', to)).toBe(false);
      expect(() => assertTransition('kr_kid_0', 'REVOKED', to)).toThrow(IllegalKeyTransitionError);
    }
  });

  it('nothing goes back to PENDING', () => {
    for (const from of STATES) expect(canTransition(from, 'PENDING')).toBe(false);
  });

  it('every state can reach REVOKED (every key can be killed)', () => {
    for (const from of STATES.filter((s) => s !== 'REVOKED')) expect(canTransition(from, 'REVOKED')).toBe(true);
  });

  it('every state is reachable from PENDING', () => {
    const reached = new Set<KeyState>(['PENDING']);
    const queue: KeyState[] = ['PENDING'];
    while (queue.length > 0) {
      const state = queue.shift()!;
      for (const to of STATES) {
        if (canTransition(state, to) && !reached.has(to)) {
          reached.add(to);
          queue.push(to);
        }
      }
    }
    expect([...reached].sort()).toEqual([...STATES].sort());
  });
});

describe('statesLeadingTo', () => {
  it('returns exactly the states with an allowed transition into `to`, in lifecycle order (property)', () => {
    fc.assert(
      fc.property(stateArb, (to) => {
        const leading = statesLeadingTo(to);
        expect(leading).toEqual(STATES.filter((from) => DOCUMENTED.has(`${from}->${to}`)));
        for (const from of STATES) expect(leading.includes(from)).toBe(canTransition(from, to));
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['PENDING', []],
    ['ACTIVE', ['PENDING', 'RETIRING']],
    ['RETIRING', ['ACTIVE']],
    ['REVOKED', ['PENDING', 'ACTIVE', 'RETIRING']],
  ] as const)('statesLeadingTo(%s) = %j', (to, expected) => {
    expect(statesLeadingTo(to)).toEqual(expected);
  });

  it('returns a fresh array (callers cannot corrupt the table)', () => {
    const leading = statesLeadingTo('REVOKED');
    leading.push('REVOKED');
    expect(statesLeadingTo('REVOKED')).toEqual(['PENDING', 'ACTIVE', 'RETIRING']);
  });
});

describe('random walks', () => {
  it('following only allowed transitions never leaves the four states, and once REVOKED stays REVOKED (property)', () => {
    fc.assert(
      fc.property(fc.array(stateArb, { maxLength: 60 }), (proposals) => {
        let state: KeyState = 'PENDING';
        let revoked = false;
        for (const proposed of proposals) {
          if (canTransition(state, proposed)) {
            expect(() => assertTransition('kid', state, proposed)).not.toThrow();
            state = proposed;
          } else {
            expect(() => assertTransition('kid', state, proposed)).toThrow(IllegalKeyTransitionError);
          }
          expect(STATES).toContain(state);
          if (revoked) expect(state).toBe('REVOKED');
          if (state === 'REVOKED') revoked = true;
        }
      }),
      RUNS,
    );
  });

  it('walks that pick a successor at each step end in REVOKED once they reach a dead end (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), (choices) => {
        let state: KeyState = 'PENDING';
        const visited: KeyState[] = [state];
        for (const choice of choices) {
          const next: readonly KeyState[] = KEY_TRANSITIONS[state];
          if (next.length === 0) break;
          const to: KeyState = next[choice % next.length];
          assertTransition('kid', state, to);
          state = to;
          visited.push(state);
        }
        // The only dead end is REVOKED, and REVOKED appears at most once, at the end.
        if (KEY_TRANSITIONS[state].length === 0) expect(state).toBe('REVOKED');
        expect(visited.indexOf('REVOKED')).toBe(visited.includes('REVOKED') ? visited.length - 1 : -1);
        // PENDING only ever appears first.
        expect(visited.lastIndexOf('PENDING')).toBe(0);
      }),
      RUNS,
    );
  });
});
