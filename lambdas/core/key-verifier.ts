/**
 * The verifier the auth layer runs on every request: a cached lookup by the key's hash, then
 * the state and scope rules; the offline format and checksum check runs on a cache miss,
 * before any read. Pure apart from the lookup and the clock it is given, so any Node service
 * can embed it.
 *
 * The warm path (a key seen within the TTL) costs one SHA-256 and a map read: only keys that
 * passed the format check when first seen enter the cache, and SHA-256 does not collide, so a
 * cached hash proves the presented key is well-formed. The cache is keyed by the hash, never
 * by the key: no plaintext key is kept in memory beyond the call.
 *
 * Revocation latency: a record is cached for at most `cacheTtlMs` after it was read, and
 * reads are strongly consistent, so a key revoked at time t is rejected by every container
 * from t + cacheTtlMs on. The state rule is applied at verification time with the clock, so a
 * RETIRING key stops working at its not-after exactly, cache or not.
 */
import { apiKeyProblem, digestApiKey, digestToHex, MAX_KEY_LENGTH } from './api-key';
import type { Clock } from './clock';
import { KeyState } from './key-state';
import type { Deadline } from './deadline';
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
  /**
   * Leading bits of the hash that make the cache's slot number (4-28). Only tests lower it,
   * to make slot collisions easy to produce.
   * @internal
   * @default 28
   */
  readonly slotBits?: number;
}

/** The verdict on a presented key. Never carries the key. */
export type KeyVerdict =
  { readonly accepted: true; readonly principal: Principal; readonly keyHash: string } | { readonly accepted: false; readonly reason: RejectionReason; readonly keyId?: string; readonly clientId?: string };

type AcceptedVerdict = Extract<KeyVerdict, { accepted: true }>;

/**
 * Module-local copies of the imports a cache hit uses. Bundled (as deployed) they change
 * nothing; compiled file by file to CommonJS by esbuild (tsx, which runs the bench), every
 * read of an imported binding is a generated getter whose `from[key]` load is megamorphic
 * (one getter function serves every export of every module): about 40 ns per read, a tenth
 * of the SHA-256 the hit is measured against.
 */
const digestOf: (key: string) => string = digestApiKey;
const MAX_PLAUSIBLE_LENGTH = MAX_KEY_LENGTH;

const NO_SCOPES: readonly string[] = Object.freeze([]);
const MALFORMED: KeyVerdict = Object.freeze({ accepted: false, reason: RejectionReason.MALFORMED });
const UNKNOWN: KeyVerdict = Object.freeze({ accepted: false, reason: RejectionReason.UNKNOWN });

/**
 * What one read of the store left: the record (undefined: no such key) and what follows from
 * it, computed once per read rather than per request. One class, so every entry has the same
 * shape and the hit path stays monomorphic.
 */
class CacheEntry {
  /** The full binary digest: a hit needs it to match, since the slot is only part of it. */
  readonly digest: string;
  /** The verdict whenever the rules accept the record: built and frozen once, returned by every hit. */
  readonly accepted: AcceptedVerdict | undefined;
  /** The record's grants: the principal's frozen copy, so the memo below cannot go stale. */
  readonly granted: readonly string[];
  /** The last frozen `requiredScopes` checked against `granted`, and the answer: routes reuse one frozen array each. */
  private memoRequired: readonly string[] | undefined = undefined;
  private memoCovered = false;
  /**
   * A frozen `requiredScopes` that an ACTIVE record's grants cover: a hit with this very array
   * returns `accepted` after one comparison. Sound because ACTIVE has no time rule (only the
   * entry's own expiry, checked first on every hit) and a frozen array cannot change; a RETIRING
   * record never gets one, so its not-after is judged at the clock on every hit. Like
   * `accepted`, it stands for the record as it was read: a change reaches the cache through a
   * new read once the TTL has run out, never by editing a record object in place.
   */
  fastRequired: readonly string[] | undefined = undefined;
  /**
   * `accepted` as a settled promise, set with `fastRequired`: verify() returns it on the fast
   * path instead of a new promise per call (the promise, not the await, was most of what the
   * awaited path paid over verifyCached). Sharing one is safe: a settled promise cannot change,
   * and it is frozen, so no caller can give it an own `then` that the next caller would run.
   */
  fastSettled: Promise<KeyVerdict> | undefined = undefined;

  constructor(
    readonly record: KeyRecord | undefined,
    digest: string,
    keyHash: string,
    readonly expiresAtMs: number,
  ) {
    this.digest = digest;
    this.accepted = record ? acceptedVerdict(record, keyHash) : undefined;
    this.granted = this.accepted?.principal.scopes ?? NO_SCOPES;
  }

  /** Whether the grants cover `required`; remembered for a frozen array, which cannot change under the memo. */
  covers(required: readonly string[]): boolean {
    if (required.length === 0) return true;
    if (required === this.memoRequired) return this.memoCovered;
    const covered = scopesCover(this.granted, required);
    if (Object.isFrozen(required)) {
      this.memoRequired = required;
      this.memoCovered = covered;
    }
    return covered;
  }
}

/** The accepted verdict for `record`, frozen because every cache hit returns the same object. */
function acceptedVerdict(record: KeyRecord, keyHash: string): AcceptedVerdict {
  const principal = principalOf(record);
  Object.freeze(principal.scopes);
  return Object.freeze({ accepted: true, principal: Object.freeze(principal), keyHash });
}

/** A malformed or misconfigured verifier option. */
export class InvalidVerifierOptionsError extends Error {
  override readonly name = 'InvalidVerifierOptions';
}

/** Verifies presented API keys with a short-lived in-memory cache of the records. */
export class KeyVerifier {
  /**
   * Entries by slot: the first 28 bits of the key's SHA-256 as a small integer. V8 finds a
   * small integer key several times faster than a fresh string, whose own hash it must compute
   * first; that lookup was the largest cost of a warm verification after the SHA-256. Every
   * hit compares the full digest, so two keys that share a slot only evict each other (an
   * extra read, never a wrong verdict). Insertion order is the eviction order.
   */
  private readonly cache = new Map<number, CacheEntry>();
  private readonly slotShift: number;
  private readonly clock: Clock;
  /** Reads in progress, by hex hash. */
  private readonly inFlight = new Map<string, Promise<CacheEntry>>();
  private readonly cacheTtlMs: number;
  private readonly negativeCacheTtlMs: number;
  private readonly maxEntries: number;
  /** Lookups that reached the store, for tests and metrics. */
  lookups = 0;

  constructor(private readonly options: KeyVerifierOptions) {
    this.clock = options.clock;
    this.cacheTtlMs = options.cacheTtlMs ?? MAX_CACHE_TTL_MS;
    // The default must not make a valid cacheTtlMs (e.g. 0: no caching) fail validation.
    this.negativeCacheTtlMs = options.negativeCacheTtlMs ?? Math.min(2_000, this.cacheTtlMs);
    this.maxEntries = options.maxEntries ?? 10_000;
    const slotBits = options.slotBits ?? 28;
    this.slotShift = 28 - slotBits;
    if (!(this.cacheTtlMs >= 0 && this.cacheTtlMs <= MAX_CACHE_TTL_MS)) {
      throw new InvalidVerifierOptionsError(`cacheTtlMs must be between 0 and ${MAX_CACHE_TTL_MS}; got ${this.cacheTtlMs}.`);
    }
    if (!(this.negativeCacheTtlMs >= 0 && this.negativeCacheTtlMs <= this.cacheTtlMs)) {
      throw new InvalidVerifierOptionsError(`negativeCacheTtlMs must be between 0 and cacheTtlMs; got ${this.negativeCacheTtlMs}.`);
    }
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries > 0)) {
      throw new InvalidVerifierOptionsError(`maxEntries must be a positive integer; got ${this.maxEntries}.`);
    }
    if (!(Number.isInteger(slotBits) && slotBits >= 4 && slotBits <= 28)) {
      throw new InvalidVerifierOptionsError(`slotBits must be an integer from 4 to 28; got ${slotBits}.`);
    }
  }

  /**
   * Verifies `presented` (any value: a header may be missing or odd) and, when given, that
   * the key grants every scope in `requiredScopes`.
   *
   * Not `async`: a cache hit settles the promise at once, with no await inside. Like an
   * async function, it never throws: a failure rejects the promise.
   *
   * `deadline` bounds a store read this call starts (a caller joining a read already in
   * flight shares that read and its deadline).
   */
  verify(presented: unknown, requiredScopes: readonly string[] = NO_SCOPES, deadline?: Deadline): Promise<KeyVerdict> {
    try {
      // Non-strings and oversized values are malformed before any hashing.
      if (!isPlausibleKey(presented)) return Promise.resolve(MALFORMED);
      const digest = digestOf(presented);
      const nowMs = this.clock.nowMs();
      const entry = this.freshEntry(digest, nowMs);
      if (entry === undefined) return this.verifyUncached(presented, digest, nowMs, requiredScopes, deadline);
      // verifyCached's fast path, answered with the entry's settled promise (see CacheEntry.fastSettled).
      if (requiredScopes === entry.fastRequired && entry.fastSettled !== undefined) return entry.fastSettled;
      return Promise.resolve(this.judge(entry, nowMs, requiredScopes));
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on a caught error as it was thrown
      return Promise.reject(error);
    }
  }

  /**
   * The verdict {@link verify} would give, when memory alone can give it: a value that is
   * not even key-sized, or a key whose record (or absence) is cached and fresh. Undefined when
   * a read is needed; then call {@link verify}. Synchronous, for callers on a hot path that
   * can skip a promise per request.
   */
  verifyCached(presented: unknown, requiredScopes: readonly string[] = NO_SCOPES): KeyVerdict | undefined {
    if (!isPlausibleKey(presented)) return MALFORMED;
    const nowMs = this.clock.nowMs();
    const entry = this.freshEntry(digestOf(presented), nowMs);
    if (entry === undefined) return undefined;
    // The common hit: an ACTIVE key asked for a route it was already found to cover.
    if (requiredScopes === entry.fastRequired && entry.accepted !== undefined) return entry.accepted;
    return this.judge(entry, nowMs, requiredScopes);
  }

  /** Forgets every cached record (e.g. after a local revocation). */
  clear(): void {
    this.cache.clear();
  }

  /**
   * The cache entry for `digest` when it is there and fresh at `nowMs`, else undefined. A
   * cached digest proves the key was well-formed when first seen.
   *
   * The digest is compared with `!==`, which stops at the first differing character, not in
   * constant time, on purpose: what it compares is SHA-256 of the presented key with SHA-256
   * of a key seen before, never the key itself. Timing could at most tell an attacker how many
   * leading bytes of the digest of a key they chose match a cached digest (which they cannot
   * steer without inverting SHA-256), and even a whole digest is worth nothing to them: the
   * store holds the same hash, and a request needs the key, its preimage. The slot lookup
   * itself is no more secret: a hit and a miss (a store read) differ by milliseconds.
   */
  private freshEntry(digest: string, nowMs: number): CacheEntry | undefined {
    const entry = this.cache.get(slotOf(digest) >>> this.slotShift);
    return entry?.digest === digest && entry.expiresAtMs > nowMs ? entry : undefined;
  }

  /** A cache miss: the offline format check (a malformed key never reaches the store), then a read. */
  private async verifyUncached(presented: string, digest: string, nowMs: number, requiredScopes: readonly string[], deadline: Deadline | undefined): Promise<KeyVerdict> {
    if (apiKeyProblem(presented, this.options.keyPrefix) !== undefined) return MALFORMED;
    const entry = await this.read(digest, nowMs, deadline);
    return this.judge(entry, this.clock.nowMs(), requiredScopes);
  }

  /** The state rule at `nowMs` (every time: a RETIRING key's not-after is not cached away), then the scope rule. */
  private judge(entry: CacheEntry, nowMs: number, requiredScopes: readonly string[]): KeyVerdict {
    const record = entry.record;
    if (record === undefined || entry.accepted === undefined) return UNKNOWN;
    // An ACTIVE key has no time rule, so skip building a verdict to throw away; and remember a
    // frozen route array it covers, so that the next hit with it is one comparison.
    if (record.state === KeyState.ACTIVE && entry.covers(requiredScopes)) {
      if (Object.isFrozen(requiredScopes)) {
        entry.fastRequired = requiredScopes;
        entry.fastSettled ??= Object.freeze(Promise.resolve<KeyVerdict>(entry.accepted));
      }
      return entry.accepted;
    }
    const verdict = judgeRecord(record, nowMs);
    if (!verdict.accepted) return { accepted: false, reason: verdict.reason, keyId: record.keyId, clientId: record.clientId };
    if (!entry.covers(requiredScopes)) {
      return { accepted: false, reason: RejectionReason.INSUFFICIENT_SCOPE, keyId: record.keyId, clientId: record.clientId };
    }
    return entry.accepted;
  }

  private read(digest: string, nowMs: number, deadline: Deadline | undefined): Promise<CacheEntry> {
    const slot = slotOf(digest) >>> this.slotShift;
    // An expired entry (or another key's, in a shared slot) goes now, so the new one is inserted last: eviction is oldest first.
    const stale = this.cache.get(slot);
    if (stale !== undefined && (stale.digest !== digest || stale.expiresAtMs <= nowMs)) this.cache.delete(slot);
    const keyHash = digestToHex(digest);
    // Concurrent requests with the same key share one read. The entry's life counts from
    // when that read started, not from when a later caller joined it: otherwise a joiner
    // would keep a record cached for longer than cacheTtlMs after it was read.
    let pending = this.inFlight.get(keyHash);
    if (!pending) {
      this.lookups += 1;
      const startedAtMs = nowMs;
      pending = this.options
        .lookup(keyHash, deadline)
        .then((record) => this.remember(slot, digest, keyHash, record, startedAtMs))
        .finally(() => this.inFlight.delete(keyHash));
      this.inFlight.set(keyHash, pending);
    }
    return pending;
  }

  private remember(slot: number, digest: string, keyHash: string, record: KeyRecord | undefined, readAtMs: number): CacheEntry {
    const ttl = record ? this.cacheTtlMs : this.negativeCacheTtlMs;
    const entry = new CacheEntry(record, digest, keyHash, readAtMs + ttl);
    if (ttl === 0) return entry;
    if (this.cache.size >= this.maxEntries && !this.cache.has(slot)) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(slot, entry);
    return entry;
  }
}

/** The first 28 bits of a binary digest (a V8 small integer). */
function slotOf(digest: string): number {
  return (digest.charCodeAt(0) << 20) | (digest.charCodeAt(1) << 12) | (digest.charCodeAt(2) << 4) | (digest.charCodeAt(3) >>> 4);
}

/** Whether `value` could be a key at all: a non-empty string no longer than any key. Checked before hashing. */
function isPlausibleKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_PLAUSIBLE_LENGTH;
}
