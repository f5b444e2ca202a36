/**
 * The key provider: what an API consumer's process asks for the key to send. It reads the
 * current key from a {@link KeySource} (Secrets Manager's AWSCURRENT, an environment variable,
 * a file, or a source of the consumer's own), caches it, and refreshes it
 *
 * - when the cached key is older than `refreshIntervalMs` (on the next `getKey()`),
 * - in the background on a timer (`start()` / `stop()`),
 * - when told: a key.rotated / key.emergency notification, or a 401/403 from the API
 *   (see notifications.ts and authenticated-fetch.ts), through `refresh(reason)`.
 *
 * Concurrent refreshes share one read of the source (single flight). A failed refresh
 * keeps serving the last key that was read and reports through the logger. The key itself
 * appears only in the value `getKey()` returns: never in a log line, an error, an event
 * passed to `onChange` listeners, or the provider's own inspectable state.
 */
import { systemClock, type Clock } from '../lambdas/core/clock';
import { InvalidClientOptionsError, KeyUnavailableError, KeyUnavailableReason } from './errors';
import type { KeyRead, KeySource } from './key-source';
import { silentLogger, type ClientLogger } from './logger';
import { redactKeys } from './redact';
import { systemScheduler, type Scheduler } from './scheduler';

/** How long a read key is used before it is read again, by default: 5 minutes. */
export const DEFAULT_REFRESH_INTERVAL_MS = 5 * 60_000;
/** How long a failed read holds off the next read from `getKey()` and the timer, by default. */
export const DEFAULT_RETRY_AFTER_FAILURE_MS = 10_000;

/** Why a refresh ran; passed to listeners and logs. */
export const RefreshReason = {
  /** First read: nothing was cached. */
  INITIAL: 'initial',
  /** `getKey()` found the cached key older than `refreshIntervalMs`. */
  STALE: 'stale',
  /** The background timer. */
  TIMER: 'timer',
  /** A key.rotated (or catch-up key.expiring / key.retired) notification for this client. */
  NOTIFICATION: 'notification',
  /** A key.emergency notification: the previous key is already revoked. */
  EMERGENCY: 'emergency',
  /** The API refused the key (401/403). */
  AUTH_FAILURE: 'auth-failure',
  /** The application asked. */
  MANUAL: 'manual',
} as const;
export type RefreshReason = (typeof RefreshReason)[keyof typeof RefreshReason];

/** How often and how a {@link KeyProvider} reads, whatever its source. */
export interface KeyProviderTiming {
  /**
   * A cached key older than this is read again by the next `getKey()`; also the period of
   * the background timer. Keep it well under the rotation overlap window.
   * @default 300_000 (5 minutes)
   */
  readonly refreshIntervalMs?: number;
  /**
   * After a failed read, `getKey()` keeps serving the cached key without reading again for
   * this long, and the timer retries after this long. Capped at `refreshIntervalMs`.
   * Does not apply while nothing is cached, nor to explicit `refresh()` calls.
   * @default 10_000
   */
  readonly retryAfterFailureMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default timers that do not keep the process alive */
  readonly scheduler?: Scheduler;
  /** Where refresh failures (warn) and key changes (info) are reported. @default silent */
  readonly logger?: ClientLogger;
}

/** Options of a {@link KeyProvider}. */
export interface KeyProviderOptions extends KeyProviderTiming {
  /** Where the key is read from: `new EnvKeySource(…)`, `new FileKeySource(…)`, `new SecretsManagerKeySource(…)` (`@keyroll/client/secrets-manager`), or your own. */
  readonly source: KeySource;
  /**
   * The client's id: what the notification helpers filter on.
   * @default the source's `clientId`, if it has one
   */
  readonly clientId?: string;
}

/** A key change, as `onChange` listeners see it: key ids only. */
export interface KeyChange {
  /** Undefined on the first read. */
  readonly previousKeyId: string | undefined;
  readonly keyId: string;
  readonly reason: RefreshReason;
}

/** What a refresh found. Carries no key material. */
export interface RefreshResult {
  /** The key id now cached. */
  readonly keyId: string;
  /** The key id cached when the refresh was asked for. */
  readonly previousKeyId: string | undefined;
  /** Whether the cached key differs from the one cached when the refresh was asked for. */
  readonly changed: boolean;
}

/** Options of one refresh. */
export interface RefreshOptions {
  /**
   * The key id the caller expects to become current (a notification's `currentKeyId`). If a
   * shared read in flight, possibly started before the rotation finished, returns another
   * key, the provider reads once more.
   */
  readonly expectedKeyId?: string;
}

/** What the fetch wrapper and the notification helpers need from a provider. */
export interface ApiKeySource {
  /** The current plaintext key. */
  getKey(): Promise<string>;
  /** Forces a read of the current key (shared with any read in flight). */
  refresh(reason: RefreshReason, options?: RefreshOptions): Promise<RefreshResult>;
  /** The id of the cached key, without any read. */
  currentKeyId(): string | undefined;
}

interface CachedKey extends KeyRead {
  /** When the read that returned it started: the value is at most this old. */
  readonly readAtMs: number;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidClientOptionsError(`${name} must be a positive, finite number of milliseconds; got ${value}.`);
  }
  return value;
}

/** By error name, not class: a source may come from another copy of this package or from the AWS SDK. */
function classify(error: unknown): KeyUnavailableReason {
  const name = error instanceof Error ? error.name : '';
  if (name === 'MalformedKey') return KeyUnavailableReason.MALFORMED;
  if (name === 'ResourceNotFoundException' || name === 'KeyNotFound') return KeyUnavailableReason.NOT_FOUND;
  if (name === 'AccessDeniedException' || name === 'DecryptionFailure' || name === 'UnrecognizedClientException' || name === 'PickupUnauthorized') {
    return KeyUnavailableReason.ACCESS_DENIED;
  }
  return KeyUnavailableReason.REQUEST_FAILED;
}

/**
 * Caches and refreshes the current API key of one KeyRoll client. Create one per process and
 * share it: the cache, the single in-flight read and the timer live in it.
 *
 * @example
 * const keys = new KeyProvider({ clientId: 'acme', source: new EnvKeySource('ACME_API_KEY') });
 * keys.start();
 * const api = createAuthenticatedFetch(keys);
 * await api('https://api.example.com/orders');
 */
export class KeyProvider implements ApiKeySource {
  /** The client id given at construction or known to the source, if any. */
  readonly clientId: string | undefined;
  /** Where the key is read from. */
  readonly source: KeySource;
  readonly refreshIntervalMs: number;
  readonly retryAfterFailureMs: number;

  // Private fields (#): invisible to util.inspect, console.log and JSON.stringify, so logging
  // the provider object cannot print the key.
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #logger: ClientLogger;
  readonly #listeners = new Set<(change: KeyChange) => void>();
  #cached: CachedKey | undefined;
  #inFlight: Promise<CachedKey> | undefined;
  #lastFailureAtMs: number | undefined;
  #running = false;
  /** Bumped by start() and stop(), so a tick of an earlier run never schedules another. */
  #generation = 0;
  #timer: unknown;

  constructor(options: KeyProviderOptions) {
    if (options.clientId?.length === 0) {
      throw new InvalidClientOptionsError('clientId must not be empty; got an empty string.');
    }
    if (typeof options.source?.read !== 'function') {
      throw new InvalidClientOptionsError('A KeyProvider needs a source (a KeySource with read()); got none.');
    }
    this.source = options.source;
    this.clientId = options.clientId ?? options.source.clientId;
    this.refreshIntervalMs = positive('refreshIntervalMs', options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS);
    this.retryAfterFailureMs = Math.min(positive('retryAfterFailureMs', options.retryAfterFailureMs ?? DEFAULT_RETRY_AFTER_FAILURE_MS), this.refreshIntervalMs);
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? systemScheduler;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * The current key: the cached one while it is younger than `refreshIntervalMs`, else a
   * fresh read. If that read fails, the last key read is returned (and the failure logged).
   * @throws KeyUnavailableError only when no key has ever been read.
   */
  async getKey(): Promise<string> {
    const cached = this.#cached;
    if (!cached) return (await this.#read(RefreshReason.INITIAL)).apiKey;
    const now = this.#clock.nowMs();
    if (now - cached.readAtMs < this.refreshIntervalMs) return cached.apiKey;
    if (this.#lastFailureAtMs !== undefined && now - this.#lastFailureAtMs < this.retryAfterFailureMs) return cached.apiKey;
    try {
      return (await this.#read(RefreshReason.STALE)).apiKey;
    } catch {
      // Already reported by #read; keep serving the last good key.
      return (this.#cached ?? cached).apiKey;
    }
  }

  /**
   * Reads the current key now. Callers that arrive while a read is in flight share it.
   * @throws KeyUnavailableError when the read fails; the cached key (if any) stays in use.
   */
  async refresh(reason: RefreshReason = RefreshReason.MANUAL, options: RefreshOptions = {}): Promise<RefreshResult> {
    const before = this.#cached;
    let latest = await this.#read(reason);
    if (options.expectedKeyId !== undefined && latest.keyId !== options.expectedKeyId) {
      latest = await this.#read(reason);
    }
    return { keyId: latest.keyId, previousKeyId: before?.keyId, changed: before?.apiKey !== latest.apiKey };
  }

  /** The id of the cached key (no read), or undefined before the first successful read. */
  currentKeyId(): string | undefined {
    return this.#cached?.keyId;
  }

  /**
   * Calls `listener` whenever a read returns a different key than the one cached (including
   * the first read). Listener errors are logged and otherwise ignored.
   * @returns a function that removes the listener
   */
  onChange(listener: (change: KeyChange) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Starts refreshing in the background: every `refreshIntervalMs` after the last read
   * (immediately when nothing is cached yet), and `retryAfterFailureMs` after a failed one.
   * The timer does not keep the process alive. Calling it again while running does nothing.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#generation += 1;
    const cached = this.#cached;
    this.#schedule(cached ? Math.max(0, cached.readAtMs + this.refreshIntervalMs - this.#clock.nowMs()) : 0);
  }

  /** Stops the background refresh. The cache stays usable. */
  stop(): void {
    this.#running = false;
    this.#generation += 1;
    if (this.#timer !== undefined) this.#scheduler.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Whether the background refresh is running. */
  get running(): boolean {
    return this.#running;
  }

  #schedule(delayMs: number): void {
    const generation = this.#generation;
    this.#timer = this.#scheduler.setTimeout(() => {
      this.#timer = undefined;
      void this.#tick(generation);
    }, delayMs);
  }

  async #tick(generation: number): Promise<void> {
    if (generation !== this.#generation) return;
    const cached = this.#cached;
    const ageMs = cached ? this.#clock.nowMs() - cached.readAtMs : Number.POSITIVE_INFINITY;
    let nextMs: number;
    if (ageMs < this.refreshIntervalMs) {
      // Something else (a notification, a 401, getKey) read recently: wait out the remainder.
      nextMs = this.refreshIntervalMs - ageMs;
    } else {
      try {
        await this.#read(RefreshReason.TIMER);
        nextMs = this.refreshIntervalMs;
      } catch {
        nextMs = this.retryAfterFailureMs;
      }
    }
    if (generation === this.#generation) this.#schedule(nextMs);
  }

  /** One read of the source for all concurrent callers. */
  #read(reason: RefreshReason): Promise<CachedKey> {
    if (this.#inFlight) return this.#inFlight;
    const read = this.#readNow(reason).finally(() => {
      if (this.#inFlight === read) this.#inFlight = undefined;
    });
    this.#inFlight = read;
    return read;
  }

  async #readNow(reason: RefreshReason): Promise<CachedKey> {
    const startedAtMs = this.#clock.nowMs();
    let value: KeyRead;
    try {
      // Sources parse with MalformedKeyError, whose message never echoes the document or the key.
      value = await this.source.read();
    } catch (error) {
      throw this.#failed(reason, classify(error), error);
    }
    const previous = this.#cached;
    const next: CachedKey = { apiKey: value.apiKey, keyId: value.keyId, versionId: value.versionId, readAtMs: startedAtMs };
    this.#cached = next;
    this.#lastFailureAtMs = undefined;
    if (previous?.apiKey !== next.apiKey) {
      const change: KeyChange = { previousKeyId: previous?.keyId, keyId: next.keyId, reason };
      this.#logger.info?.(previous ? `KeyRoll: key ${next.keyId} is now current (was ${previous.keyId}).` : `KeyRoll: using key ${next.keyId}.`, {
        source: this.source.id,
        versionId: next.versionId,
        ...change,
      });
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch (error) {
          this.#logger.warn('KeyRoll: a key-change listener threw; ignored.', this.#describe(error));
        }
      }
    }
    return next;
  }

  #failed(reason: RefreshReason, why: KeyUnavailableReason, error: unknown): KeyUnavailableError {
    this.#lastFailureAtMs = this.#clock.nowMs();
    const causeName = error instanceof Error ? error.name : 'UnknownError';
    const failure = new KeyUnavailableError(this.source, why, causeName, { cause: error });
    const cached = this.#cached;
    const from = `${this.source.kind} ${this.source.id}`;
    this.#logger.warn(
      cached
        ? `KeyRoll: refreshing the key from ${from} failed (${why}: ${causeName}); still using key ${cached.keyId}.`
        : `KeyRoll: reading the key from ${from} failed (${why}: ${causeName}); no key is available yet.`,
      { source: this.source.id, reason, failure: why, servingKeyId: cached?.keyId, ...this.#describe(error) },
    );
    return failure;
  }

  /** An error as log attributes: its name and a redacted message. */
  #describe(error: unknown): { errorName: string; errorMessage: string } {
    if (!(error instanceof Error)) return { errorName: 'UnknownError', errorMessage: 'A non-Error value was thrown.' };
    return { errorName: error.name, errorMessage: redactKeys(error.message, [this.#cached?.apiKey]) };
  }
}
