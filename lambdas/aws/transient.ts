/**
 * Classifies AWS SDK errors: throttling and transient service faults are re-thrown as
 * {@link TransientAwsError}, the one name the state machine retries with backoff and
 * jitter. Anything else keeps its own name and is not retried.
 */
import { KeyRollError } from '../core/errors';

const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'TransactionConflictException',
  'InternalServiceError',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

/** A throttling or transient fault: safe and useful to retry. */
export class TransientAwsError extends KeyRollError {
  override readonly name = 'TransientError';
}

/** True for SDK errors worth retrying. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = (error as { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string }) ?? {};
  if (meta.$retryable) return true;
  if (TRANSIENT_NAMES.has(error.name) || (meta.code !== undefined && TRANSIENT_NAMES.has(meta.code))) return true;
  const status = meta.$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/** Runs `operation`, re-throwing transient SDK failures as {@link TransientAwsError}. */
export async function classifyTransient<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (isTransient(error)) {
      throw new TransientAwsError(`Transient AWS failure (${(error as Error).name}); safe to retry.`, { cause: error });
    }
    throw error;
  }
}
