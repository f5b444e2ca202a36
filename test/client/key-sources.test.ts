/**
 * The sources that need no AWS SDK (environment variable, file) under a KeyProvider: what they
 * accept, how their failures are classified, and that neither a log line nor an error carries
 * the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lambdas/core/clock';
import { serializeSecretValue } from '../../lambdas/core/secret-value';
import { EnvKeySource, FileKeySource, InvalidClientOptionsError, KeyProvider, parseKeyText, type KeySource } from '../../client';
import { errorText, newSecretValue, RecordingLogger } from './helpers';

describe('parseKeyText', () => {
  it('takes a bare key (deriving its id) or the secret document, ignoring surrounding whitespace', () => {
    const value = newSecretValue();
    expect(parseKeyText(`${value.apiKey}\n`)).toEqual(value);
    expect(parseKeyText(` ${serializeSecretValue(value)}\n`)).toEqual(value);
  });

  it('rejects anything else with MalformedKey, without echoing it', () => {
    const { apiKey } = newSecretValue();
    for (const bad of ['', 'not a key', apiKey.slice(0, -1) + (apiKey.endsWith('A') ? 'B' : 'A'), `{"apiKey":"${apiKey}"}`]) {
      let error: unknown;
      try {
        parseKeyText(bad);
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ name: 'MalformedKey' });
      expect(errorText(error)).not.toContain(apiKey.slice(4, 30));
    }
  });
});

describe('EnvKeySource', () => {
  it('reads the variable on every refresh and follows a change of it', async () => {
    const env: Record<string, string | undefined> = {};
    const first = newSecretValue();
    env.ACME_KEY = first.apiKey;
    const provider = new KeyProvider({ source: new EnvKeySource({ variable: 'ACME_KEY', clientId: 'acme', env }), clock: new ManualClock(0) });
    expect(provider.clientId).toBe('acme');
    await expect(provider.getKey()).resolves.toBe(first.apiKey);
    expect(provider.currentKeyId()).toBe(first.keyId);
    const second = newSecretValue();
    env.ACME_KEY = serializeSecretValue(second);
    await expect(provider.refresh('manual')).resolves.toEqual({ keyId: second.keyId, previousKeyId: first.keyId, changed: true });
  });

  it('reads KEYROLL_API_KEY by default', () => {
    expect(new EnvKeySource({ env: {} }).id).toBe('KEYROLL_API_KEY');
  });

  it('an unset variable is not-found and a malformed one is malformed, with neither value in the error or log', async () => {
    const logger = new RecordingLogger();
    const env: Record<string, string | undefined> = {};
    const provider = new KeyProvider({ source: new EnvKeySource({ variable: 'ACME_KEY', env }), logger });
    await expect(provider.getKey()).rejects.toMatchObject({ name: 'KeyUnavailable', reason: 'not-found', source: 'ACME_KEY', causeName: 'KeyNotFound' });
    const leaked = newSecretValue();
    env.ACME_KEY = `${leaked.apiKey}x`;
    const error = await provider.getKey().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'KeyUnavailable', reason: 'malformed', message: expect.stringContaining("environment variable 'ACME_KEY'") });
    expect(errorText(error)).not.toContain(leaked.apiKey);
    expect(logger.text()).not.toContain(leaked.apiKey);
    expect(logger.warnings).toHaveLength(2);
  });

  it('refuses an empty variable name', () => {
    expect(() => new EnvKeySource({ variable: '' })).toThrow(InvalidClientOptionsError);
  });
});

describe('FileKeySource', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyroll-file-source-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the file on every refresh, so a rewritten file is picked up', async () => {
    const path = join(dir, 'acme');
    const first = newSecretValue();
    writeFileSync(path, `${first.apiKey}\n`);
    const provider = new KeyProvider({ source: new FileKeySource({ path, clientId: 'acme' }) });
    await expect(provider.getKey()).resolves.toBe(first.apiKey);
    const second = newSecretValue();
    writeFileSync(path, serializeSecretValue(second));
    await expect(provider.refresh('notification')).resolves.toMatchObject({ keyId: second.keyId, changed: true });
    await expect(provider.getKey()).resolves.toBe(second.apiKey);
  });

  it('a missing file is not-found; another read failure is request-failed', async () => {
    const missing = new KeyProvider({ source: new FileKeySource({ path: join(dir, 'none') }) });
    await expect(missing.getKey()).rejects.toMatchObject({ reason: 'not-found', causeName: 'KeyNotFound' });
    const directory = new KeyProvider({ source: new FileKeySource({ path: dir }) });
    await expect(directory.getKey()).rejects.toMatchObject({ reason: 'request-failed' });
  });

  it('refuses an empty path', () => {
    expect(() => new FileKeySource({ path: '' })).toThrow(InvalidClientOptionsError);
  });
});

describe('KeyProvider over any source', () => {
  it('needs a source, and classifies a custom source’s AWS-named errors', async () => {
    expect(() => new KeyProvider({} as never)).toThrow(InvalidClientOptionsError);
    const denied = Object.assign(new Error('no'), { name: 'AccessDeniedException' });
    const source: KeySource = { kind: 'parameter', id: '/acme/key', read: () => Promise.reject(denied) };
    await expect(new KeyProvider({ source, clientId: 'acme' }).getKey()).rejects.toMatchObject({
      reason: 'access-denied',
      message: "Could not read the current API key from parameter '/acme/key' (access-denied: AccessDeniedException).",
    });
  });
});
