/**
 * An SDK retry strategy for a client that shares a hard, account-wide request quota with
 * many concurrent callers: Secrets Manager's 50 writes/s (PutSecretValue,
 * UpdateSecretVersionStage, UpdateSecret; not adjustable), which a fleet rotation runs at.
 *
 * Why not the SDK's own modes:
 * - `standard` charges every retry against a per-client retry quota (500 tokens) that is
 *   meant to stop retry storms during an outage. Throttling at a known quota is not an
 *   outage: it is how a paced fleet learns the quota is full, and once the tokens run out
 *   the SDK stops retrying and the step fails though the next attempt would have passed.
 * - `adaptive` adds a client-side rate limiter that every throttle slows down, for every
 *   operation of the client, reads included, although reads have their own (much larger)
 *   quota. A write throttled now and then slows the whole step.
 *
 * So: throttling is retried with full jitter (delay uniform in [0, min(cap, base·2^n)]), up
 * to its own attempt limit, without a retry quota and without slowing other calls; other
 * transient faults (timeouts, 5xx) get the SDK standard mode's small number of attempts.
 * Client errors are never retried. The step's own retry in the state machine (also full
 * jitter) stays the outer layer. Pure apart from the injected random source.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';

/** How a {@link QuotaRetryStrategy} retries. */
export interface QuotaRetryOptions {
  /** Attempts in all (the first included) for a throttled call. */
  readonly throttledAttempts: number;
  /** Attempts in all for other transient faults. */
  readonly transientAttempts: number;
  /** The first retry's maximum delay; each further retry doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A number in [0, 1); `Math.random` by default. */
  readonly random?: () => number;
}

/**
 * Secrets Manager: the quota is counted per second, so a throttled write retries within it
 * (ceilings 100, 200, 400, 800 ms, then 1 s): with many rotations waiting, short ceilings
 * take a freed slot sooner than long ones (1,000 clients against a quota of 8/s held 88.5% of
 * the bound in the steady middle with 4 s ceilings, 94.9% with 1 s). 20 attempts wait about
 * 8 s in all on average (at most 16.5 s) before the step fails and Step Functions retries it,
 * so a step with three throttled writes usually ends well inside its 30 s timeout; one that
 * does not is timed out and retried whole, which every step survives (it is idempotent).
 */
export const SECRETS_MANAGER_RETRY: QuotaRetryOptions = { throttledAttempts: 20, transientAttempts: 3, baseDelayMs: 100, maxDelayMs: 1_000 };

class QuotaRetryToken implements RetryToken {
  constructor(
    private readonly retries: number,
    private readonly delayMs: number,
    /** Retries of each kind so far: a throttled write's retries do not use up a transient fault's few. */
    readonly throttledRetries: number,
    readonly transientRetries: number,
  ) {}

  getRetryCount(): number {
    return this.retries;
  }

  getRetryDelay(): number {
    return this.delayMs;
  }
}

/** See the module comment. The SDK sleeps for the delay the returned token carries. */
export class QuotaRetryStrategy implements RetryStrategyV2 {
  readonly mode = 'standard';
  private readonly random: () => number;

  constructor(private readonly options: QuotaRetryOptions) {
    if (!(options.throttledAttempts >= 1 && options.transientAttempts >= 1 && options.baseDelayMs > 0 && options.maxDelayMs >= options.baseDelayMs)) {
      throw new RangeError('QuotaRetryStrategy: attempts must be ≥ 1 and 0 < baseDelayMs ≤ maxDelayMs.');
    }
    this.random = options.random ?? Math.random;
  }

  /** The SDK's `maxAttempts` for its request header: the most attempts one call can make. */
  maxAttempts(): number {
    return this.options.throttledAttempts + this.options.transientAttempts - 1;
  }

  /** The scope (partition, long poll) does not matter: no state is kept per scope. */
  acquireInitialRetryToken(_retryTokenScope?: string): Promise<RetryToken> {
    return Promise.resolve(new QuotaRetryToken(0, 0, 0, 0));
  }

  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    const previous = token instanceof QuotaRetryToken ? token : new QuotaRetryToken(token.getRetryCount(), 0, token.getRetryCount(), token.getRetryCount());
    const throttled = errorInfo.errorType === 'THROTTLING';
    // Attempts of this kind so far, the first call included; each kind has its own limit.
    const attempts = 1 + (throttled ? previous.throttledRetries : previous.transientRetries);
    const limit = throttled ? this.options.throttledAttempts : errorInfo.errorType === 'TRANSIENT' ? this.options.transientAttempts : 0;
    // Rejecting makes the SDK throw the call's own error, as its own strategies do.
    if (attempts >= limit) return Promise.reject(new Error('No retry token available'));
    const ceiling = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempts - 1));
    let delayMs = Math.floor(this.random() * ceiling);
    // A Retry-After the service sent is a floor (bounded, so a bad hint cannot stall the step).
    if (errorInfo.retryAfterHint instanceof Date) {
      delayMs = Math.max(delayMs, Math.min(errorInfo.retryAfterHint.getTime() - Date.now(), this.options.maxDelayMs));
    }
    const retries = previous.getRetryCount() + 1;
    return Promise.resolve(
      throttled
        ? new QuotaRetryToken(retries, delayMs, previous.throttledRetries + 1, previous.transientRetries)
        : new QuotaRetryToken(retries, delayMs, previous.throttledRetries, previous.transientRetries + 1),
    );
  }

  recordSuccess(): void {
    // No retry quota to refill: see the module comment.
  }
}
