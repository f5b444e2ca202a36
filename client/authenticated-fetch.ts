/**
 * A `fetch` that sends the current KeyRoll key and survives a rotation it has not heard of
 * yet: on a 401/403 it refreshes the key once and, if the key actually changed, retries the
 * request once with the new key. Never more than one retry per call; a request whose body
 * cannot be sent twice (a stream) is not retried, and its refusal is returned as is.
 */
import { systemClock, type Clock } from '../lambdas/core/clock';
import { InvalidClientOptionsError } from './errors';
import { RefreshReason, type ApiKeySource } from './key-provider';

/** The `fetch` signature the wrapper accepts and returns (global `fetch` fits). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** Where the key goes: `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export const KeyHeader = {
  AUTHORIZATION: 'authorization',
  X_API_KEY: 'x-api-key',
} as const;
export type KeyHeader = (typeof KeyHeader)[keyof typeof KeyHeader];

/** Options of {@link createAuthenticatedFetch}. */
export interface AuthenticatedFetchOptions {
  /** @default globalThis.fetch */
  readonly fetch?: FetchLike;
  /** @default 'authorization' (`Authorization: Bearer <key>`) */
  readonly header?: KeyHeader;
  /**
   * Statuses that mean "this key was refused" and trigger a refresh.
   * @default [401, 403]
   */
  readonly refreshOnStatus?: readonly number[];
  /**
   * After a refusal-triggered refresh found the same key (the refusal was about something
   * else, e.g. a missing scope), further refusals do not refresh for this long, so a
   * steady stream of 403s does not become a steady stream of reads (GetSecretValue calls).
   * @default 5_000
   */
  readonly unchangedKeyCooldownMs?: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** True when `body` can be sent a second time as it is. */
export function isReplayableBody(body: unknown): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/** A `Request` (or another fetch implementation's request object): anything but a string or URL. */
function isRequestLike(input: string | URL | Request): input is Request {
  return typeof input !== 'string' && !(input instanceof URL);
}

/** Frees the connection of a response that is thrown away. */
async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to free.
  }
}

/**
 * Wraps `fetch` so every request carries the provider's current key.
 *
 * On a refusal (401/403 by default): if the provider already holds another key than the one
 * sent (someone refreshed meanwhile), the request is retried with it; otherwise the provider
 * refreshes once, and the request is retried only if that produced a different key. A failed
 * refresh, an unchanged key or a body that cannot be sent twice (a stream, or a `Request`
 * whose body is a stream) return the refusal unchanged; the refresh still benefits the next
 * call. A retry that is refused again is returned as well: one retry per call at most.
 *
 * @throws KeyUnavailableError (rejects) when no key could ever be read.
 */
export function createAuthenticatedFetch(provider: ApiKeySource, options: AuthenticatedFetchOptions = {}): FetchLike {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const header = options.header ?? KeyHeader.AUTHORIZATION;
  if (header !== KeyHeader.AUTHORIZATION && header !== KeyHeader.X_API_KEY) {
    throw new InvalidClientOptionsError(`header must be 'authorization' or 'x-api-key'; got '${String(header)}'.`);
  }
  const refusals = new Set(options.refreshOnStatus ?? [401, 403]);
  const cooldownMs = options.unchangedKeyCooldownMs ?? 5_000;
  if (!Number.isFinite(cooldownMs) || cooldownMs < 0) {
    throw new InvalidClientOptionsError(`unchangedKeyCooldownMs must be a non-negative number of milliseconds; got ${cooldownMs}.`);
  }
  const clock = options.clock ?? systemClock;
  let unchangedAtMs: number | undefined;

  const send = (input: string | URL | Request, init: RequestInit | undefined, key: string): Promise<Response> => {
    const headers = new Headers(init?.headers ?? (isRequestLike(input) ? input.headers : undefined));
    if (header === KeyHeader.AUTHORIZATION) headers.set('authorization', `Bearer ${key}`);
    else headers.set('x-api-key', key);
    return fetchImpl(input, { ...init, headers });
  };

  /** The key to retry with, or undefined when there is none (or no new one). */
  const replacementFor = async (sentKey: string): Promise<string | undefined> => {
    const held = await provider.getKey();
    if (held !== sentKey) return held;
    if (unchangedAtMs !== undefined && clock.nowMs() - unchangedAtMs < cooldownMs) return undefined;
    try {
      await provider.refresh(RefreshReason.AUTH_FAILURE);
    } catch {
      // The provider logged it; the refusal stands.
      return undefined;
    }
    const refreshed = await provider.getKey();
    if (refreshed === sentKey) {
      unchangedAtMs = clock.nowMs();
      return undefined;
    }
    return refreshed;
  };

  return async (input, init) => {
    const key = await provider.getKey();
    const response = await send(input, init, key);
    if (!refusals.has(response.status)) return response;

    // Refresh even when the request cannot be retried: the caller's next request gets the new key.
    const newKey = await replacementFor(key);
    const replayable = init?.body !== undefined ? isReplayableBody(init.body) : !isRequestLike(input) || input.body === null || input.body === undefined;
    if (newKey === undefined || !replayable) return response;
    await discard(response);
    return send(input, init, newKey);
  };
}
