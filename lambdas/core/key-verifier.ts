/**
 * The verifier the auth layer runs on every request: a cached lookup by the key's hash, then
 * the state and scope rules; the offline format and checksum check runs on a cache miss,
 * before any read. Pure apart from the lookup and the clock it is given, so any Node service
 * can embed it.
 *
 * Only keys that passed the format check when first seen enter the cache, and SHA-256 does not
 * collide, so a cached hash proves the presented key is well-formed: a hit skips the parse.
 * The cache is keyed by the hash, never by the key: no plaintext key is kept in memory beyond
 * the call.
 *
 * Revocation latency: a record is cached for at most `cacheTtlMs` after its read started, and
 * reads are strongly consistent, so a key revoked at time t is rejected by every container
 * from t + cacheTtlMs on. The state rule is applied at verification time with the clock, so a
 * RETIRING key stops working at its not-after exactly, cache or not.
 */
import { apiKeyProblem, digestApiKey, digestToHex, MAX_KEY_LENGTH } from './api-key';
import type { Clock } from './clock';
import type { Deadline } from './deadline';
import { KeyRollError } from './errors';
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
   * How long a found record is reused, counted from the start of its read; the
   * revocation-latency bound.
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
   * Entries kept at most; the one read longest ago is dropped first.
   * @default 10_000
   */
  readonly maxEntries?: number;
}

/** The verdict on a presented key. Never carries the key. */
export type KeyVerdict =
  { readonly accepted: true; readonly principal: Principal; readonly keyHash: string } | { readonly accepted: false; readonly reason: RejectionReason; readonly keyId?: string; readonly clientId?: string };

type AcceptedVerdict = Extract<KeyVerdict, { accepted: true }>;

const NO_SCOPES: readonly string[] = Object.freeze([]);
const MALFORMED: KeyVerdict = Object.freeze({ accepted: false, reason: RejectionReason.MALFORMED });
const UNKNOWN: KeyVerdict = Object.freeze({ accepted: false, reason: RejectionReason.UNKNOWN });

/** What one read of the store left: nothing (no such key), or the record and its verdict when the rules accept it. */
interface Found {
  readonly record: KeyRecord;
  readonly accepted: AcceptedVerdict;
}
type CacheEntry = (Found | { readonly record: undefined }) & {
  /** When the read started plus the TTL: the entry answers while the clock is before it. */
  readonly expiresAtMs: number;
};

/** The accepted verdict for `record`, frozen because every cache hit returns the same object. */
function acceptedVerdict(record: KeyRecord, keyHash: string): AcceptedVerdict {
  const principal = principalOf(record);
  Object.freeze(principal.scopes);
  return Object.freeze({ accepted: true, principal: Object.freeze(principal), keyHash });
}

/** A malformed or misconfigured verifier option. */
export class InvalidVerifierOptionsError extends KeyRollError {
  override readonly name = 'InvalidVerifierOptions';
}

/** Verifies presented API keys with a short-lived in-memory cache of the records. */
export class KeyVerifier {
  /**
   * Entries by the key's binary SHA-256 digest, in the order their reads ended: when full, the
   * entry read longest ago is dropped (a hit does not reorder). A Map rather than lru-cache,
   * whose constructor pre-allocates `max` slots (1.5 ms for 10,000, at every cold start and on
   * every clear()) and whose TTL semantics differ from the bound here (bench/README.md, "Results
   * (issue 17)").
   */
  private readonly cache = new Map<string, CacheEntry>();
  /** Reads in flight by digest: concurrent misses of one key share one read. */
  private readonly inFlight = new Map<string, Promise<CacheEntry>>();
  /** Bumped by clear(): a read that started before it answers its callers but is not cached. */
  private generation = 0;
  private readonly maxEntries: number;
  private readonly clock: Clock;
  private readonly lookup: KeyLookup;
  private readonly keyPrefix: string | undefined;
  private readonly cacheTtlMs: number;
  private readonly negativeCacheTtlMs: number;
  /** Lookups that reached the store, for tests and metrics. */
  lookups = 0;

  constructor(options: KeyVerifierOptions) {
    this.clock = options.clock;
    this.lookup = options.lookup;
    this.keyPrefix = options.keyPrefix;
    this.cacheTtlMs = options.cacheTtlMs ?? MAX_CACHE_TTL_MS;
    // The default must not make a valid cacheTtlMs (e.g. 0: no caching) fail validation.
    this.negativeCacheTtlMs = options.negativeCacheTtlMs ?? Math.min(2_000, this.cacheTtlMs);
    const maxEntries = options.maxEntries ?? 10_000;
    if (!(this.cacheTtlMs >= 0 && this.cacheTtlMs <= MAX_CACHE_TTL_MS)) {
      throw new InvalidVerifierOptionsError(`cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS}; got ${this.cacheTtlMs}.`);
    }
    if (!(this.negativeCacheTtlMs >= 0 && this.negativeCacheTtlMs <= this.cacheTtlMs)) {
      throw new InvalidVerifierOptionsError(`negativeCacheTtlMs must be between 0 and cacheTtlMs; got ${this.negativeCacheTtlMs}.`);
    }
    if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
      throw new InvalidVerifierOptionsError(`maxEntries must be a positive integer; got ${maxEntries}.`);
    }
    this.maxEntries = maxEntries;
  }

  /**
   * Verifies `presented` (any value: a header may be missing or odd) and, when given, that
   * the key grants every scope in `requiredScopes`. Never throws: a failure rejects the promise.
   *
   * `deadline` bounds a store read this call starts (a caller joining a read already in
   * flight shares that read and its deadline).
   */
  async verify(presented: unknown, requiredScopes: readonly string[] = NO_SCOPES, deadline?: Deadline): Promise<KeyVerdict> {
    // Non-strings and oversized values are malformed before any hashing.
    if (!isPlausibleKey(presented)) return MALFORMED;
    const digest = digestApiKey(presented);
    const nowMs = this.clock.nowMs();
    const cached = this.freshEntry(digest, nowMs);
    if (cached !== undefined) return judge(cached, nowMs, requiredScopes);
    // A miss: the offline format check first, so a malformed key never reaches the store.
    if (apiKeyProblem(presented, this.keyPrefix) !== undefined) return MALFORMED;
    const entry = await this.sharedRead(digest, nowMs, deadline);
    return judge(entry, this.clock.nowMs(), requiredScopes);
  }

  /**
   * The verdict {@link verify} would give, when memory alone can give it: a value that is
   * not even key-sized, or a key whose record (or absence) is cached and fresh. Undefined when
   * a read is needed; then call {@link verify}. Synchronous, for callers that can skip a
   * promise per request.
   */
  verifyCached(presented: unknown, requiredScopes: readonly string[] = NO_SCOPES): KeyVerdict | undefined {
    if (!isPlausibleKey(presented)) return MALFORMED;
    const nowMs = this.clock.nowMs();
    const entry = this.freshEntry(digestApiKey(presented), nowMs);
    return entry === undefined ? undefined : judge(entry, nowMs, requiredScopes);
  }

  /** Forgets every cached record (e.g. after a local revocation). */
  clear(): void {
    this.generation += 1;
    this.cache.clear();
    this.inFlight.clear();
  }

  /**
   * The entry for `digest` when it is cached and fresh at `nowMs`. The lookup compares digests
   * in no constant time, on purpose: they are SHA-256 of keys, and knowing a digest is worth
   * nothing without its preimage (the store holds the same hash; a request needs the key).
   */
  private freshEntry(digest: string, nowMs: number): CacheEntry | undefined {
    const entry = this.cache.get(digest);
    return entry !== undefined && entry.expiresAtMs > nowMs ? entry : undefined;
  }

  /**
   * The read in flight for `digest`, or a new one: every caller that misses while it is in
   * flight shares it (and its deadline). Its entry is cached before any caller resumes.
   */
  private sharedRead(digest: string, startedAtMs: number, deadline: Deadline | undefined): Promise<CacheEntry> {
    const joined = this.inFlight.get(digest);
    if (joined !== undefined) return joined;
    const generation = this.generation;
    const reading = this.read(digest, startedAtMs, deadline);
    this.inFlight.set(digest, reading);
    const done = () => {
      if (this.inFlight.get(digest) === reading) this.inFlight.delete(digest);
    };
    reading.then((entry) => {
      done();
      // Only an entry that can still answer is kept (not one of a TTL of 0, nor a read slower than its TTL): else it would push out one that can.
      if (generation === this.generation && entry.expiresAtMs > this.clock.nowMs()) this.remember(digest, entry);
    }, done);
    return reading;
  }

  /** Caches `entry` as the newest; when full, drops the entry read longest ago. */
  private remember(digest: string, entry: CacheEntry): void {
    this.cache.delete(digest);
    this.cache.set(digest, entry);
    if (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  /** One read of the store. */
  private async read(digest: string, startedAtMs: number, deadline: Deadline | undefined): Promise<CacheEntry> {
    this.lookups += 1;
    const keyHash = digestToHex(digest);
    const record = await this.lookup(keyHash, deadline);
    // The entry's life counts from when the read started, not from when it ended or a later
    // caller joined it: otherwise a record could be served longer than cacheTtlMs after it was read.
    if (record === undefined) return { record, expiresAtMs: startedAtMs + this.negativeCacheTtlMs };
    return { record, accepted: acceptedVerdict(record, keyHash), expiresAtMs: startedAtMs + this.cacheTtlMs };
  }
}

/** The state rule at `nowMs` (every time: a RETIRING key's not-after is not cached away), then the scope rule. */
function judge(entry: CacheEntry, nowMs: number, requiredScopes: readonly string[]): KeyVerdict {
  if (entry.record === undefined) return UNKNOWN;
  const { record, accepted } = entry;
  const verdict = judgeRecord(record, nowMs);
  if (!verdict.accepted) return { accepted: false, reason: verdict.reason, keyId: record.keyId, clientId: record.clientId };
  if (!scopesCover(accepted.principal.scopes, requiredScopes)) {
    return { accepted: false, reason: RejectionReason.INSUFFICIENT_SCOPE, keyId: record.keyId, clientId: record.clientId };
  }
  return accepted;
}

/** Whether `value` could be a key at all: a non-empty string no longer than any key. Checked before hashing. */
function isPlausibleKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_KEY_LENGTH;
}
