/**
 * Hostile delivery settings (lambdas/core/delivery-request.ts): every hostile value as a
 * reader, an endpoint, a pickup key, a JWK member and the settings themselves; hostile field
 * names; huge lists; private JWKs; API keys pasted where an ARN belongs. Each is refused with
 * InvalidOperationInput whose message is one bounded line that does not echo the value.
 */
import { exportJWK, generateKeyPair } from 'jose';
import { parseDelivery, parseDeliveryChange } from '../../lambdas/core/delivery-request';
import { parseDeliveryUpdateRequest } from '../../lambdas/core/ops-requests';
import { describeValue, HOSTILE_FIELD_NAMES, HOSTILE_VALUES, PASTED_KEY, unsafeMessage, withField } from './hostile-values';

const ROLE = 'arn:aws:iam::123456789012:role/consumer';

/** The refusal of `raw` (fails if it was accepted or refused with another error). */
async function refusal(raw: unknown): Promise<{ name: string; message: string; issues: string[] }> {
  try {
    await parseDelivery(raw);
  } catch (error) {
    const refused = error as { name: string; message: string; issues: string[] };
    expect(refused.name).toBe('InvalidOperationInput');
    return refused;
  }
  throw new Error(`accepted ${describeValue(raw)}`);
}

/** The message is safe for `hostile` (printable, bounded, no echo). */
function expectSafe(message: string, hostile: unknown): void {
  expect(unsafeMessage(message, hostile)).toBeUndefined();
}

describe.each(HOSTILE_VALUES.filter((h) => h.value !== undefined).map((h) => [h.name, h.value] as const))('%s', (_name, value) => {
  it('is refused as a reader, an endpoint, a pickup key and as the settings, without echo', async () => {
    for (const raw of [
      { readers: [value] },
      { endpoints: [{ protocol: 'sqs', endpoint: value }] },
      { endpoints: [{ protocol: 'https', endpoint: value }] },
      { endpoints: [{ protocol: 'email', endpoint: value }] },
      { pickupKeys: [value] },
    ]) {
      const refused = await refusal(raw);
      expectSafe(refused.message, value);
    }
    // Anything but an object (or an object with nothing wrong in it) as the settings themselves.
    if (typeof value !== 'object' || value === null || Array.isArray(value)) expectSafe((await refusal(value)).message, value);
  });

  it('is refused as any member of a public JWK, without echo', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    // A plain token is a fine kid: as a kid only values that are not strings.
    for (const member of ['kty', 'crv', 'x', 'y', 'alg', 'use', ...(typeof value === 'string' ? [] : ['kid'])]) {
      const refused = await refusal({ pickupKeys: [withField(jwk, member, value)] });
      expectSafe(refused.message, value);
    }
  });
});

describe('hostile field names', () => {
  it.each(HOSTILE_FIELD_NAMES.map((name) => [name.length > 40 ? `${name.length} characters` : JSON.stringify(name), name]))('%s is refused in the settings, an endpoint and a JWK', async (_title, field) => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = (await exportJWK(publicKey)) as Record<string, unknown>;
    for (const raw of [withField({ readers: [ROLE] }, field, ['x']), { endpoints: [withField({ protocol: 'email', endpoint: 'a@example.com' }, field, 'x')] }, { pickupKeys: [withField(jwk, field, 'x')] }]) {
      const refused = await refusal(raw);
      expectSafe(refused.message, field);
    }
  });

  it('an object of ten thousand unknown fields gets a bounded list of issues', async () => {
    const raw = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`f${i}`, i]));
    const refused = await refusal(raw);
    expect(refused.issues).toHaveLength(21);
    expect(refused.issues.at(-1)).toBe('… and 9980 more issues');
    expect(refused.message.length).toBeLessThan(2000);
  });
});

describe('huge lists', () => {
  it.each([
    ['readers', { readers: Array.from({ length: 1_000_000 }, () => 42) }, 'delivery.readers: must have at most 10 readers'],
    ['endpoints', { endpoints: Array.from({ length: 100_000 }, () => ({ protocol: 'sqs', endpoint: 'x'.repeat(100) })) }, 'delivery.endpoints: must have at most 5 endpoints'],
    ['pickup keys', { pickupKeys: Array.from({ length: 100_000 }, () => ({ kty: 'EC', d: 'secret' })) }, 'delivery.pickupKeys: must have at most 2 pickup keys'],
  ])('%s: refused by their length alone', async (_name, raw, issue) => {
    expect((await refusal(raw)).issues).toEqual([issue]);
  });

  it('a huge private member is named, never printed', async () => {
    const d = 'A'.repeat(1024 * 1024);
    const refused = await refusal({ pickupKeys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', d }] });
    expect(refused.issues).toEqual([expect.stringContaining("private member 'd'")]);
    expect(refused.message.length).toBeLessThan(400);
  });
});

describe('an API key pasted', () => {
  it.each([
    ['as a reader', { readers: [PASTED_KEY] }],
    ['inside a reader ARN', { readers: [`arn:aws:iam::123456789012:role/${PASTED_KEY}`] }],
    ['as an SQS endpoint', { endpoints: [{ protocol: 'sqs', endpoint: PASTED_KEY }] }],
    ['in a webhook URL', { endpoints: [{ protocol: 'https', endpoint: `https://hooks.example.com/?key=${PASTED_KEY}` }] }],
    ['as an email address', { endpoints: [{ protocol: 'email', endpoint: `${PASTED_KEY}@example.com` }] }],
  ])('%s is refused without echo', async (_where, raw) => {
    const refused = await refusal(raw);
    expect(refused.message).not.toContain(PASTED_KEY);
    expect(refused.issues.join()).toMatch(/API key/);
  });

  it('as a kid is refused without echo', async () => {
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const refused = await refusal({ pickupKeys: [{ ...(await exportJWK(publicKey)), kid: PASTED_KEY }] });
    expect(refused.message).not.toContain(PASTED_KEY);
  });

  it('in a delivery update request (as the client id, the reason) is refused without echo, with the delivery issues listed too', async () => {
    let error: { name: string; message: string; issues: string[] } | undefined;
    try {
      await parseDeliveryUpdateRequest({ clientId: PASTED_KEY, delivery: { readers: [PASTED_KEY] }, requestedBy: 'bob', reason: `rotated ${PASTED_KEY}` });
    } catch (e) {
      error = e as typeof error;
    }
    if (!error) throw new Error('accepted');
    expect(error).toMatchObject({ name: 'InvalidOperationInput' });
    expect(error.issues).toHaveLength(3);
    expect(error.message).not.toContain(PASTED_KEY);
  });
});

it('a change is validated like complete settings (each given list), and an empty object changes nothing', async () => {
  await expect(parseDeliveryChange({ readers: [PASTED_KEY] })).rejects.toMatchObject({ name: 'InvalidOperationInput' });
  await expect(parseDeliveryChange({})).resolves.toEqual({});
});
