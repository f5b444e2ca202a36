/**
 * A well-formed API key pasted where an id or free text belongs used to be accepted: as a
 * client id (then echoed by UnknownClient's message and stored), as a rotation id (the
 * execution name, logged and stored everywhere), or inside a reason or actor (stored in the
 * audit trail). Invariant 5 allows a plaintext key only in Secrets Manager and with the
 * client, so each is now refused with a named error that does not echo the key.
 */
import { generateApiKey } from '../../lambdas/core/api-key';
import { containsApiKey } from '../../lambdas/core/key-material';
import { parseOffboardRequest } from '../../lambdas/core/ops-requests';
import { assertValidRotationId, parseRotationRequest } from '../../lambdas/core/rotation-request';
import { checkClientId, checkRotationId, checkText } from '../../operator/cli/arguments';

const KEY = generateApiKey('krt');
const OTHER_PREFIX = generateApiKey('acme2026');
const LOOK_ALIKE = `${KEY.slice(0, -1)}${KEY.endsWith('A') ? 'B' : 'A'}`; // checksum no longer matches

/** What `fn` threw: its name and message (fails if it returned). */
function thrown(fn: () => unknown): { name: string; message: string; issues?: string[] } {
  try {
    fn();
  } catch (error) {
    return error as { name: string; message: string; issues?: string[] };
  }
  throw new Error('expected a refusal');
}

describe('containsApiKey', () => {
  it.each([
    ['a key alone', KEY],
    ['another prefix', OTHER_PREFIX],
    ['inside prose', `leaked ${KEY} in a gist`],
    ['glued to a word', `my${KEY}`],
    ['in quotes', `"${KEY}"`],
  ])('finds %s', (_name, text) => expect(containsApiKey(text)).toBe(true));

  it.each([
    ['a look-alike with a wrong checksum', LOOK_ALIKE],
    ['a rotation id', 'manual-2f1b0c1e-5d0c-4c4e-9a7e-0d6f3d0b9c11'],
    ['a scheduled rotation id', 'sched-20261206T010000Z-0123456789abcdef0123456789abcdef'],
    ['a key id', 'krt_kid_0123456789abcdef'],
    ['a truncated key', KEY.slice(0, -2)],
    ['empty text', ''],
  ])('does not flag %s', (_name, text) => expect(containsApiKey(text)).toBe(false));
});

describe.each([
  { title: 'a key', key: KEY },
  { title: 'a key of another prefix', key: OTHER_PREFIX },
])('$title pasted', ({ key }) => {
  const request = { clientId: 'acme', mode: 'manual', reason: 'why', requestedBy: 'alice' };

  it('as the client id of a rotation → InvalidRotationInput, not echoed', () => {
    const error = thrown(() => parseRotationRequest({ ...request, clientId: key }));
    expect(error).toMatchObject({ name: 'InvalidRotationInput', issues: ['clientId: must not be an API key'] });
    expect(error.message).not.toContain(key);
  });

  it('inside the reason or requestedBy → InvalidRotationInput, not echoed', () => {
    expect(thrown(() => parseRotationRequest({ ...request, reason: `leaked ${key}` }))).toMatchObject({ name: 'InvalidRotationInput', issues: ['reason: must not contain an API key'] });
    expect(thrown(() => parseRotationRequest({ ...request, requestedBy: key }))).toMatchObject({ name: 'InvalidRotationInput', issues: ['requestedBy: must not contain an API key'] });
  });

  it('as the rotation id → InvalidRotationId, neither in the message nor on the error', () => {
    const error = thrown(() => assertValidRotationId(key)) as { name: string; message: string; rotationId?: string };
    expect(error.name).toBe('InvalidRotationId');
    expect(error.message).toMatch(/must not be an API key/);
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(key);
  });

  it('in an operator request (client id, reason, actor) → InvalidOperationInput', () => {
    for (const raw of [
      { clientId: key, requestedBy: 'alice', reason: 'why' },
      { clientId: 'acme', requestedBy: 'alice', reason: `see ${key}` },
      { clientId: 'acme', requestedBy: key, reason: 'why' },
    ]) {
      const error = thrown(() => parseOffboardRequest(raw));
      expect(error.name).toBe('InvalidOperationInput');
      expect(error.message).not.toContain(key);
    }
  });

  it('as a CLI argument (<clientId>, --rotation-id, --reason) → UsageError, not echoed', () => {
    for (const fn of [() => checkClientId(key), () => checkRotationId(key.slice(0, 64)), () => checkText(`leaked ${key}`, '--reason', 512)]) {
      const error = thrown(fn);
      expect(error.name).toBe('UsageError');
      expect(error.message).not.toContain(key);
    }
  });
});

it('look-alikes and ordinary ids are still accepted', () => {
  expect(parseRotationRequest({ clientId: 'acme', mode: 'manual', reason: `not a key: ${LOOK_ALIKE}`, requestedBy: 'alice' }).reason).toContain(LOOK_ALIKE);
  expect(() => assertValidRotationId('manual-2f1b0c1e-5d0c-4c4e-9a7e-0d6f3d0b9c11')).not.toThrow();
  expect(checkClientId('acme-payments')).toBe('acme-payments');
});
