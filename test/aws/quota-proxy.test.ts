/** The quota proxy's parts: the sliding-window limiter, operation detection, the peak rate; and the proxy in front of moto. */
import { ListSecretsCommand, SecretsManagerClient, UpdateSecretCommand } from '@aws-sdk/client-secrets-manager';
import fc from 'fast-check';
import { operationOf, peakRate, QuotaProxy, SlidingWindowLimiter } from '../../local/quota-proxy';

describe('SlidingWindowLimiter', () => {
  it('allows at most perSecond calls in any 1000 ms window', () => {
    let now = 0;
    const limiter = new SlidingWindowLimiter(3, () => now);
    expect([limiter.tryTake(), limiter.tryTake(), limiter.tryTake(), limiter.tryTake()]).toEqual([true, true, true, false]);
    now = 999;
    expect(limiter.tryTake()).toBe(false);
    now = 1000;
    expect(limiter.tryTake()).toBe(true);
  });

  it('never lets through more calls in a window than peakRate, reading the same times, reports as allowed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 1, maxLength: 300 }), (perSecond, gaps) => {
        const limiter = new SlidingWindowLimiter(perSecond);
        const accepted: number[] = [];
        let now = 0;
        for (const gap of gaps) {
          now += gap * 100;
          if (limiter.tryTake(now)) accepted.push(now);
        }
        expect(peakRate(accepted)).toBeLessThanOrEqual(perSecond);
      }),
    );
  });

  it('refuses a rate that is not a positive integer', () => {
    expect(() => new SlidingWindowLimiter(0)).toThrow(RangeError);
    expect(() => new SlidingWindowLimiter(2.5)).toThrow(RangeError);
  });
});

describe('operationOf', () => {
  const auth = (service: string) => ({ authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=x` });
  it('reads JSON-protocol targets and query-protocol actions', () => {
    expect(operationOf({ ...auth('secretsmanager'), 'x-amz-target': 'secretsmanager.PutSecretValue' }, '{}')).toEqual({ service: 'secretsmanager', operation: 'PutSecretValue' });
    expect(operationOf({ ...auth('dynamodb'), 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' }, '{}')).toEqual({ service: 'dynamodb', operation: 'TransactWriteItems' });
    expect(operationOf(auth('sns'), 'Action=Publish&Version=2010-03-31')).toEqual({ service: 'sns', operation: 'Publish' });
    expect(operationOf({}, '')).toEqual({ service: 'unknown', operation: 'unknown' });
  });
});

describe('peakRate', () => {
  it('is the most calls in any window', () => {
    // 200, 1100, 1150 and 1199 lie within 1000 ms; 100 and 1100 do not.
    expect(peakRate([0, 100, 200, 1100, 1150, 1199])).toBe(4);
    expect(peakRate([])).toBe(0);
  });
});

describe('the proxy in front of moto', () => {
  it('throttles writes beyond the quota with ThrottlingException, forwards the rest, and counts both', async () => {
    const proxy = await QuotaProxy.start(process.env.AWS_ENDPOINT_URL!, [{ service: 'secretsmanager', operations: ['UpdateSecret'], perSecond: 2 }]);
    const client = new SecretsManagerClient({ endpoint: proxy.endpoint, maxAttempts: 1 });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () =>
          client.send(new UpdateSecretCommand({ SecretId: 'no-such-secret', Description: 'x' })).then(
            () => 'ok',
            (error: Error) => error.name,
          ),
        ),
      );
      // Two reach moto (which answers ResourceNotFound), two are throttled by the proxy.
      expect(outcomes.filter((o) => o === 'ThrottlingException')).toHaveLength(2);
      expect(outcomes.filter((o) => o === 'ResourceNotFoundException')).toHaveLength(2);
      await client.send(new ListSecretsCommand({}));
      const stats = proxy.stats();
      expect(stats.throttled.get('secretsmanager:UpdateSecret')).toBe(2);
      expect(stats.forwarded.get('secretsmanager:UpdateSecret')).toBe(2);
      expect(stats.forwarded.get('secretsmanager:ListSecrets')).toBe(1);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
