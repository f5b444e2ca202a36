/**
 * createAuthenticatedFetch over a KeyProvider with a stub Secrets Manager and a stub
 * `fetch` that plays an API: it accepts a set of keys and refuses the others. Checks the
 * header, the refresh-once / retry-once rules, body replayability, and that nothing the
 * wrapper produces carries a key.
 */
import { ManualClock } from '../../lambdas/core/clock';
import { createAuthenticatedFetch, isReplayableBody, type AuthenticatedFetchOptions, type FetchLike } from '../../client/authenticated-fetch';
import { InvalidClientOptionsError, KeyUnavailableError } from '../../client/errors';
import { SecretsManagerKeyProvider } from '../../client/secrets-manager';
import { awsError, errorText, Gate, RecordingLogger, settle, StubSecretsManager } from './helpers';

interface SeenRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A fake API: accepts the keys in `accepted`, answers `refusal` otherwise (or the scripted statuses). */
class FakeApi {
  readonly seen: SeenRequest[] = [];
  accepted = new Set<string>();
  refusal = 401;
  /** When non-empty, the next responses have these statuses regardless of the key. */
  script: number[] = [];

  readonly fetch: FetchLike = async (input, init) => {
    const request = new Request(input, init);
    const headers = Object.fromEntries(request.headers.entries());
    const body = request.body ? await request.text() : '';
    this.seen.push({ url: request.url, method: request.method, headers, body });
    const presented = headers.authorization?.replace(/^Bearer /, '') ?? headers['x-api-key'] ?? '';
    const status = this.script.shift() ?? (this.accepted.has(presented) ? 200 : this.refusal);
    return new Response(status === 200 ? `ok:${body}` : JSON.stringify({ message: 'Unauthorized' }), { status });
  };

  /** The keys the API saw, in order. */
  keys(): string[] {
    return this.seen.map((r) => r.headers.authorization?.replace(/^Bearer /, '') ?? r.headers['x-api-key'] ?? '');
  }
}

function setup(options: Partial<AuthenticatedFetchOptions> = {}) {
  const clock = new ManualClock(Date.parse('2026-11-28T10:00:00Z'));
  const secrets = new StubSecretsManager();
  const logger = new RecordingLogger();
  const provider = new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets, clock, logger, refreshIntervalMs: 300_000 });
  const refreshes: string[] = [];
  const refresh = provider.refresh.bind(provider);
  provider.refresh = (reason, opts) => {
    refreshes.push(reason ?? 'manual');
    return refresh(reason, opts);
  };
  const api = new FakeApi();
  api.accepted.add(secrets.value.apiKey);
  const fetch = createAuthenticatedFetch(provider, { fetch: api.fetch, clock, ...options });
  return { clock, secrets, logger, provider, api, fetch, refreshes };
}

describe('createAuthenticatedFetch: the key header', () => {
  it('sends Authorization: Bearer <current key> and keeps the caller’s other headers', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    const response = await fetch('https://api.example.test/orders', { headers: { accept: 'application/json', authorization: 'Bearer stale' } });
    expect(response.status).toBe(200);
    expect(api.seen).toHaveLength(1);
    expect(api.seen[0].headers).toEqual({ accept: 'application/json', authorization: `Bearer ${secrets.value.apiKey}` });
    expect(refreshes).toEqual([]);
  });

  it('sends x-api-key when asked to', async () => {
    const { secrets } = setup();
    const api = new FakeApi();
    api.accepted.add(secrets.value.apiKey);
    const provider = new SecretsManagerKeyProvider({ clientId: 'acme', secretsManager: secrets });
    const fetch = createAuthenticatedFetch(provider, { fetch: api.fetch, header: 'x-api-key' });
    await fetch(new URL('https://api.example.test/orders'), { headers: new Headers({ 'x-trace': '1' }) });
    expect(api.seen[0].headers).toEqual({ 'x-trace': '1', 'x-api-key': secrets.value.apiKey });
  });

  it('takes headers from a Request input, and from init when both are given', async () => {
    const { fetch, api, secrets } = setup();
    await fetch(new Request('https://api.example.test/a', { headers: { 'x-from': 'request' } }));
    await fetch(new Request('https://api.example.test/b', { headers: { 'x-from': 'request' } }), { headers: [['x-from', 'init']] });
    expect(api.seen.map((r) => r.headers)).toEqual([
      { 'x-from': 'request', authorization: `Bearer ${secrets.value.apiKey}` },
      { 'x-from': 'init', authorization: `Bearer ${secrets.value.apiKey}` },
    ]);
  });

  it('rejects an unknown header option', () => {
    const { provider } = setup();
    expect(() => createAuthenticatedFetch(provider, { header: 'cookie' as never })).toThrow(InvalidClientOptionsError);
    expect(() => createAuthenticatedFetch(provider, { unchangedKeyCooldownMs: -1 })).toThrow(/unchangedKeyCooldownMs/);
  });
});

describe('createAuthenticatedFetch: refusals', () => {
  it('401 → one refresh → retry with the new key', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    await fetch('https://api.example.test/warm');
    const old = secrets.value;
    const next = secrets.rotate();
    api.accepted = new Set([next.apiKey]); // emergency: the old key is already refused

    const response = await fetch('https://api.example.test/orders', { method: 'POST', body: '{"n":1}' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok:{"n":1}');
    expect(refreshes).toEqual(['auth-failure']);
    expect(secrets.calls).toHaveLength(2);
    expect(api.keys()).toEqual([old.apiKey, old.apiKey, next.apiKey]);
    expect(api.seen.slice(1).map((r) => r.body)).toEqual(['{"n":1}', '{"n":1}']);
  });

  it('401 with an unchanged key → no retry, the 401 is returned', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    api.accepted.clear();
    const response = await fetch('https://api.example.test/orders');
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: 'Unauthorized' });
    expect(refreshes).toEqual(['auth-failure']);
    expect(api.seen).toHaveLength(1);
    expect(secrets.calls).toHaveLength(2);
  });

  it('403 twice → exactly one refresh and one retry; the second 403 is returned', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    await fetch('https://api.example.test/warm');
    secrets.rotate();
    api.seen.length = 0;
    api.script = [403, 403, 403, 403];
    const response = await fetch('https://api.example.test/orders');
    expect(response.status).toBe(403);
    expect(api.seen).toHaveLength(2);
    expect(refreshes).toEqual(['auth-failure']);
    expect(api.script).toHaveLength(2);
  });

  it('does not refresh on other statuses', async () => {
    const { fetch, api, refreshes } = setup();
    for (const status of [400, 404, 429, 500, 503]) {
      api.script = [status];
      expect((await fetch('https://api.example.test/x')).status).toBe(status);
    }
    expect(refreshes).toEqual([]);
    expect(api.seen).toHaveLength(5);
  });

  it('refreshOnStatus chooses the refusal statuses', async () => {
    const { fetch, api, refreshes } = setup({ refreshOnStatus: [401] });
    api.script = [403];
    expect((await fetch('https://api.example.test/x')).status).toBe(403);
    expect(refreshes).toEqual([]);
  });

  it('a failed refresh returns the refusal, without throwing and without the key in the log', async () => {
    const { fetch, api, secrets, logger } = setup();
    await fetch('https://api.example.test/warm');
    api.accepted.clear();
    secrets.failure = awsError('ThrottlingException');
    const response = await fetch('https://api.example.test/orders');
    expect(response.status).toBe(401);
    expect(api.seen).toHaveLength(2);
    expect(logger.warnings).toHaveLength(1);
    expect(logger.text()).not.toContain(secrets.value.apiKey);
  });

  it('concurrent refusals share one refresh, and all retry with the new key', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    await fetch('https://api.example.test/warm');
    const next = secrets.rotate();
    api.accepted = new Set([next.apiKey]);
    secrets.gate = new Gate(); // hold the refresh read until both refusals have asked for it
    const both = Promise.all([fetch('https://api.example.test/a'), fetch('https://api.example.test/b')]);
    await settle();
    expect(refreshes).toEqual(['auth-failure', 'auth-failure']);
    secrets.gate.open();
    const [a, b] = await both;
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(secrets.calls).toHaveLength(2); // the initial read and one shared refresh
  });

  it('a refusal of a key the provider has already replaced is retried with the new key without refreshing', async () => {
    const { api, secrets, provider, refreshes } = setup();
    const old = await provider.getKey();
    const next = secrets.rotate();
    await provider.refresh('notification');
    refreshes.length = 0;
    api.accepted = new Set([next.apiKey]);
    // The request was sent with the old key just before the provider switched keys.
    let calls = 0;
    const racing = { getKey: async () => (calls++ === 0 ? old : provider.getKey()), refresh: provider.refresh, currentKeyId: () => provider.currentKeyId() };
    const fetch = createAuthenticatedFetch(racing, { fetch: api.fetch });
    expect((await fetch('https://api.example.test/c')).status).toBe(200);
    expect(refreshes).toEqual([]);
    expect(api.keys()).toEqual([old, next.apiKey]);
  });

  it('after a refresh found the same key, further refusals do not refresh for unchangedKeyCooldownMs', async () => {
    const { fetch, api, clock, refreshes, secrets } = setup({ unchangedKeyCooldownMs: 5_000 });
    api.refusal = 403; // e.g. a scope the key does not have
    api.accepted.clear();
    await fetch('https://api.example.test/admin');
    expect(refreshes).toHaveLength(1);
    for (let i = 0; i < 10; i++) expect((await fetch('https://api.example.test/admin')).status).toBe(403);
    expect(refreshes).toHaveLength(1);

    clock.advance(5_000);
    const next = secrets.rotate();
    api.accepted.add(next.apiKey);
    expect((await fetch('https://api.example.test/admin')).status).toBe(200);
    expect(refreshes).toHaveLength(2);
  });

  it('rejects with KeyUnavailableError, sending nothing, when no key can be read', async () => {
    const { fetch, api, secrets } = setup();
    secrets.failure = awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    const error = await fetch('https://api.example.test/orders').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyUnavailableError);
    expect(api.seen).toHaveLength(0);
  });
});

describe('createAuthenticatedFetch: request bodies', () => {
  const replayable: [string, () => RequestInit['body'], string][] = [
    ['no body', () => undefined, ''],
    ['a string', () => 'plain text', 'plain text'],
    ['a Uint8Array', () => new TextEncoder().encode('bytes'), 'bytes'],
    ['a Buffer', () => Buffer.from('buffer'), 'buffer'],
    ['an ArrayBuffer', () => new TextEncoder().encode('ab').buffer, 'ab'],
    ['URLSearchParams', () => new URLSearchParams({ a: '1', b: '2' }), 'a=1&b=2'],
    ['a Blob', () => new Blob(['blob']), 'blob'],
  ];

  it.each(replayable)('retries a request whose body is %s, with the same body', async (_name, body, text) => {
    const { fetch, api, secrets } = setup();
    await fetch('https://api.example.test/warm');
    const next = secrets.rotate();
    api.accepted = new Set([next.apiKey]);
    api.seen.length = 0;
    const method = body() === undefined ? 'GET' : 'POST';
    const response = await fetch('https://api.example.test/orders', { method, body: body() });
    expect(response.status).toBe(200);
    expect(api.seen.map((r) => r.body)).toEqual([text, text]);
  });

  it('does not retry a streamed body; refreshes anyway so that the next call has the new key', async () => {
    const { fetch, api, secrets, refreshes } = setup();
    await fetch('https://api.example.test/warm');
    const next = secrets.rotate();
    api.accepted = new Set([next.apiKey]);
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const response = await fetch('https://api.example.test/upload', { method: 'POST', body: stream, duplex: 'half' });
    expect(response.status).toBe(401);
    expect(api.seen).toHaveLength(2);
    expect(refreshes).toEqual(['auth-failure']);
    expect((await fetch('https://api.example.test/next')).status).toBe(200);
    expect(api.keys().at(-1)).toBe(next.apiKey);
  });

  it('does not retry a Request whose body is a stream, but retries a bodiless Request', async () => {
    const { fetch, api, secrets, provider } = setup();
    await fetch('https://api.example.test/warm');
    const next = secrets.rotate();
    api.accepted = new Set([next.apiKey]);
    const post = new Request('https://api.example.test/orders', { method: 'POST', body: 'from request' });
    expect((await fetch(post)).status).toBe(401);
    expect(api.seen).toHaveLength(2);
    expect(provider.currentKeyId()).toBe(next.keyId);

    const third = secrets.rotate();
    api.accepted = new Set([third.apiKey]);
    api.seen.length = 0;
    expect((await fetch(new Request('https://api.example.test/orders'))).status).toBe(200);
    expect(api.keys()).toEqual([next.apiKey, third.apiKey]);
  });

  it('isReplayableBody accepts buffered bodies only', () => {
    for (const body of [undefined, null, '', 'x', new Uint8Array(1), new ArrayBuffer(1), new DataView(new ArrayBuffer(1)), new URLSearchParams(), new Blob([]), new FormData()]) {
      expect(isReplayableBody(body)).toBe(true);
    }
    for (const body of [new ReadableStream(), (async function* () {})(), { any: 'object' }]) {
      expect(isReplayableBody(body)).toBe(false);
    }
  });
});

describe('createAuthenticatedFetch never exposes the key', () => {
  it('in logs and errors along the refusal paths', async () => {
    const { fetch, api, secrets, logger } = setup();
    const keys = [secrets.value.apiKey];
    await fetch('https://api.example.test/warm');
    keys.push(secrets.rotate().apiKey);
    api.accepted.clear();
    await fetch('https://api.example.test/a');
    secrets.failure = awsError('AccessDeniedException');
    await fetch('https://api.example.test/b');
    const failing = setup();
    failing.secrets.failure = awsError('InternalServiceError');
    const error = await failing.fetch('https://api.example.test/c').catch((e: unknown) => e);
    for (const key of [...keys, failing.secrets.value.apiKey]) {
      expect(logger.text()).not.toContain(key);
      expect(failing.logger.text()).not.toContain(key);
      expect(errorText(error)).not.toContain(key);
    }
  });
});
