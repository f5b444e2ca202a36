/**
 * The verifier the auth layer runs on every request: the offline format and checksum check,
 * then a cached lookup by hash, then the state and scope rules. Pure apart from the lookup
 * and the clock it is given, so any Node service can embed it.
 *
 * Revocation latency: a record is cached for at most `cacheTtlMs` after it was read, and
 * reads are strongly consistent, so a key revoked at time t is rejected by every container
 * from t + cacheTtlMs on. The state rule is applied at verification time with the clock, so a
 * RETIRING key stops working at its not-after exactly, cache or not.
 */
import { hashApiKey, parseApiKey } from './api-key';
import type { Clock } from './clock';
import { MalformedKeyError } from './errors';
import type { KeyRecord } from './model';
import { judgeRecord, principalOf, RejectionReason, scopesCover, type KeyLookup, type Principal } from './verification';

/** Hard ceiling on the positive cache TTL: the revocation-latency bound KeyRoll documents. */
export const MAX_CACHE_TTL_MS = 10_000;

/** Tuning of a {@link KeyVerifier}. */
export interface KeyVerifierOptions {
  /** Reads a key record by hash (strongly consistent, so the cache bound is the whole bound). */
  readonly lookup: KeyLookup;
  readonly clock: Clock;
  /** Only keys with this prefix are accepted (others are malformed, with no lookup). */
  readonly keyPrefix?: string;
  /**
   * How long a found record is reused before it is read again; the revocation-latency bound.
   * @default 10_000 (the maximum; 0 disables caching)
   */
  readonly cacheTtlMs?: number;
  /**
   * How long "no such key" is remembered, so a flood of made-up keys with valid checksums
   * costs one read per key per interval.
   * @default 2_000, or cacheTtlMs when that is shorter
   */
  readonly negativeCacheTtlMs?: number;
  /**
   * Entries kept at most; the oldest are dropped first.
   * @default 10_000
   */
  readonly maxEntries?: number;
}

/** The verdict on a presented key. Never carries the key. */
export type KeyVerdict =
  | { readonly accepted: true; readonly principal: Principal; readonly keyHash: string }
  | { readonly accepted: false; readonly reason: RejectionReason; readonly keyId?: string; readonly clientId?: string };

interface CacheEntry {
  readonly record: KeyRecord | undefined;
  readonly expiresAtMs: number;
}

/** A malformed or misconfigured verifier option. */
export class InvalidVerifierOptionsError extends Error {
  override readonly name = 'InvalidVerifierOptions';
}

/** Verifies presented API keys with a short-lived in-memory cache of the records. */
export class KeyVerifier {
  private readonly cache = new Map<string, CacheEntry>();
  /** Reads in progress, with the instant each started: what they return is at most that old. */
  private readonly inFlight = new Map<string, { readonly record: Promise<KeyRecord | undefined>; readonly startedAtMs: number }>();
  private readonly cacheTtlMs: number;
  private readonly negativeCacheTtlMs: number;
  private readonly maxEntries: number;
  /** Lookups that reached the store, for tests and metrics. */
  lookups = 0;

  constructor(private readonly options: KeyVerifierOptions) {
    this.cacheTtlMs = options.cacheTtlMs ?? MAX_CACHE_TTL_MS;
    // The default must not make a valid cacheTtlMs (e.g. 0: no caching) fail validation.
    this.negativeCacheTtlMs = options.negativeCacheTtlMs ?? Math.min(2_000, this.cacheTtlMs);
    this.maxEntries = options.maxEntries ?? 10_000;
    if (!(this.cacheTtlMs >= 0 && this.cacheTtlMs <= MAX_CACHE_TTL_MS)) {
      throw new InvalidVerifierOptionsError(`cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS}; got ${this.cacheTtlMs}.`);
    }
    if (!(this.negativeCacheTtlMs >= 0 && this.negativeCacheTtlMs <= this.cacheTtlMs)) {
      throw new InvalidVerifierOptionsError(`negativeCacheTtlMs must be between 0 and cacheTtlMs; got ${this.negativeCacheTtlMs}.`);
    }
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries > 0)) {
      throw new InvalidVerifierOptionsError(`maxEntries must be a positive integer; got ${this.maxEntries}.`);
    }
  }

  /**
   * Verifies `presented` (any value: a header may be missing or odd) and, when given, that
   * the key grants every scope in `requiredScopes`.
   */
  async verify(presented: unknown, requiredScopes: readonly string[] = []): Promise<KeyVerdict> {
    let keyHash: string;
    try {
      keyHash = hashApiKey(parseApiKey(presented, this.options.keyPrefix).key);
    } catch (error) {
      if (error instanceof MalformedKeyError) return { accepted: false, reason: RejectionReason.MALFORMED };
      throw error;
    }
    const record = await this.recordFor(keyHash);
    if (!record) return { accepted: false, reason: RejectionReason.UNKNOWN };
    const verdict = judgeRecord(record, this.options.clock.nowMs());
    if (!verdict.accepted) return { accepted: false, reason: verdict.reason, keyId: record.keyId, clientId: record.clientId };
    if (!scopesCover(record.scopes ?? [], requiredScopes)) {
      return { accepted: false, reason: RejectionReason.INSUFFICIENT_SCOPE, keyId: record.keyId, clientId: record.clientId };
    }
    return { accepted: true, principal: principalOf(record), keyHash };
  }

  /** Forgets every cached record (e.g. after a local revocation). */
  clear(): void {
    this.cache.clear();
  }

  private async recordFor(keyHash: string): Promise<KeyRecord | undefined> {
    const now = this.options.clock.nowMs();
    const cached = this.cache.get(keyHash);
    if (cached && cached.expiresAtMs > now) return cached.record;
    if (cached) this.cache.delete(keyHash);
    // Concurrent requests with the same key share one read. The entry's life counts from
    // when that read started, not from when a later caller joined it: otherwise a joiner
    // would keep a record cached for longer than cacheTtlMs after it was read.
    let pending = this.inFlight.get(keyHash);
    if (!pending) {
      this.lookups += 1;
      pending = { record: this.options.lookup(keyHash).finally(() => this.inFlight.delete(keyHash)), startedAtMs: now };
      this.inFlight.set(keyHash, pending);
    }
    const record = await pending.record;
    this.remember(keyHash, record, pending.startedAtMs);
    return record;
  }

  private remember(keyHash: string, record: KeyRecord | undefined, readAtMs: number): void {
    const ttl = record ? this.cacheTtlMs : this.negativeCacheTtlMs;
    if (ttl === 0) return;
    if (this.cache.size >= this.maxEntries && !this.cache.has(keyHash)) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(keyHash, { record, expiresAtMs: readAtMs + ttl });
  }
}
