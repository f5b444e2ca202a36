import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { UnauthorizedError } from '../../lambdas/aws/auth/authorizer-events';
import { InvalidRouteScopesError } from '../../lambdas/aws/auth/route-scopes';
import { UnreadableAttributeError } from '../../lambdas/aws/lean/attribute-values';
import { DynamoDbError } from '../../lambdas/aws/lean/dynamodb-http';
import { generateApiKey, keyIdOf, parseApiKey } from '../../lambdas/core/api-key';
import {
  describeError,
  IllegalKeyTransitionError,
  InvalidRotationIdError,
  InvalidRotationInputError,
  KeyRollError,
  KeyVerificationFailedError,
  MalformedKeyError,
  RotationInProgressError,
  RotationStateConflictError,
  UnknownClientError,
} from '../../lambdas/core/errors';
import { assertTransition } from '../../lambdas/core/key-state';
import { InvalidVerifierOptionsError } from '../../lambdas/core/key-verifier';
import { assertValidRotationId, parseRotationRequest } from '../../lambdas/core/rotation-request';
import { fixedRandom, keyArb, RUNS, thrownBy } from './helpers';

const KEY = generateApiKey('kr', fixedRandom(new Uint8Array(32).fill(0x5a)));
const LONG_KEY = generateApiKey('abcdefghijklmnop', fixedRandom(new Uint8Array(32).fill(0xa5)));

/** The names Step Functions Catch/Retry match on: part of the state machine's public contract. */
const CASES: readonly [string, () => KeyRollError, string][] = [
  ['InvalidRotationInputError', () => new InvalidRotationInputError('Invalid rotation input: mode: bad', ['mode: bad']), 'InvalidRotationInput'],
  ['UnknownClientError', () => new UnknownClientError('acme'), 'UnknownClient'],
  ['RotationInProgressError', () => new RotationInProgressError('acme', 'rot-1'), 'RotationInProgress'],
  ['MalformedKeyError', () => new MalformedKeyError('checksum'), 'MalformedKey'],
  ['IllegalKeyTransitionError', () => new IllegalKeyTransitionError('kr_kid_0011223344556677', 'REVOKED', 'ACTIVE'), 'IllegalKeyTransition'],
  ['KeyVerificationFailedError', () => new KeyVerificationFailedError('pending', 'unknown'), 'KeyVerificationFailed'],
  ['RotationStateConflictError', () => new RotationStateConflictError('no AWSCURRENT version'), 'RotationStateConflict'],
  ['InvalidRotationIdError', () => new InvalidRotationIdError('short'), 'InvalidRotationId'],
];

describe('error classes', () => {
  it.each(CASES)('%s has name %j and is a KeyRollError and an Error', (_cls, make, name) => {
    const error = make();
    expect(error.name).toBe(name);
    expect(error).toBeInstanceOf(KeyRollError);
    expect(error).toBeInstanceOf(Error);
    expect(String(error).startsWith(`${name}: `)).toBe(true);
    expect(error.stack).toContain(name);
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('all names are distinct', () => {
    const names = CASES.map(([, make]) => make().name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('keep their fields', () => {
    expect(new InvalidRotationInputError('m', ['a: b', 'c: d']).issues).toEqual(['a: b', 'c: d']);
    expect(new UnknownClientError('acme').clientId).toBe('acme');
    const inProgress = new RotationInProgressError('acme', 'rot-1');
    expect([inProgress.clientId, inProgress.heldBy]).toEqual(['acme', 'rot-1']);
    expect(inProgress.message).toContain('acme');
    expect(inProgress.message).toContain('rot-1');
    expect(new MalformedKeyError('prefix').reason).toBe('prefix');
    const illegal = new IllegalKeyTransitionError('kid', 'REVOKED', 'ACTIVE');
    expect([illegal.keyId, illegal.from, illegal.to]).toEqual(['kid', 'REVOKED', 'ACTIVE']);
    expect(illegal.message).toBe('Key kid cannot move from REVOKED to ACTIVE.');
    const failed = new KeyVerificationFailedError('current', 'revoked');
    expect([failed.which, failed.reason]).toEqual(['current', 'revoked']);
    expect(failed.message).toBe('The current key does not authenticate: revoked.');
    expect(new InvalidRotationIdError('abc').rotationId).toBe('abc');
  });

  it('RotationStateConflictError keeps its cause', () => {
    const cause = new Error('ConditionalCheckFailed');
    const error = new RotationStateConflictError('lock held by another rotation', { cause });
    expect(error.cause).toBe(cause);
    expect(error.message).toBe('lock held by another rotation');
  });

  it.each(['length', 'format', 'prefix', 'checksum'] as const)('MalformedKeyError(%j) names the reason in its message', (reason) => {
    expect(new MalformedKeyError(reason).message).toBe(`The key is malformed (${reason}).`);
  });
});

describe('one rule for error classes', () => {
  const ROOT = path.join(__dirname, '..', '..');
  /** `class X extends Y` in the .ts files under `dir`, as [file, X, Y]. */
  function classesUnder(dir: string): [string, string, string][] {
    const found: [string, string, string][] = [];
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const file = path.join(entry.parentPath, entry.name);
      for (const match of fs.readFileSync(file, 'utf8').matchAll(/class (\w+) extends (\w+)/g)) found.push([path.relative(ROOT, file), match[1], match[2]]);
    }
    return found;
  }

  it("the Lambdas' errors extend KeyRollError; nothing under lambdas/ extends Error but KeyRollError itself", () => {
    const classes = classesUnder('lambdas');
    expect(classes.filter(([, , base]) => base === 'KeyRollError').length).toBeGreaterThan(20); // the scan sees them
    expect(classes.filter(([, name, base]) => base === 'Error' && name !== 'KeyRollError')).toEqual([]);
  });

  it('the tools (lib, bin, bench, local, operator/cli) extend Error, never KeyRollError', () => {
    expect(['lib', 'bin', 'bench', 'local', 'operator/cli'].flatMap(classesUnder).filter(([, , base]) => base === 'KeyRollError')).toEqual([]);
  });

  it.each<[string, string, () => Error]>([
    ['UnauthorizedError', 'Unauthorized', () => new UnauthorizedError()],
    ['InvalidRouteScopesError', 'InvalidRouteScopes', () => new InvalidRouteScopesError('bad')],
    ['UnreadableAttributeError', 'UnreadableAttribute', () => new UnreadableAttributeError('bad')],
    ['InvalidVerifierOptionsError', 'InvalidVerifierOptions', () => new InvalidVerifierOptionsError('bad')],
    ['DynamoDbError', 'ConditionalCheckFailedException', () => new DynamoDbError({ name: 'ConditionalCheckFailedException', message: 'm', metadata: { attempts: 1, totalRetryDelay: 0 }, fault: 'client' })],
  ])('%s (moved under KeyRollError) keeps its name %j', (_cls, name, make) => {
    const error = make();
    expect(error).toBeInstanceOf(KeyRollError);
    expect(error.name).toBe(name);
    expect(String(error).startsWith(`${name}: `)).toBe(true);
  });

  it('UnauthorizedError keeps the exact message API Gateway maps to a 401', () => {
    expect(new UnauthorizedError().message).toBe('Unauthorized');
  });
});

describe('messages never carry key material', () => {
  it('InvalidRotationIdError reports the length, not the id', () => {
    const error = new InvalidRotationIdError(LONG_KEY);
    expect(error.message).not.toContain(LONG_KEY);
    expect(error.message).toContain(`got ${LONG_KEY.length} characters`);
  });

  it('MalformedKeyError from parseApiKey never echoes the candidate (property)', () => {
    fc.assert(
      fc.property(keyArb, fc.nat(), fc.constantFrom('A', 'b', '9', '_', '-', ' '), (k, raw, ch) => {
        const index = raw % k.key.length;
        fc.pre(k.key[index] !== ch);
        const candidate = k.key.slice(0, index) + ch + k.key.slice(index + 1);
        const error = thrownBy(() => parseApiKey(candidate, k.prefix)) as MalformedKeyError;
        expect(error).toBeInstanceOf(MalformedKeyError);
        const secretPart = k.key.slice(k.prefix.length + 1, k.prefix.length + 9);
        expect(error.message).not.toContain(secretPart);
        expect(JSON.stringify(error)).not.toContain(secretPart);
        expect(JSON.stringify(describeError(error))).not.toContain(secretPart);
      }),
      RUNS,
    );
  });

  it('IllegalKeyTransitionError raised with a key id does not reveal the key (property)', () => {
    fc.assert(
      fc.property(keyArb, ({ key, prefix }) => {
        const error = thrownBy(() => assertTransition(keyIdOf(key), 'REVOKED', 'ACTIVE')) as Error;
        expect(error.message).toContain(keyIdOf(key));
        expect(error.message).not.toContain(key.slice(prefix.length + 1, prefix.length + 9));
      }),
      RUNS,
    );
  });

  it('assertValidRotationId rejecting a key does not echo it in the message', () => {
    const error = thrownBy(() => assertValidRotationId(LONG_KEY)) as Error;
    expect(error).toBeInstanceOf(InvalidRotationIdError);
    expect(error.message).not.toContain(LONG_KEY.slice(17));
  });

  const base = { clientId: 'acme', mode: 'manual', reason: 'r', requestedBy: 'ops' };

  const SECRET = KEY.slice(3, 30);
  const LONG_SECRET = LONG_KEY.slice(17, 44);

  it.each([
    ['clientId (too long)', { clientId: LONG_KEY }, LONG_SECRET],
    ['clientId with a control character', { clientId: `${KEY}\n` }, SECRET],
    ['mode', { mode: KEY }, SECRET],
    ['reason with a control character', { reason: `${KEY}\u0000` }, SECRET],
    ['requestedBy (too long)', { requestedBy: `${KEY}${'x'.repeat(128)}` }, SECRET],
    ['overlapSeconds', { overlapSeconds: KEY }, SECRET],
    ['an unknown field holding the key', { apiKey: KEY }, SECRET],
  ])('InvalidRotationInputError for a key in %s does not echo the key', (_label, fields, secret) => {
    const error = thrownBy(() => parseRotationRequest({ ...base, ...fields })) as InvalidRotationInputError;
    expect(error).toBeInstanceOf(InvalidRotationInputError);
    expect(error.message).not.toContain(secret);
    for (const issue of error.issues) expect(issue).not.toContain(secret);
  });

  // valibot's default messages echo the received value and unknown field names; the
  // request schema replaces every one of them so a key given as the whole input or as a
  // field name cannot reach InvalidRotationInputError (errors.ts: "Messages never contain
  // key material").
  it('control: a non-object input without key material is rejected as (input)', () => {
    const error = thrownBy(() => parseRotationRequest('hello')) as InvalidRotationInputError;
    expect(error.issues[0]).toMatch(/^\(input\): /);
  });
  it('a key passed as the whole input does not appear in the message', () => {
    const error = thrownBy(() => parseRotationRequest(KEY)) as InvalidRotationInputError;
    expect(error).toBeInstanceOf(InvalidRotationInputError);
    expect(error.message).not.toContain(KEY.slice(3, 30));
  });
  it('a key used as a field name does not appear in the message', () => {
    const error = thrownBy(() => parseRotationRequest({ ...base, [KEY]: true })) as InvalidRotationInputError;
    expect(error).toBeInstanceOf(InvalidRotationInputError);
    expect(error.message).not.toContain(KEY.slice(3, 30));
    for (const issue of error.issues) expect(issue).not.toContain(KEY.slice(3, 30));
  });
});

describe('describeError', () => {
  it.each(CASES)('returns the name and message of a %s', (_cls, make, name) => {
    const error = make();
    expect(describeError(error)).toEqual({ name, message: error.message });
  });

  it('returns name and message of plain errors and built-in subclasses', () => {
    expect(describeError(new TypeError('boom'))).toEqual({ name: 'TypeError', message: 'boom' });
    expect(describeError(new RangeError('bad prefix'))).toEqual({ name: 'RangeError', message: 'bad prefix' });
  });

  it('returns only name and message: extra fields of an error are not serialized', () => {
    const error = new InvalidRotationIdError(KEY);
    const described = describeError(error);
    expect(Object.keys(described).sort()).toEqual(['message', 'name']);
    expect(JSON.stringify(described)).not.toContain(KEY);
  });

  it('never serializes a thrown non-Error value (property)', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((x) => !(x instanceof Error)),
        (value) => {
          expect(describeError(value)).toEqual({ name: 'UnknownError', message: 'A non-Error value was thrown.' });
        },
      ),
      RUNS,
    );
    expect(JSON.stringify(describeError({ apiKey: KEY }))).not.toContain(KEY);
    expect(JSON.stringify(describeError(KEY))).not.toContain(KEY);
  });
});
