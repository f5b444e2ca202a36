/**
 * The secret tap catches what it must: a key planted in a record of each kind, in each
 * form it claims to detect (whole, prefix stripped, truncated, base64/base64url at every
 * alignment, hex, inside JSON), an EMF line printed by the real Powertools Metrics; and
 * it stays quiet on what is allowed (the hash, the key id, a short hint, other keys).
 */
import { randomBytes } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { captureStdio, SecretTap, SourceKind, tapTopic } from './secret-tap';

const key = generateApiKey('krt');
const secret = key.slice('krt_'.length);

function tapWith(value: unknown, kind: SourceKind = SourceKind.OTHER): SecretTap {
  const tap = new SecretTap();
  tap.addKeys([key]);
  tap.add('planted', value, kind);
  return tap;
}

const formOf = (value: unknown) => tapWith(value).leaks().map((l) => l.form);

describe('a planted leak', () => {
  it.each(Object.values(SourceKind))('is caught in a record of kind %s, named by kind and source', (kind) => {
    const tap = tapWith({ nested: { note: `x ${key} y` } }, kind);
    expect(tap.leaks()).toEqual([expect.objectContaining({ kind, source: 'planted', form: 'plaintext' })]);
    expect(() => tap.expectNoPlaintext()).toThrow(new RegExp(`\\[${kind}\\] planted \\(plaintext\\)`));
  });

  it('never prints the key in the failure', () => {
    const tap = tapWith(`Authorization: Bearer ${key}`);
    let message = '';
    try {
      tap.expectNoPlaintext();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('<KEY MATERIAL');
    expect(message).not.toContain(secret.slice(0, 16));
  });

  it('is caught in the forms that still leak the key', () => {
    expect(formOf(JSON.stringify(JSON.stringify({ apiKey: key })))).toEqual(['plaintext']);
    expect(formOf(encodeURIComponent(`?key=${key}`))).toEqual(['plaintext']);
    expect(formOf(`secret=${secret}`)).toEqual(['secret-part']);
    expect(formOf(`truncated ${secret.slice(10, 26)}…`)).toEqual(['secret-part']);
    expect(formOf(Buffer.from(key).toString('hex'))).toEqual(['hex']);
    // base64 of the key inside larger payloads, at each of the three byte alignments.
    for (const before of ['', 'a', 'ab', 'Bearer ']) {
      expect(formOf(Buffer.from(`${before}${key}`).toString('base64'))).toEqual(['base64']);
    }
    // A key whose encoding has + or / differs in base64url; the check knows both alphabets.
    const encoded = Buffer.from(`{"apiKey":"${key}"}`).toString('base64url');
    expect(formOf(encoded)).toEqual([expect.stringMatching(/^base64/)]);
  });

  it('is caught deep inside a long run of encoding characters, among many keys (the rolling hash moves correctly)', () => {
    const tap = new SecretTap();
    const others = Array.from({ length: 50 }, () => generateApiKey('krt'));
    tap.addKeys([...others, key]);
    const noise = (n: number) => randomBytes(n).toString('hex');
    tap.add('hex', `${noise(300)}${Buffer.from(key).toString('hex')}${noise(300)}`);
    tap.add('base62', `${noise(500)}${secret.slice(20, 37)}${noise(500)}`);
    tap.add('clean', `${noise(2000)} ${others.map(hashApiKey).join(' ')}`);
    expect(tap.leaks().map((l) => `${l.source}:${l.form}`)).toEqual(['hex:hex', 'base62:secret-part']);
  });

  it('is caught in an EMF line printed by Powertools Metrics, and in a Logger line', () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    const release = captureStdio(tap);
    try {
      const metrics = new Metrics({ namespace: 'SecretTapSelfTest', serviceName: 'tap' });
      metrics.addMetric('Planted', 'Count', 1);
      metrics.addMetadata('leak', key);
      metrics.publishStoredMetrics();
      new Logger({ serviceName: 'tap' }).info('planted', { apiKey: key });
    } finally {
      release();
    }
    expect(tap.leaks().map((l) => [l.kind, l.source])).toEqual([
      [SourceKind.METRIC, 'stdout'],
      [SourceKind.LOG, 'stdout'],
    ]);
  });

  it('is caught in SNS messages drained from a tapped topic', async () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    const topic = tapTopic(tap, { drain: async () => [{ message: JSON.stringify({ apiKey: key }), attributes: {} }] }, 'client');
    expect(await topic.drain()).toHaveLength(1);
    expect(tap.leaks()).toEqual([expect.objectContaining({ kind: SourceKind.SNS_MESSAGE, source: 'sns client' })]);
  });

  it('is caught in an Error and its cause, and in DynamoDB items', () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    tap.add('thrown', new Error('lookup failed', { cause: new Error(`bad key ${key}`) }), SourceKind.ERROR);
    tap.addItems('table', [{ pk: 'KEY#x', sk: 'META', note: secret }]);
    expect(tap.leaks().map((l) => `${l.kind}:${l.source}`)).toEqual(['error:thrown', 'dynamodb-item:table KEY#x/META']);
  });
});

describe('what is not a leak', () => {
  it('the hash, the key id, a short hint, another key, keys of the same shape', () => {
    const tap = tapWith({ keyHash: hashApiKey(key), keyId: keyIdOf(key), hint: `krt_${secret.slice(0, 8)}…`, other: generateApiKey('krt') });
    expect(tap.leaks()).toEqual([]);
    expect(tap.expectNoPlaintext()).toMatchObject({ records: 1, keys: 1 });
  });
});

describe('a check that would pass vacuously fails instead', () => {
  it('with no key, too few records, or a missing kind', () => {
    const empty = new SecretTap();
    empty.add('x', 'nothing');
    expect(() => empty.expectNoPlaintext()).toThrow(/no plaintext key known/);
    const tap = tapWith('clean');
    expect(() => tap.expectNoPlaintext({ minRecords: 2 })).toThrow(/1 records, expected at least 2/);
    expect(() => tap.expectNoPlaintext({ kinds: [SourceKind.METRIC] })).toThrow(/no record of kind metric/);
  });
});

describe('kinds inferred from the workflow runner source names', () => {
  it('maps state I/O, events, errors and stdio (EMF lines as metrics)', () => {
    const tap = new SecretTap();
    tap.add('CreateSecret input', {});
    tap.add('CreateSecret output', {});
    tap.add('CreateSecret error', 'X: y');
    tap.add('execution output', {});
    tap.add('event TaskStateEntered', {});
    tap.add('stdout', '{"level":"INFO"}\n{"_aws":{"CloudWatchMetrics":[]}}\n');
    expect(tap.records.map((r) => r.kind)).toEqual(['state-input', 'state-output', 'error', 'state-output', 'execution-event', 'log', 'metric']);
  });
});
