/**
 * The secret tap catches what it must: a key planted in a record of each kind, in each
 * form it claims to detect (whole, prefix stripped, truncated, base64/base64url at every
 * alignment, hex, inside JSON), an EMF line printed by the real Powertools Metrics; and
 * it stays quiet on what is allowed (the hash, the key id, a short hint, other keys).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { captureStdio, entropyBytesOf, SecretTap, SourceKind, tapTopic } from './secret-tap';

/**
 * The test key and the 32 random bytes it is made of (generateApiKey's CSPRNG output,
 * captured). Its uppercase hex has a letter in every 32 digits, so that form is caught only
 * by a tap that knows uppercase hex, not by the chance of an all-digit stretch.
 */
const { key, raw } = (() => {
  for (;;) {
    let bytes = Buffer.alloc(0);
    const candidate = generateApiKey('krt', (size) => (bytes = randomBytes(size)));
    if (!/[0-9]{32}/.test(Buffer.from(candidate.slice('krt_'.length)).toString('hex'))) return { key: candidate, raw: bytes };
  }
})();
const secret = key.slice('krt_'.length);

function tapWith(value: unknown, kind: SourceKind = SourceKind.OTHER): SecretTap {
  const tap = new SecretTap();
  tap.addKeys([key]);
  tap.add('planted', value, kind);
  return tap;
}

const formOf = (value: unknown) =>
  tapWith(value)
    .leaks()
    .map((l) => l.form);
const secretOf = (k: string) => k.slice(k.indexOf('_') + 1);

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

/** Each form once, as (label, planted value, expected form): every one passed unnoticed before issue 16 item 10. */
const blindSpots: [string, () => unknown, string][] = [
  ['util.inspect of a Buffer of the key', () => inspect(Buffer.from(key)), 'hex'],
  ['console.log of an object holding a Buffer', () => inspect({ header: Buffer.from(`Bearer ${key}`) }), 'hex'],
  ['uppercase hex of the key', () => Buffer.from(key).toString('hex').toUpperCase(), 'hex'],
  ['JSON of a Buffer (decimal bytes)', () => JSON.stringify({ body: Buffer.from(key) }), 'decimal'],
  ['raw bytes, lowercase hex', () => raw.toString('hex'), 'raw-hex'],
  ['raw bytes, uppercase hex', () => raw.toString('hex').toUpperCase(), 'raw-hex'],
  ['raw bytes, base64', () => `seed=${raw.toString('base64')}`, 'raw-base64'],
  ['raw bytes, base64url', () => `seed=${raw.toString('base64url')}`, 'raw-base64'],
  ['raw bytes, base64 inside a larger blob', () => Buffer.concat([Buffer.from('x'), raw, Buffer.from('tail')]).toString('base64url'), 'raw-base64'],
  ['raw bytes, util.inspect of a Buffer', () => inspect(raw), 'raw-hex'],
  ['raw bytes, util.inspect of a Uint8Array', () => inspect(new Uint8Array(raw)), 'raw-decimal'],
  ['raw bytes, JSON of a Buffer', () => JSON.stringify({ seed: raw }), 'raw-decimal'],
  ['raw bytes inside a binary (not UTF-8) blob', () => Buffer.concat([Buffer.from([0xff, 0xfe]), randomBytes(600), raw, randomBytes(600)]), 'raw-hex'],
  ['key split by newlines every 12 characters', () => `key: ${key.match(/.{1,12}/g)!.join('\n')}`, 'secret-part'],
  ['key split by spaces every 8 characters', () => secret.match(/.{1,8}/g)!.join(' '), 'secret-part'],
  ['key grouped by -', () => secret.match(/.{1,4}/g)!.join('-'), 'secret-part'],
  ['key split by newlines, JSON-escaped', () => JSON.stringify({ apiKey: key.match(/.{1,12}/g)!.join('\n') }), 'secret-part'],
  ['key split by CRLF, JSON-escaped twice', () => JSON.stringify(JSON.stringify({ apiKey: key.match(/.{1,12}/g)!.join('\r\n') })), 'secret-part'],
  ['key as \\u escapes', () => [...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join(''), 'secret-part'],
  ['key split by URL-encoded newlines', () => `q=${encodeURIComponent(key.match(/.{1,12}/g)!.join('\n'))}`, 'secret-part'],
  ['hex of the key, one byte a line', () => [...Buffer.from(key)].map((b) => b.toString(16).padStart(2, '0')).join('\n'), 'hex'],
  ["key in an error's own extra property", () => Object.assign(new Error('lookup failed'), { detail: key }), 'plaintext'],
  ["key in the cause's own property", () => new Error('request failed', { cause: Object.assign(new Error('http 500'), { request: { headers: { authorization: `Bearer ${key}` } } }) }), 'plaintext'],
  ['key in an AggregateError member', () => new AggregateError([new Error('a'), Object.assign(new Error('b'), { key })], 'several'), 'plaintext'],
  ['key in the cause of an error inside a JSON value', () => ({ failed: new Error('x', { cause: new Error(`bad key ${key}`) }) }), 'plaintext'],
];

describe('the forms issue 16 item 10 found unnoticed', () => {
  it.each(blindSpots)('%s', (_label, planted, form) => {
    const tap = tapWith(planted(), SourceKind.ERROR);
    expect(tap.leaks().map((l) => l.form)).toEqual([form]);
    expect(() => tap.expectNoPlaintext()).toThrow(/Plaintext key material/);
  });

  it('the raw bytes are learned from the key itself', () => {
    expect(entropyBytesOf(key)).toEqual(raw);
    expect(entropyBytesOf('not-a-key')).toBeUndefined();
  });

  it('a key printed in pieces on consecutive log lines (no line holds 16 characters of it)', () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    tap.add('stdout', `${secret.match(/.{1,10}/g)!.join('\n')}\n`, SourceKind.LOG);
    tap.add('stderr', 'unrelated', SourceKind.LOG);
    expect(tap.records.length).toBeGreaterThan(4);
    expect(tap.leaks()).toEqual([expect.objectContaining({ kind: SourceKind.LOG, source: 'stdout (across lines)', split: true })]);
  });

  it('a key printed in pieces by separate writes to stdout', () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    const release = captureStdio(tap);
    try {
      for (const piece of key.match(/.{1,12}/g)!) process.stdout.write(`${piece}\n`);
    } finally {
      release();
    }
    expect(tap.leaks().map((l) => l.source)).toEqual(['stdout (across lines)']);
  });

  it('a split key is masked whole in the failure', () => {
    const tap = tapWith(`before ${secret.match(/.{1,8}/g)!.join(' ')} after`);
    const message = (() => {
      try {
        tap.expectNoPlaintext();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/before <KEY MATERIAL ×\d+> after/);
    expect(message).toContain('split');
    for (const piece of secret.match(/.{8}/g)!) expect(message).not.toContain(piece);
  });
});

describe('what is not a leak', () => {
  it('the hash, the key id, a short hint, another key, keys of the same shape', () => {
    const tap = tapWith({ keyHash: hashApiKey(key), keyId: keyIdOf(key), hint: `krt_${secret.slice(0, 8)}…`, other: generateApiKey('krt') });
    expect(tap.leaks()).toEqual([]);
    expect(tap.expectNoPlaintext()).toMatchObject({ records: 1, keys: 1 });
  });

  it('the hash and key id in every encoding, and in errors and Buffers', () => {
    const digest = Buffer.from(hashApiKey(key), 'hex');
    const keyId = keyIdOf(key);
    const tap = new SecretTap();
    tap.addKeys([key]);
    tap.add('hash', [hashApiKey(key), hashApiKey(key).toUpperCase(), digest.toString('base64'), digest.toString('base64url'), inspect(digest), JSON.stringify(digest)].join('\n'), SourceKind.LOG);
    tap.add('key id', `${keyId} ${keyId.toUpperCase()} ${Buffer.from(keyId).toString('hex')} ${inspect(Buffer.from(keyId))}`, SourceKind.OTHER);
    tap.add('error', Object.assign(new Error(`key ${keyId} revoked`), { keyId, keyHash: hashApiKey(key), hint: secret.slice(0, 8) }), SourceKind.ERROR);
    expect(tap.leaks()).toEqual([]);
  });

  it("other clients' keys, ids, ARNs, times and random bytes, in every form the tap decodes", () => {
    const tap = new SecretTap();
    tap.addKeys([key]);
    const others = Array.from({ length: 20 }, () => generateApiKey('krt'));
    const bytes = randomBytes(64);
    tap.addItems(
      'dynamodb',
      others.map((other, i) => ({
        pk: `CLIENT#client-${i}`,
        sk: 'META',
        secretId: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyroll/client-${i}-AbCdEf`,
        versionId: randomUUID(),
        currentKeyHash: hashApiKey(other),
        keyId: keyIdOf(other),
        rotatedAt: new Date(1_700_000_000_000 + i).toISOString(),
        epochMs: 1_700_000_000_000 + i,
      })),
    );
    tap.add('other keys', [...others, ...others.map((o) => Buffer.from(o).toString('base64')), ...others.map((o) => inspect(Buffer.from(o)))].join('\n'), SourceKind.OTHER);
    tap.add('random', `${bytes.toString('hex')} ${bytes.toString('hex').toUpperCase()} ${inspect(bytes)} ${JSON.stringify(bytes)} ${inspect(new Uint8Array(bytes))}`, SourceKind.OTHER);
    tap.add('stdout', others.map((o) => `{"level":"INFO","keyId":"${keyIdOf(o)}","hint":"krt_${secretOf(o).slice(0, 8)}"}`).join('\n'), SourceKind.LOG);
    expect(tap.leaks()).toEqual([]);
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
