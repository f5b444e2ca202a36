/**
 * The Secrets Manager client's retry strategy: full-jitter retries of throttling without a
 * retry quota or a rate limiter, few retries of other transient faults, none of client
 * errors; and, end to end, many concurrent writes behind an emulated write quota all land.
 */
import { CreateSecretCommand, DescribeSecretCommand, SecretsManagerClient, UpdateSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { RetryErrorInfo, RetryToken } from '@smithy/types';
import { QuotaRetryStrategy, SECRETS_MANAGER_RETRY } from '../../lambdas/aws/quota-retry-strategy';
import { peakRate, QuotaProxy } from '../../local/quota-proxy';

const throttled: RetryErrorInfo = { errorType: 'THROTTLING' };
const transient: RetryErrorInfo = { errorType: 'TRANSIENT' };

async function retriesUntilRefused(strategy: QuotaRetryStrategy, info: RetryErrorInfo): Promise<number[]> {
  const delays: number[] = [];
  let token: RetryToken = await strategy.acquireInitialRetryToken('');
  for (;;) {
    try {
      token = await strategy.refreshRetryTokenForRetry(token, info);
    } catch {
      return delays;
    }
    delays.push(token.getRetryDelay());
  }
}

describe('QuotaRetryStrategy', () => {
  const options = { throttledAttempts: 6, transientAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

  it('retries throttling up to its attempt limit, each delay under a doubling ceiling capped at the maximum (full jitter)', async () => {
    const ceilings = await retriesUntilRefused(new QuotaRetryStrategy({ ...options, random: () => 0.999999 }), throttled);
    // 6 attempts = 5 retries; ceilings 100, 200, 400, 800, then the 1,000 cap.
    expect(ceilings).toEqual([99, 199, 399, 799, 999]);
    const lows = await retriesUntilRefused(new QuotaRetryStrategy({ ...options, random: () => 0 }), throttled);
    expect(lows).toEqual([0, 0, 0, 0, 0]);
  });

  it('gives other transient faults the smaller limit and never retries client errors', async () => {
    expect(await retriesUntilRefused(new QuotaRetryStrategy(options), transient)).toHaveLength(2);
    expect(await retriesUntilRefused(new QuotaRetryStrategy(options), { errorType: 'CLIENT_ERROR' })).toHaveLength(0);
    expect(await retriesUntilRefused(new QuotaRetryStrategy(options), { errorType: 'SERVER_ERROR' })).toHaveLength(0);
  });

  it('counts each kind against its own limit: throttles do not use up the retries of a later 5xx', async () => {
    const strategy = new QuotaRetryStrategy({ ...options, random: () => 0 });
    let token: RetryToken = await strategy.acquireInitialRetryToken('');
    for (let i = 0; i < 4; i++) token = await strategy.refreshRetryTokenForRetry(token, throttled);
    // Two transient retries still, then refused; and the remaining throttling retry is still there.
    token = await strategy.refreshRetryTokenForRetry(token, transient);
    token = await strategy.refreshRetryTokenForRetry(token, transient);
    await expect(strategy.refreshRetryTokenForRetry(token, transient)).rejects.toThrow();
    token = await strategy.refreshRetryTokenForRetry(token, throttled);
    await expect(strategy.refreshRetryTokenForRetry(token, throttled)).rejects.toThrow();
    expect(token.getRetryCount()).toBe(7);
    expect(strategy.maxAttempts()).toBe(8);
  });

  it('has no retry quota: a thousand throttled calls in a row are each still retried', async () => {
    const strategy = new QuotaRetryStrategy({ ...options, random: () => 0 });
    for (let call = 0; call < 1_000; call++) {
      const token = await strategy.acquireInitialRetryToken('');
      await expect(strategy.refreshRetryTokenForRetry(token, throttled)).resolves.toBeDefined();
    }
  });

  it('treats a Retry-After hint as a floor, bounded by the maximum delay', async () => {
    const strategy = new QuotaRetryStrategy({ ...options, random: () => 0 });
    const token = await strategy.acquireInitialRetryToken('');
    const soon = await strategy.refreshRetryTokenForRetry(token, { ...throttled, retryAfterHint: new Date(Date.now() + 500) });
    expect(soon.getRetryDelay()).toBeGreaterThan(400);
    const far = await strategy.refreshRetryTokenForRetry(token, { ...throttled, retryAfterHint: new Date(Date.now() + 3_600_000) });
    expect(far.getRetryDelay()).toBe(1_000);
  });

  it('refuses nonsensical settings by name', () => {
    expect(() => new QuotaRetryStrategy({ ...options, throttledAttempts: 0 })).toThrow(RangeError);
    expect(() => new QuotaRetryStrategy({ ...options, maxDelayMs: 10 })).toThrow(RangeError);
  });

  it('lands 40 concurrent writes behind a 10 writes/s quota, none failed, the quota never exceeded', async () => {
    const setup = new SecretsManagerClient({});
    const name = `quota-retry-${Date.now()}`;
    await setup.send(new CreateSecretCommand({ Name: name, SecretString: 'not-a-key' }));
    const proxy = await QuotaProxy.start(process.env.AWS_ENDPOINT_URL!, [{ service: 'secretsmanager', operations: ['UpdateSecret'], perSecond: 10 }]);
    const strategy = new QuotaRetryStrategy(SECRETS_MANAGER_RETRY);
    const client = new SecretsManagerClient({ endpoint: proxy.endpoint, retryStrategy: strategy, maxAttempts: strategy.maxAttempts() });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          client.send(new UpdateSecretCommand({ SecretId: name, Description: `write ${i}` })).then(
            (out) => out.$metadata.attempts ?? 1,
            (error: Error) => error.name,
          ),
        ),
      );
      expect(outcomes.filter((o) => typeof o !== 'number')).toEqual([]);
      const stats = proxy.stats();
      expect(stats.forwarded.get('secretsmanager:UpdateSecret')).toBe(40);
      // The quota was hit (so retries were exercised) and never exceeded.
      expect(stats.throttled.get('secretsmanager:UpdateSecret') ?? 0).toBeGreaterThan(0);
      expect(peakRate(stats.quotaCallTimes)).toBeLessThanOrEqual(10);
      // A read right after the throttled writes is answered in one attempt: no retry budget or shared limiter carries over.
      const read = await client.send(new DescribeSecretCommand({ SecretId: name }));
      expect(read.$metadata.attempts).toBe(1);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
