/**
 * Lone surrogates (half of a UTF-16 pair) are not text: they have no UTF-8 encoding, and
 * DynamoDB refuses them. A reason or actor holding one used to pass validation; beginRotation
 * then took the client's lock, failed writing the audit entry with an unnamed
 * TransactionCanceledException, and left the client locked. Every free-text check refuses them now.
 */
import { parseOffboardRequest } from '../../lambdas/core/ops-requests';
import { parseRotationRequest } from '../../lambdas/core/rotation-request';
import { checkText } from '../../operator/cli/arguments';

const LONE = ['acme\uD800', '\uDC00acme', 'a\uDBFFb'];
const PAIRED = 'rotate 🔑'; // a surrogate pair: fine

const rotation = (reason: string, requestedBy = 'alice') => ({ clientId: 'acme', mode: 'manual', reason, requestedBy });

describe.each(LONE.map((text) => ({ text, title: JSON.stringify(text) })))('free text $title', ({ text }) => {
  it('is refused in the execution input (reason and requestedBy) with InvalidRotationInput', () => {
    expect(() => parseRotationRequest(rotation(text))).toThrow(expect.objectContaining({ name: 'InvalidRotationInput', issues: ['reason: must not contain control characters'] }));
    expect(() => parseRotationRequest(rotation('why', text))).toThrow(expect.objectContaining({ name: 'InvalidRotationInput', issues: ['requestedBy: must not contain control characters'] }));
  });

  it('is refused in operator requests with InvalidOperationInput', () => {
    expect(() => parseOffboardRequest({ clientId: 'acme', requestedBy: 'alice', reason: text })).toThrow(expect.objectContaining({ name: 'InvalidOperationInput' }));
    expect(() => parseOffboardRequest({ clientId: 'acme', requestedBy: text, reason: 'why' })).toThrow(expect.objectContaining({ name: 'InvalidOperationInput' }));
  });

  it('is refused by the CLI (--reason, --actor) with a UsageError', () => {
    expect(() => checkText(text, '--reason', 512)).toThrow(expect.objectContaining({ name: 'UsageError', issues: ['--reason: control characters'] }));
  });
});

it('a surrogate pair (an emoji) is still accepted everywhere', () => {
  expect(parseRotationRequest(rotation(PAIRED)).reason).toBe(PAIRED);
  expect(parseOffboardRequest({ clientId: 'acme', requestedBy: 'alice', reason: PAIRED }).reason).toBe(PAIRED);
  expect(checkText(PAIRED, '--reason', 512)).toBe(PAIRED);
});
