/**
 * Parsing KeyRoll client notifications in every delivery shape, robustness to garbage
 * (property-based), what a provider does about each event type, and the Lambda SNS
 * subscriber handler.
 */
import fc from 'fast-check';
import { ManualClock } from '../../lambdas/core/clock';
import { ClientEventType, rotatedNotice, retiredNotice, type ClientNotice } from '../../lambdas/core/notifications';
import { KeyUnavailableError } from '../../client/errors';
import type { RefreshReason } from '../../client/key-provider';
import { SecretsManagerKeyProvider } from '../../client/secrets-manager';
import { applyRotationNotification, createSnsSubscriberHandler, parseRotationNotification } from '../../client/notifications';
import { awsError, errorText, newSecretValue, StubSecretsManager } from './helpers';

const ROTATION_ID = 'rot-0b5e2f0c-6a39-4ec4-9f35-3f3c0c6d0d55';

function notice(clientId: string, currentKeyId = 'krt_kid_00112233aabbccdd', emergency = false): ClientNotice {
  return rotatedNotice({
    clientId,
    rotationId: ROTATION_ID,
    occurredAt: '2026-11-28T10:00:00.000Z',
    currentKeyId,
    previousKeyId: 'krt_kid_ffeeddccbbaa9988',
    previousKeyNotAfter: '2026-11-29T10:00:00.000Z',
    revokedKeyIds: emergency ? ['krt_kid_ffeeddccbbaa9988'] : [],
    emergency,
  });
}

/** What SQS holds for an SNS subscription with raw delivery off. */
function snsEnvelope(message: string, attributes: Record<string, string>): string {
  return JSON.stringify({
    Type: 'Notification',
    MessageId: 'c0ffee00-0000-4000-8000-000000000001',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:keyroll-clients',
    Message: message,
    Timestamp: '2026-11-28T10:00:01.000Z',
    SignatureVersion: '1',
    MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { Type: 'String', Value: v }])),
  });
}

/** SQS message attributes (raw delivery on). */
function sqsAttributes(attributes: Record<string, string>) {
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]));
}

describe('parseRotationNotification', () => {
  const n = notice('acme');
  const expected = { clientId: 'acme', eventType: 'key.rotated', currentKeyId: n.currentKeyId, eventId: n.eventId };

  it('reads an SNS envelope (SNS→SQS, raw delivery off), as a string or parsed', () => {
    const body = snsEnvelope(JSON.stringify(n), { clientId: 'acme', eventType: 'key.rotated' });
    expect(parseRotationNotification(body)).toEqual(expected);
    expect(parseRotationNotification(JSON.parse(body))).toEqual(expected);
  });

  it('reads a raw-delivery body with SQS message attributes', () => {
    expect(parseRotationNotification(JSON.stringify(n), sqsAttributes({ clientId: 'acme', eventType: 'key.rotated' }))).toEqual(expected);
  });

  it('reads a raw-delivery body without attributes from the notice itself', () => {
    expect(parseRotationNotification(JSON.stringify(n))).toEqual(expected);
    const emergency = notice('acme', 'krt_kid_1', true);
    expect(parseRotationNotification(JSON.stringify(emergency))).toMatchObject({ eventType: 'key.emergency', currentKeyId: 'krt_kid_1' });
  });

  it('reads the Sns object of a Lambda SNS record', () => {
    const sns = { Type: 'Notification', Message: JSON.stringify(n), MessageAttributes: { clientId: { Type: 'String', Value: 'acme' }, eventType: { Type: 'String', Value: 'key.rotated' } } };
    expect(parseRotationNotification(sns)).toEqual(expected);
  });

  it('falls back on the attributes when the message body is not JSON', () => {
    const body = snsEnvelope('a key was rotated', { clientId: 'acme', eventType: 'key.emergency' });
    expect(parseRotationNotification(body)).toEqual({ clientId: 'acme', eventType: 'key.emergency' });
  });

  it('ignores a message whose attributes and body disagree', () => {
    expect(parseRotationNotification(snsEnvelope(JSON.stringify(n), { clientId: 'other', eventType: 'key.rotated' }))).toBeUndefined();
    expect(parseRotationNotification(snsEnvelope(JSON.stringify(n), { clientId: 'acme', eventType: 'key.retired' }))).toBeUndefined();
  });

  it.each([
    ['an empty string', ''],
    ['text', 'hello'],
    ['JSON null', 'null'],
    ['a JSON array', '[1,2]'],
    ['an empty object', '{}'],
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a subscription confirmation', JSON.stringify({ Type: 'SubscriptionConfirmation', Message: JSON.stringify({ clientId: 'acme', eventType: 'key.rotated' }), MessageAttributes: {} })],
    ['an unknown event type', JSON.stringify({ clientId: 'acme', eventType: 'key.stolen' })],
    ['a non-string client id', JSON.stringify({ clientId: 7, eventType: 'key.rotated' })],
    ['an empty client id', JSON.stringify({ clientId: '', eventType: 'key.rotated' })],
    ['an absurdly long client id', JSON.stringify({ clientId: 'a'.repeat(10_000), eventType: 'key.rotated' })],
    ['attributes of the wrong shape', snsEnvelope('x', {}).replace('"MessageAttributes":{}', '"MessageAttributes":{"clientId":"acme","eventType":["key.rotated"]}')],
    ['an ops notice', JSON.stringify({ eventType: 'rotation.failed', clientId: 'acme' })],
  ])('returns undefined for %s', (_name, input) => {
    expect(parseRotationNotification(input)).toBeUndefined();
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ Type: 'Notification', Message: JSON.stringify(v), MessageAttributes: v })),
        ),
        fc.anything(),
        (body, attributes) => {
          const parsed = parseRotationNotification(body, attributes as Record<string, unknown>);
          if (parsed !== undefined) {
            expect(Object.values(ClientEventType)).toContain(parsed.eventType);
            expect(typeof parsed.clientId).toBe('string');
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('finds every well-formed notice, whatever its client id, in each delivery shape', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), fc.constantFrom(...Object.values(ClientEventType)), (clientId, eventType) => {
        const message = JSON.stringify({ ...notice(clientId), eventType });
        const attributes = { clientId, eventType };
        for (const parsed of [parseRotationNotification(snsEnvelope(message, attributes)), parseRotationNotification(message, sqsAttributes(attributes)), parseRotationNotification(message)]) {
          expect(parsed).toMatchObject({ clientId, eventType });
        }
      }),
    );
  });
});

/** A provider over a stub whose refresh reasons are recorded. */
function providerFor(clientId = 'acme') {
  const secrets = new StubSecretsManager();
  const provider = new SecretsManagerKeyProvider({ clientId, secretsManager: secrets, clock: new ManualClock(0) });
  const reasons: { reason: RefreshReason; expectedKeyId?: string }[] = [];
  const refresh = provider.refresh.bind(provider);
  provider.refresh = (reason, options) => {
    reasons.push({ reason: reason ?? 'manual', ...(options?.expectedKeyId ? { expectedKeyId: options.expectedKeyId } : {}) });
    return refresh(reason, options);
  };
  return { secrets, provider, reasons };
}

describe('applyRotationNotification', () => {
  it('key.rotated for this client refreshes, naming the key it expects', async () => {
    const { provider, reasons, secrets } = providerFor();
    await provider.getKey();
    const next = secrets.rotate();
    const outcome = await applyRotationNotification(provider, 'acme', parseRotationNotification(JSON.stringify(notice('acme', next.keyId))));
    expect(outcome).toBe('refreshed');
    expect(reasons).toEqual([{ reason: 'notification', expectedKeyId: next.keyId }]);
    expect(provider.currentKeyId()).toBe(next.keyId);
  });

  it('key.emergency for this client refreshes as an emergency', async () => {
    const { provider, reasons, secrets } = providerFor();
    await provider.getKey();
    const next = secrets.rotate();
    await applyRotationNotification(provider, 'acme', { clientId: 'acme', eventType: 'key.emergency', currentKeyId: next.keyId });
    expect(reasons).toEqual([{ reason: 'emergency', expectedKeyId: next.keyId }]);
    expect(provider.currentKeyId()).toBe(next.keyId);
  });

  it('operator incidents sent as key.emergency (a rollback, a kill switch) refresh at once too', async () => {
    const { provider, reasons, secrets } = providerFor();
    await provider.getKey();
    // Rollback during the overlap: the previous key is current again and named.
    const rolledBack = {
      eventId: 'rot-1:rotation.rolled_back',
      eventType: 'key.emergency',
      incident: 'rotation.rolled_back',
      clientId: 'acme',
      rotationId: 'rot-1',
      occurredAt: 'x',
      currentKeyId: secrets.value.keyId,
      revokedKeyIds: ['krt_kid_new'],
      severity: 'high',
      summary: '...',
    };
    expect(await applyRotationNotification(provider, 'acme', parseRotationNotification(JSON.stringify(rolledBack)))).toBe('refreshed');
    // Kill switch of the current key: no current key is named.
    const killSwitch = {
      eventId: 'revoke:krt_kid_1:key.emergency',
      eventType: 'key.emergency',
      incident: 'key.revoked',
      clientId: 'acme',
      rotationId: 'none',
      occurredAt: 'x',
      revokedKeyIds: ['krt_kid_1'],
      severity: 'high',
      summary: '...',
    };
    expect(await applyRotationNotification(provider, 'acme', parseRotationNotification(JSON.stringify(killSwitch)))).toBe('refreshed');
    expect(reasons).toEqual([{ reason: 'emergency', expectedKeyId: secrets.value.keyId }, { reason: 'emergency' }]);
  });

  it('ignores other clients’ notifications and unparseable ones', async () => {
    const { provider, reasons } = providerFor();
    for (const eventType of Object.values(ClientEventType)) {
      expect(await applyRotationNotification(provider, 'acme', { clientId: 'acme-2', eventType })).toBe('ignored');
    }
    expect(await applyRotationNotification(provider, 'acme', undefined)).toBe('ignored');
    expect(reasons).toEqual([]);
  });

  it('key.retired / key.expiring refresh only when the cached key is not the one they call current', async () => {
    const { provider, reasons, secrets } = providerFor();
    const first = secrets.value;
    await provider.getKey();
    const retired = retiredNotice({ clientId: 'acme', rotationId: ROTATION_ID, occurredAt: 'x', retiredKeyId: 'krt_kid_old', currentKeyId: first.keyId });
    expect(await applyRotationNotification(provider, 'acme', parseRotationNotification(JSON.stringify(retired)))).toBe('ignored');
    expect(await applyRotationNotification(provider, 'acme', { clientId: 'acme', eventType: 'key.expiring' })).toBe('ignored');
    expect(reasons).toEqual([]);

    // The key.rotated notice was missed: key.expiring names a key we do not hold.
    const next = secrets.rotate();
    expect(await applyRotationNotification(provider, 'acme', { clientId: 'acme', eventType: 'key.expiring', currentKeyId: next.keyId })).toBe('refreshed');
    expect(provider.currentKeyId()).toBe(next.keyId);
  });

  it('rejects with the provider’s KeyUnavailableError when the refresh fails', async () => {
    const { provider, secrets } = providerFor();
    await provider.getKey();
    secrets.failure = awsError('ThrottlingException');
    await expect(applyRotationNotification(provider, 'acme', { clientId: 'acme', eventType: 'key.rotated' })).rejects.toThrow(KeyUnavailableError);
  });
});

describe('createSnsSubscriberHandler', () => {
  function snsEvent(...records: { message: string; attributes: Record<string, string> }[]) {
    return {
      Records: records.map(({ message, attributes }) => ({
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: 'arn:aws:sns:us-east-1:123456789012:keyroll-clients:sub',
        Sns: JSON.parse(snsEnvelope(message, attributes)) as unknown,
      })),
    };
  }

  it('refreshes on this client’s rotation and ignores the rest', async () => {
    const { provider, secrets } = providerFor();
    await provider.getKey();
    const next = secrets.rotate();
    const handler = createSnsSubscriberHandler(provider, 'acme');
    const result = await handler(
      snsEvent(
        { message: JSON.stringify(notice('acme', next.keyId)), attributes: { clientId: 'acme', eventType: 'key.rotated' } },
        { message: JSON.stringify(notice('globex')), attributes: { clientId: 'globex', eventType: 'key.rotated' } },
        { message: 'garbage', attributes: {} },
      ),
    );
    expect(result).toEqual({ refreshed: 1, ignored: 2 });
    expect(provider.currentKeyId()).toBe(next.keyId);
    await expect(handler({})).resolves.toEqual({ refreshed: 0, ignored: 0 });
    await expect(handler({ Records: [undefined, {}] })).resolves.toEqual({ refreshed: 0, ignored: 2 });
  });

  it('throws the KeyUnavailableError (no key in it) so that Lambda retries the notification', async () => {
    const { provider, secrets } = providerFor();
    const held = await provider.getKey();
    secrets.rotate(newSecretValue());
    secrets.failure = awsError('ThrottlingException');
    const handler = createSnsSubscriberHandler(provider, 'acme');
    const error = await handler(snsEvent({ message: JSON.stringify(notice('acme', 'krt_kid_x', true)), attributes: { clientId: 'acme', eventType: 'key.emergency' } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnavailableError);
    expect(errorText(error)).not.toContain(held);
    expect(errorText(error)).not.toContain(secrets.value.apiKey);
  });
});
