/**
 * KeyProvider with a stub Secrets Manager, a manual clock and a manual scheduler: caching,
 * single flight, background refresh, failure handling, change events, and that no key
 * ever leaves through a log line, an error, an event or the object's own representation.
 */
import { inspect } from 'node:util';
import { ManualClock } from '../../lambdas/core/clock';
import { InvalidClientOptionsError, KeyUnavailableError } from '../../client/errors';
import { DEFAULT_REFRESH_INTERVAL_MS, type KeyChange } from '../../client/key-provider';
import { SecretsManagerKeyProvider, type SecretsManagerKeyProviderOptions } from '../../client/secrets-manager';
import { systemScheduler } from '../../client/scheduler';
import { awsError, errorText, Gate, ManualScheduler, newSecretValue, RecordingLogger, settle, StubSecretsManager } from './helpers';

const INTERVAL = 60_000;

function setup(options: Partial<SecretsManagerKeyProviderOptions> = {}) {
  const clock = new ManualClock(Date.parse('2026-11-28T10:00:00Z'));
  const scheduler = new ManualScheduler(clock);
  const secrets = new StubSecretsManager();
  const logger = new RecordingLogger();
  const provider = new SecretsManagerKeyProvider({
    clientId: 'acme',
    secretsManager: secrets,
    clock,
    scheduler,
    logger,
    refreshIntervalMs: INTERVAL,
    ...options,
  });
  return { clock, scheduler, secrets, logger, provider };
}

describe('KeyProvider options', () => {
  it('names the secret <prefix><clientId>, with keyroll/clients/ by default', () => {
    const secrets = new StubSecretsManager();
    expect(new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets }).secretId).toBe('keyroll/clients/acme');
    expect(new SecretsManagerKeyProvider({ clientId: 'acme', secretNamePrefix: 'x/', secretsManager: secrets }).secretId).toBe('x/acme');
    const byArn = new SecretsManagerKeyProvider({ secretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:k-AbCdEf', secretsManager: secrets });
    expect(byArn.secretId).toBe('arn:aws:secretsmanager:us-east-1:111122223333:secret:k-AbCdEf');
    expect(byArn.clientId).toBeUndefined();
    expect(new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets }).refreshIntervalMs).toBe(DEFAULT_REFRESH_INTERVAL_MS);
    expect(DEFAULT_REFRESH_INTERVAL_MS).toBe(300_000);
  });

  it('rejects missing ids and bad intervals with a named error that says what it got', () => {
    const secrets = new StubSecretsManager();
    expect(() => new SecretsManagerKeyProvider({ secretsManager: secrets })).toThrow(InvalidClientOptionsError);
    expect(() => new SecretsManagerKeyProvider({ clientId: '', secretsManager: secrets })).toThrow(/clientId/);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new SecretsManagerKeyProvider({ clientId: 'a', refreshIntervalMs: bad, secretsManager: secrets })).toThrow(new RegExp(`refreshIntervalMs must be a positive.*got ${bad}`));
    }
    expect(() => new SecretsManagerKeyProvider({ clientId: 'a', retryAfterFailureMs: 0, secretsManager: secrets })).toThrow(/retryAfterFailureMs/);
    try {
      new SecretsManagerKeyProvider({ secretsManager: secrets });
    } catch (error) {
      expect((error as Error).name).toBe('InvalidClientOptions');
    }
  });

  it('caps retryAfterFailureMs at the refresh interval', () => {
    const { provider } = setup({ retryAfterFailureMs: 10 * INTERVAL });
    expect(provider.retryAfterFailureMs).toBe(INTERVAL);
  });
});

describe('KeyProvider.getKey', () => {
  it('reads AWSCURRENT of the secret on first use and returns its key', async () => {
    const { provider, secrets } = setup();
    expect(provider.currentKeyId()).toBeUndefined();
    await expect(provider.getKey()).resolves.toBe(secrets.value.apiKey);
    expect(secrets.calls).toEqual([{ SecretId: 'keyroll/clients/acme', VersionStage: 'AWSCURRENT' }]);
    expect(provider.currentKeyId()).toBe(secrets.value.keyId);
  });

  it('serves the cached key until it is refreshIntervalMs old, then reads again', async () => {
    const { provider, secrets, clock } = setup();
    const first = secrets.value;
    await provider.getKey();
    const second = secrets.rotate();

    clock.advance(INTERVAL - 1);
    await expect(provider.getKey()).resolves.toBe(first.apiKey);
    expect(secrets.calls).toHaveLength(1);

    clock.advance(1);
    await expect(provider.getKey()).resolves.toBe(second.apiKey);
    expect(secrets.calls).toHaveLength(2);
    expect(provider.currentKeyId()).toBe(second.keyId);
  });

  it('counts a key’s age from when its read started', async () => {
    const { provider, secrets, clock } = setup();
    secrets.gate = new Gate();
    const pending = provider.getKey();
    clock.advance(5_000); // the read takes 5 s
    secrets.gate.open();
    await pending;
    secrets.gate = undefined;
    clock.advance(INTERVAL - 5_000);
    await provider.getKey();
    expect(secrets.calls).toHaveLength(2);
  });
});

describe('KeyProvider.refresh: single flight', () => {
  it('shares one GetSecretValue among concurrent refresh() and getKey() callers', async () => {
    const { provider, secrets } = setup();
    secrets.gate = new Gate();
    const callers = [provider.refresh('manual'), provider.refresh('notification'), provider.refresh('auth-failure'), provider.getKey(), provider.getKey()];
    await settle();
    expect(secrets.calls).toHaveLength(1);
    secrets.gate.open();
    const results = await Promise.all(callers);
    expect(secrets.calls).toHaveLength(1);
    expect(results.slice(3)).toEqual([secrets.value.apiKey, secrets.value.apiKey]);
    for (const result of results.slice(0, 3)) {
      expect(result).toEqual({ keyId: secrets.value.keyId, previousKeyId: undefined, changed: true });
    }
  });

  it('starts a new read once the shared one has finished (and after it failed)', async () => {
    const { provider, secrets } = setup();
    await provider.refresh('manual');
    await provider.refresh('manual');
    expect(secrets.calls).toHaveLength(2);

    secrets.failure = awsError('ThrottlingException');
    await expect(provider.refresh('manual')).rejects.toThrow(KeyUnavailableError);
    secrets.failure = undefined;
    await provider.refresh('manual');
    expect(secrets.calls).toHaveLength(4);
  });

  it('reports whether the key changed, with key ids only', async () => {
    const { provider, secrets } = setup();
    const first = secrets.value;
    await provider.getKey();
    await expect(provider.refresh('manual')).resolves.toEqual({ keyId: first.keyId, previousKeyId: first.keyId, changed: false });
    const second = secrets.rotate();
    const result = await provider.refresh('manual');
    expect(result).toEqual({ keyId: second.keyId, previousKeyId: first.keyId, changed: true });
    expect(JSON.stringify(result)).not.toContain(second.apiKey);
  });

  it('reads once more when a shared read returns another key than the notification announced', async () => {
    const { provider, secrets } = setup();
    const old = secrets.value;
    await provider.getKey();

    // A timer read is in flight (it will answer with the old key) when the rotation finishes
    // and its notification arrives: the notification's refresh joins that read.
    secrets.gate = new Gate();
    const timerRead = provider.refresh('timer');
    await settle();
    const inFlight = secrets.gate;
    secrets.gate = undefined;
    const next = secrets.rotate();
    const fromNotification = provider.refresh('notification', { expectedKeyId: next.keyId });
    inFlight.open();
    await expect(timerRead).resolves.toMatchObject({ keyId: old.keyId, changed: false });
    await expect(fromNotification).resolves.toEqual({ keyId: next.keyId, previousKeyId: old.keyId, changed: true });
    expect(secrets.calls).toHaveLength(3);
  });

  it('does not read again when the read already returned the expected key', async () => {
    const { provider, secrets } = setup();
    await provider.refresh('notification', { expectedKeyId: secrets.value.keyId });
    expect(secrets.calls).toHaveLength(1);
  });
});

describe('KeyProvider failures', () => {
  it('keeps serving the last good key when a refresh fails, and says so in the log without the key', async () => {
    const { provider, secrets, clock, logger } = setup();
    const good = secrets.value;
    await provider.getKey();
    secrets.rotate();
    secrets.failure = awsError('InternalServiceError', 'We encountered an internal error.');
    clock.advance(INTERVAL);

    await expect(provider.getKey()).resolves.toBe(good.apiKey);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0].message).toContain('still using key ' + good.keyId);
    expect(logger.warnings[0].attributes[0]).toMatchObject({
      source: 'keyroll/clients/acme',
      reason: 'stale',
      failure: 'request-failed',
      servingKeyId: good.keyId,
      errorName: 'InternalServiceError',
    });
    expect(logger.text()).not.toContain(good.apiKey);
    expect(logger.text()).not.toContain(secrets.value.apiKey);
  });

  it('does not hammer Secrets Manager after a failure: getKey waits retryAfterFailureMs before reading again', async () => {
    const { provider, secrets, clock } = setup({ retryAfterFailureMs: 10_000 });
    const good = secrets.value;
    await provider.getKey();
    secrets.failure = awsError('ThrottlingException');
    clock.advance(INTERVAL);
    await provider.getKey();
    expect(secrets.calls).toHaveLength(2);

    clock.advance(9_999);
    for (let i = 0; i < 5; i++) await expect(provider.getKey()).resolves.toBe(good.apiKey);
    expect(secrets.calls).toHaveLength(2);

    clock.advance(1);
    secrets.failure = undefined;
    const next = secrets.rotate();
    await expect(provider.getKey()).resolves.toBe(next.apiKey);
    expect(secrets.calls).toHaveLength(3);
  });

  it('refresh() rejects with KeyUnavailableError but the cached key stays in use', async () => {
    const { provider, secrets } = setup();
    const good = secrets.value;
    await provider.getKey();
    secrets.failure = awsError('AccessDeniedException', 'User is not authorized to perform secretsmanager:GetSecretValue');
    const error = await provider.refresh('manual').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnavailableError);
    expect(error).toMatchObject({ name: 'KeyUnavailable', reason: 'access-denied', causeName: 'AccessDeniedException', source: 'keyroll/clients/acme' });
    expect((error as Error).cause).toBe(secrets.failure);
    expect(await provider.getKey()).toBe(good.apiKey);
    expect(errorText(error)).not.toContain(good.apiKey);
  });

  it.each([
    ['ResourceNotFoundException', 'not-found'],
    ['AccessDeniedException', 'access-denied'],
    ['DecryptionFailure', 'access-denied'],
    ['ThrottlingException', 'request-failed'],
    ['TimeoutError', 'request-failed'],
  ])('getKey with nothing cached rejects on %s with reason %s', async (name, reason) => {
    const { provider, secrets } = setup();
    secrets.failure = awsError(name);
    await expect(provider.getKey()).rejects.toMatchObject({ name: 'KeyUnavailable', reason, causeName: name });
    // With nothing cached, every getKey tries again (there is nothing better to serve).
    await expect(provider.getKey()).rejects.toThrow(KeyUnavailableError);
    expect(secrets.calls).toHaveLength(2);
  });

  it('a malformed secret value is reported as malformed without echoing it, and the good key stays', async () => {
    const { provider, secrets, clock, logger } = setup();
    const good = secrets.value;
    await provider.getKey();
    const leaked = newSecretValue();
    const malformed = [
      `{"apiKey":"${leaked.apiKey}"`, // truncated JSON: a JSON.parse message would quote it
      JSON.stringify({ apiKey: leaked.apiKey }), // no keyId
      JSON.stringify({ apiKey: `${leaked.apiKey}x`, keyId: leaked.keyId }), // not a KeyRoll key
      leaked.apiKey, // a bare key, not the document
      undefined, // SecretBinary only
    ];
    for (const secretString of malformed) {
      secrets.secretString = secretString;
      clock.advance(INTERVAL);
      const error = await provider.refresh('manual').catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'KeyUnavailable', reason: 'malformed', causeName: 'MalformedKey' });
      expect(errorText(error)).not.toContain(leaked.apiKey.slice(4, 30));
      expect(await provider.getKey()).toBe(good.apiKey);
    }
    expect(logger.warnings).toHaveLength(malformed.length);
    expect(logger.text()).not.toContain(leaked.apiKey.slice(4, 30));
    expect(logger.text()).not.toContain(good.apiKey);
  });

  it('redacts a key-shaped string that an underlying error message happens to carry', async () => {
    const { provider, secrets, logger } = setup();
    const good = secrets.value;
    await provider.getKey();
    secrets.failure = awsError('WeirdProxyError', `upstream said: bad token ${good.apiKey} and ${newSecretValue().apiKey}`);
    await expect(provider.refresh('manual')).rejects.toThrow(KeyUnavailableError);
    expect(logger.warnings[0].attributes[0].errorMessage).toBe('upstream said: bad token [REDACTED] and [REDACTED]');
    expect(logger.text()).not.toContain(good.apiKey);
  });
});

describe('KeyProvider.onChange', () => {
  it('tells listeners about the first key and each change, with ids only; unsubscribing stops it', async () => {
    const { provider, secrets } = setup();
    const changes: KeyChange[] = [];
    const unsubscribe = provider.onChange((change) => changes.push(change));
    const first = secrets.value;
    await provider.getKey();
    await provider.refresh('manual'); // same key: no event
    const second = secrets.rotate();
    await provider.refresh('emergency');
    expect(changes).toEqual([
      { previousKeyId: undefined, keyId: first.keyId, reason: 'initial' },
      { previousKeyId: first.keyId, keyId: second.keyId, reason: 'emergency' },
    ]);
    expect(JSON.stringify(changes)).not.toMatch(new RegExp(`${first.apiKey}|${second.apiKey}`));

    unsubscribe();
    secrets.rotate();
    await provider.refresh('manual');
    expect(changes).toHaveLength(2);
  });

  it('a throwing listener is logged and does not break the refresh or other listeners', async () => {
    const { provider, secrets, logger } = setup();
    const seen: string[] = [];
    provider.onChange(() => {
      throw new Error('listener bug');
    });
    provider.onChange((change) => seen.push(change.keyId));
    await expect(provider.getKey()).resolves.toBe(secrets.value.apiKey);
    expect(seen).toEqual([secrets.value.keyId]);
    expect(logger.warnings.map((w) => w.message)).toEqual(['KeyRoll: a key-change listener threw; ignored.']);
  });

  it('logs key changes at info level with ids only', async () => {
    const { provider, secrets, logger } = setup();
    const first = secrets.value;
    await provider.getKey();
    const second = secrets.rotate();
    await provider.refresh('notification');
    expect(logger.calls.filter((c) => c.level === 'info').map((c) => c.message)).toEqual([`KeyRoll: using key ${first.keyId}.`, `KeyRoll: key ${second.keyId} is now current (was ${first.keyId}).`]);
    expect(logger.text()).not.toContain(first.apiKey);
    expect(logger.text()).not.toContain(second.apiKey);
  });
});

describe('KeyProvider background refresh (start/stop)', () => {
  it('reads at once when started empty, then every refreshIntervalMs', async () => {
    const { provider, secrets, scheduler } = setup();
    provider.start();
    expect(provider.running).toBe(true);
    await scheduler.advance(0);
    expect(secrets.calls).toHaveLength(1);
    expect(provider.currentKeyId()).toBe(secrets.value.keyId);

    const next = secrets.rotate();
    await scheduler.advance(INTERVAL - 1);
    expect(secrets.calls).toHaveLength(1);
    await scheduler.advance(1);
    expect(secrets.calls).toHaveLength(2);
    expect(provider.currentKeyId()).toBe(next.keyId);

    await scheduler.advance(3 * INTERVAL);
    expect(secrets.calls).toHaveLength(5);
    provider.stop();
  });

  it('first fires when the cached key reaches refreshIntervalMs', async () => {
    const { provider, secrets, scheduler } = setup();
    await provider.getKey();
    await scheduler.advance(20_000);
    provider.start();
    expect(scheduler.pendingDelays()).toEqual([INTERVAL - 20_000]);
    await scheduler.advance(INTERVAL - 20_000);
    expect(secrets.calls).toHaveLength(2);
    provider.stop();
  });

  it('a read by other means (a notification) postpones the timer read instead of repeating it', async () => {
    const { provider, secrets, scheduler } = setup();
    provider.start();
    await scheduler.advance(0);
    await scheduler.advance(INTERVAL / 2);
    await provider.refresh('notification');
    expect(secrets.calls).toHaveLength(2);
    await scheduler.advance(INTERVAL / 2); // the timer fires but the key is only half an interval old
    expect(secrets.calls).toHaveLength(2);
    await scheduler.advance(INTERVAL / 2);
    expect(secrets.calls).toHaveLength(3);
    provider.stop();
  });

  it('retries after retryAfterFailureMs when a timer read fails, keeping the key', async () => {
    const { provider, secrets, scheduler, logger } = setup({ retryAfterFailureMs: 5_000 });
    const good = secrets.value;
    provider.start();
    await scheduler.advance(0);
    secrets.failure = awsError('ServiceUnavailable');
    await scheduler.advance(INTERVAL);
    expect(secrets.calls).toHaveLength(2);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0].attributes[0]).toMatchObject({ reason: 'timer', servingKeyId: good.keyId });

    await scheduler.advance(4_999);
    expect(secrets.calls).toHaveLength(2);
    secrets.failure = undefined;
    const next = secrets.rotate();
    await scheduler.advance(1);
    expect(secrets.calls).toHaveLength(3);
    expect(provider.currentKeyId()).toBe(next.keyId);
    expect(scheduler.pendingDelays()).toEqual([INTERVAL]);
    provider.stop();
  });

  it('stop() cancels the timer; start() twice keeps one timer; a stop during a read schedules nothing', async () => {
    const { provider, secrets, scheduler } = setup();
    provider.start();
    provider.start();
    expect(scheduler.pending).toBe(1);
    await scheduler.advance(0);
    expect(scheduler.pending).toBe(1);
    provider.stop();
    expect(provider.running).toBe(false);
    expect(scheduler.pending).toBe(0);
    await scheduler.advance(10 * INTERVAL);
    expect(secrets.calls).toHaveLength(1);

    // Stopped while a timer read is in flight: nothing is scheduled when it completes.
    provider.start();
    secrets.gate = new Gate();
    await scheduler.advance(INTERVAL);
    expect(secrets.calls).toHaveLength(2);
    provider.stop();
    secrets.gate.open();
    await settle();
    expect(scheduler.pending).toBe(0);

    // Restarted while the read of an earlier run is in flight: still only one timer.
    secrets.gate = new Gate();
    provider.start();
    await scheduler.advance(INTERVAL);
    provider.stop();
    provider.start();
    secrets.gate.open();
    await settle();
    expect(scheduler.pending).toBe(1);
    provider.stop();
  });

  it('the default scheduler’s timers do not keep the process alive', () => {
    const handle = systemScheduler.setTimeout(() => undefined, 60_000) as NodeJS.Timeout;
    try {
      expect(handle.hasRef()).toBe(false);
    } finally {
      systemScheduler.clearTimeout(handle);
    }
  });
});

describe('KeyProvider never shows the key', () => {
  it('is absent from util.inspect, console-style formatting and JSON of the provider', async () => {
    const { provider, secrets } = setup();
    await provider.getKey();
    expect(inspect(provider, { showHidden: true, depth: 10 })).not.toContain(secrets.value.apiKey);
    expect(JSON.stringify(provider)).not.toContain(secrets.value.apiKey);
    expect(String(provider)).not.toContain(secrets.value.apiKey);
    expect(inspect(provider)).toContain('keyroll/clients/acme');
  });
});
