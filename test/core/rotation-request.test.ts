import fc from 'fast-check';
import { InvalidRotationIdError, InvalidRotationInputError, KeyRollError } from '../../lambdas/core/errors';
import {
  assertValidRotationId,
  CLIENT_ID_PATTERN,
  DEFAULT_OVERLAP_BOUNDS,
  effectiveOverlapSeconds,
  parseRotationRequest,
  ROTATION_ID_PATTERN,
  RotationMode,
  type OverlapBounds,
  type RotationRequest,
} from '../../lambdas/core/rotation-request';
import { RUNS, thrownBy } from './helpers';

const MODES = ['scheduled', 'manual', 'emergency'] as const;
const THIRTY_DAYS = 30 * 24 * 3600;

const base = { clientId: 'acme-prod.v2_x', mode: 'scheduled', reason: 'quarterly rotation', requestedBy: 'ops@example.com' } as const;

/** Asserts that parse rejects `raw` with InvalidRotationInputError and an issue naming `field`; returns the error. */
function expectInvalid(raw: unknown, field: string, bounds?: OverlapBounds): InvalidRotationInputError {
  const error = thrownBy(() => parseRotationRequest(raw, bounds));
  expect(error).toBeInstanceOf(InvalidRotationInputError);
  expect(error).toBeInstanceOf(KeyRollError);
  const e = error as InvalidRotationInputError;
  expect(e.name).toBe('InvalidRotationInput');
  expect(e.issues.length).toBeGreaterThan(0);
  expect(e.issues.some((issue) => issue.startsWith(`${field}: `))).toBe(true);
  for (const issue of e.issues) expect(e.message).toContain(issue);
  return e;
}

/** Text that the schema accepts for reason/requestedBy: no control chars, not blank. */
const printableArb = (maxLength: number) => fc.string({ minLength: 1, maxLength }).filter((s) => s.trim().length > 0 && !/\p{Cc}/u.test(s));

const validRequestArb = fc
  .record({
    clientId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    mode: fc.constantFrom(...MODES),
    reason: printableArb(512),
    requestedBy: printableArb(128),
    overlapSeconds: fc.option(fc.integer({ min: 60, max: THIRTY_DAYS }), { nil: undefined }),
  })
  .map((r) => {
    const { overlapSeconds, ...rest } = r;
    return r.mode === 'emergency' || overlapSeconds === undefined ? rest : { ...rest, overlapSeconds };
  });

describe('constants', () => {
  it('match the documentation', () => {
    expect(RotationMode).toEqual({ SCHEDULED: 'scheduled', MANUAL: 'manual', EMERGENCY: 'emergency' });
    expect(DEFAULT_OVERLAP_BOUNDS).toEqual({ minSeconds: 60, maxSeconds: 2_592_000 });
    expect(CLIENT_ID_PATTERN.test('a')).toBe(true);
    expect(CLIENT_ID_PATTERN.test('a'.repeat(64))).toBe(true);
    expect(CLIENT_ID_PATTERN.test('a'.repeat(65))).toBe(false);
    expect(ROTATION_ID_PATTERN.test('a'.repeat(31))).toBe(false);
  });
});

describe('parseRotationRequest: accepted input', () => {
  it.each(MODES)('accepts a minimal %s request and returns its fields', (mode) => {
    const raw = { ...base, mode };
    const request = parseRotationRequest(raw);
    expect(request).toEqual(raw);
    expect(request.overlapSeconds).toBeUndefined();
  });

  it.each(['scheduled', 'manual'] as const)('accepts a %s request with an overlap at and between the bounds', (mode) => {
    for (const overlapSeconds of [60, 61, 3600, THIRTY_DAYS - 1, THIRTY_DAYS]) {
      expect(parseRotationRequest({ ...base, mode, overlapSeconds }).overlapSeconds).toBe(overlapSeconds);
    }
  });

  it('trims reason and requestedBy', () => {
    const request = parseRotationRequest({ ...base, reason: '  leaked in CI  ', requestedBy: ' alice ' });
    expect(request.reason).toBe('leaked in CI');
    expect(request.requestedBy).toBe('alice');
  });

  it('accepts reason/requestedBy at their maximum lengths and non-ASCII printable text', () => {
    expect(parseRotationRequest({ ...base, reason: 'r'.repeat(512), requestedBy: 'b'.repeat(128) }).reason).toHaveLength(512);
    expect(parseRotationRequest({ ...base, reason: 'Schlüssel rotiert — 鍵 🔑' }).reason).toBe('Schlüssel rotiert — 鍵 🔑');
    // Length is measured after trimming.
    expect(parseRotationRequest({ ...base, reason: `  ${'r'.repeat(512)}  ` }).reason).toHaveLength(512);
  });

  it('honours custom bounds', () => {
    const bounds = { minSeconds: 10, maxSeconds: 20 };
    expect(parseRotationRequest({ ...base, overlapSeconds: 10 }, bounds).overlapSeconds).toBe(10);
    expect(parseRotationRequest({ ...base, overlapSeconds: 20 }, bounds).overlapSeconds).toBe(20);
    expectInvalid({ ...base, overlapSeconds: 9 }, 'overlapSeconds', bounds);
    expectInvalid({ ...base, overlapSeconds: 21 }, 'overlapSeconds', bounds);
    expectInvalid({ ...base, overlapSeconds: 60 }, 'overlapSeconds', bounds);
  });

  it('accepts every well-formed request and returns it unchanged (property)', () => {
    fc.assert(
      fc.property(validRequestArb, (raw) => {
        const request = parseRotationRequest(raw);
        expect(request).toEqual({ ...raw, reason: raw.reason.trim(), requestedBy: raw.requestedBy.trim() });
      }),
      RUNS,
    );
  });

  it('does not mutate its input', () => {
    const raw = { ...base, reason: '  padded  ', overlapSeconds: 600 };
    const copy = structuredClone(raw);
    parseRotationRequest(raw);
    expect(raw).toEqual(copy);
  });
});

describe('parseRotationRequest: rejected input', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a JSON string of a valid request', JSON.stringify(base)],
    ['an empty object', {}],
    ['an array', [base]],
  ])('rejects %s', (_label, raw) => {
    const error = thrownBy(() => parseRotationRequest(raw));
    expect(error).toBeInstanceOf(InvalidRotationInputError);
    expect((error as InvalidRotationInputError).issues.length).toBeGreaterThan(0);
  });

  const FIELDS = ['clientId', 'mode', 'reason', 'requestedBy'] as const;

  describe.each(FIELDS)('field %s', (field) => {
    it.each([
      ['a number', 123],
      ['null', null],
      ['a boolean', true],
      ['an object', { value: 'x' }],
      ['an array', ['x']],
      ['undefined (present but undefined)', undefined],
    ])('rejects %s', (_label, value) => {
      expectInvalid({ ...base, [field]: value }, field);
    });

    it('rejects the empty string', () => {
      expectInvalid({ ...base, [field]: '' }, field);
    });

    it('rejects the field when missing', () => {
      const { [field]: _omitted, ...rest } = base;
      expectInvalid(rest, field);
    });

    it.each([
      ['NUL', 'ab\u0000cd'],
      ['newline', 'ab\ncd'],
      ['carriage return', 'ab\rcd'],
      ['tab', 'ab\tcd'],
      ['escape', 'ab\u001bcd'],
      ['DEL', 'ab\u007fcd'],
      ['C1 NEL', 'ab\u0085cd'],
      ['trailing NUL', 'abcd\u0000'],
    ])('rejects a value with a control character (%s)', (_label, value) => {
      expectInvalid({ ...base, [field]: value }, field);
    });
  });

  it.each([
    ['clientId', 65],
    ['reason', 513],
    ['requestedBy', 129],
  ] as const)('rejects %s longer than its limit (%d)', (field, length) => {
    expectInvalid({ ...base, [field]: 'a'.repeat(length) }, field);
    // ... while one shorter is fine.
    expect(() => parseRotationRequest({ ...base, [field]: 'a'.repeat(length - 1) })).not.toThrow();
  });

  it.each(['   ', '\u00a0 ', '\u2003'])('rejects a blank reason/requestedBy (%j) after trimming', (blank) => {
    expectInvalid({ ...base, reason: blank }, 'reason');
    expectInvalid({ ...base, requestedBy: blank }, 'requestedBy');
  });

  // Audit entries and notifications must stay one honest line: besides control characters,
  // the Unicode line/paragraph separators (Zl/Zp) and format characters such as bidi
  // overrides (Cf) are refused.
  it('control: a reason with an ASCII newline in the middle is rejected', () => {
    expectInvalid({ ...base, reason: 'line one\nline two' }, 'reason');
  });
  it.each([
    ['U+2028', '\u2028'],
    ['U+2029', '\u2029'],
    ['U+202E (right-to-left override)', '\u202e'],
    ['U+2066 (left-to-right isolate)', '\u2066'],
  ])('rejects a reason with %s in the middle', (_label, separator) => {
    expectInvalid({ ...base, reason: `line one${separator}line two` }, 'reason');
  });

  it.each(['-acme', '.acme', '_acme', 'acme prod', 'acme/prod', 'acmé', 'acme:prod', ' acme', 'acme\n'])('rejects the client id %j', (clientId) => {
    expectInvalid({ ...base, clientId }, 'clientId');
  });

  it.each(['Scheduled', 'MANUAL', 'rollback', ' manual', 'emergency '])('rejects the mode %j', (mode) => {
    expectInvalid({ ...base, mode }, 'mode');
  });

  it.each([
    ['negative', -60],
    ['zero', 0],
    ['negative zero', -0],
    ['fractional', 3600.5],
    ['just below min', 59],
    ['below min and fractional', 59.999],
    ['just above max', THIRTY_DAYS + 1],
    ['far above max', Number.MAX_SAFE_INTEGER],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['a numeric string', '3600'],
    ['null', null],
    ['a boolean', true],
    ['a bigint', 3600n],
    ['an array', [3600]],
  ])('rejects overlapSeconds that is %s', (_label, overlapSeconds) => {
    expectInvalid({ ...base, overlapSeconds }, 'overlapSeconds');
  });

  it('rejects every integer overlap outside the bounds and accepts every one inside (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10 * THIRTY_DAYS, max: 10 * THIRTY_DAYS }), (overlapSeconds) => {
        const inside = overlapSeconds >= 60 && overlapSeconds <= THIRTY_DAYS;
        if (inside) expect(parseRotationRequest({ ...base, overlapSeconds }).overlapSeconds).toBe(overlapSeconds);
        else expectInvalid({ ...base, overlapSeconds }, 'overlapSeconds');
      }),
      RUNS,
    );
  });

  it('rejects every non-integer overlap (property)', () => {
    fc.assert(
      fc.property(
        fc.double().filter((d) => !Number.isInteger(d)),
        (overlapSeconds) => {
          expectInvalid({ ...base, overlapSeconds }, 'overlapSeconds');
        },
      ),
      RUNS,
    );
  });

  it('rejects an emergency request that asks for an overlap, even a valid one', () => {
    for (const overlapSeconds of [60, 3600, THIRTY_DAYS]) {
      const e = expectInvalid({ ...base, mode: 'emergency', overlapSeconds }, 'overlapSeconds');
      expect(e.issues).toHaveLength(1);
      expect(e.issues[0]).toMatch(/emergency/);
    }
  });

  it.each([
    ['an unknown field', { extra: 1 }, 'extra'],
    ['a misspelt field', { overlapSecs: 3600 }, 'overlapSecs'],
    ['a field named like an Object.prototype member', { toString: 'x' }, 'toString'],
    ['a field named constructor', { constructor: 'x' }, 'constructor'],
  ])('rejects %s', (_label, extra, field) => {
    expectInvalid({ ...base, ...extra }, field);
  });

  it('rejects an own __proto__ field', () => {
    const raw = JSON.parse(`{"clientId":"a","mode":"manual","reason":"r","requestedBy":"b","__proto__":{"x":1}}`);
    expectInvalid(raw, '__proto__');
  });

  it('lists every offending field', () => {
    const e = expectInvalid({ clientId: '', mode: 'nope', reason: '', requestedBy: 7, overlapSeconds: -1 }, 'clientId');
    for (const field of ['clientId', 'mode', 'reason', 'requestedBy', 'overlapSeconds']) {
      expect(e.issues.some((issue) => issue.startsWith(`${field}: `))).toBe(true);
    }
  });

  it('rejects a request where exactly one field is replaced by garbage, naming that field (property)', () => {
    const garbage = fc.oneof(
      fc.constant(''),
      fc.constant(null),
      fc.integer(),
      fc.boolean(),
      fc.constant({}),
      fc.integer({ min: 600, max: 700 }).map((n) => 'x'.repeat(n)),
      fc.constantFrom('\u0000', 'x\ny', '\u0007bell'),
    );
    fc.assert(
      fc.property(validRequestArb, fc.constantFrom('clientId', 'mode', 'reason', 'requestedBy'), garbage, (raw, field, value) => {
        expectInvalid({ ...raw, [field]: value }, field);
      }),
      RUNS,
    );
  });

  /** Checks the documented post-conditions of a request that parsed. */
  function expectWellFormed(request: RotationRequest): void {
    expect(Object.keys(request).every((k) => ['clientId', 'mode', 'reason', 'requestedBy', 'overlapSeconds'].includes(k))).toBe(true);
    expect(request.clientId).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
    expect(MODES).toContain(request.mode);
    for (const [text, max] of [
      [request.reason, 512],
      [request.requestedBy, 128],
    ] as const) {
      expect(typeof text).toBe('string');
      expect(text).toBe(text.trim());
      expect(text.length).toBeGreaterThanOrEqual(1);
      expect(text.length).toBeLessThanOrEqual(max);
      expect(/\p{Cc}/u.test(text)).toBe(false);
    }
    if (request.overlapSeconds !== undefined) {
      expect(request.mode).not.toBe('emergency');
      expect(Number.isInteger(request.overlapSeconds)).toBe(true);
      expect(request.overlapSeconds).toBeGreaterThanOrEqual(60);
      expect(request.overlapSeconds).toBeLessThanOrEqual(THIRTY_DAYS);
    }
  }

  function parsesOrThrowsInvalidInput(raw: unknown): void {
    let request: RotationRequest;
    try {
      request = parseRotationRequest(raw);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRotationInputError);
      const e = error as InvalidRotationInputError;
      expect(e.name).toBe('InvalidRotationInput');
      expect(e.issues.length).toBeGreaterThan(0);
      for (const issue of e.issues) expect(issue).toMatch(/^[^\n]*: /);
      return;
    }
    expectWellFormed(request);
  }

  it('any JSON-ish value either parses to a well-formed request or throws InvalidRotationInputError, never anything else (property)', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true }),
        parsesOrThrowsInvalidInput,
      ),
      { numRuns: 500 },
    );
  });

  it('objects mixing valid and invalid field values either parse to a well-formed request or throw InvalidRotationInputError (property)', () => {
    const anyOf = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: fc.anything(), weight: 1 });
    const mixed = fc.record(
      {
        clientId: anyOf(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)),
        mode: anyOf(fc.constantFrom(...MODES)),
        reason: anyOf(fc.string({ maxLength: 520 })),
        requestedBy: anyOf(fc.string({ maxLength: 130 })),
        overlapSeconds: anyOf(fc.integer({ min: 0, max: THIRTY_DAYS + 100 })),
        extra: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(fc.property(mixed, parsesOrThrowsInvalidInput), { numRuns: 500 });
  });
});

describe('assertValidRotationId', () => {
  it.each([
    'a'.repeat(32),
    'Z'.repeat(64),
    '0123456789abcdef0123456789ABCDEF',
    '3f2504e0-4f89-11d3-9a0c-0305e82c3301', // a UUID (36 chars)
    'manual-acme-prod_20240101T000000Z-abcdef',
  ])('accepts %j', (id) => {
    expect(() => assertValidRotationId(id)).not.toThrow();
  });

  it('accepts every 32-64 character string of [A-Za-z0-9_-] (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{32,64}$/), (id) => {
        expect(() => assertValidRotationId(id)).not.toThrow();
      }),
      RUNS,
    );
  });

  function expectInvalidId(id: unknown): InvalidRotationIdError {
    const error = thrownBy(() => assertValidRotationId(id));
    expect(error).toBeInstanceOf(InvalidRotationIdError);
    expect(error).toBeInstanceOf(KeyRollError);
    expect((error as InvalidRotationIdError).name).toBe('InvalidRotationId');
    return error as InvalidRotationIdError;
  }

  it.each([
    ['31 characters', 'a'.repeat(31)],
    ['65 characters', 'a'.repeat(65)],
    ['empty', ''],
    ['a dot', `${'a'.repeat(40)}.`],
    ['a space', `${'a'.repeat(40)} b`],
    ['a colon', `${'a'.repeat(40)}:b`],
    ['a trailing newline', `${'a'.repeat(40)}\n`],
    ['non-ASCII', `${'a'.repeat(40)}é`],
  ])('rejects an id with %s', (_label, id) => {
    const e = expectInvalidId(id);
    expect(e.rotationId).toBe(id);
    expect(e.message).toContain(`got ${id.length} characters`);
  });

  it.each([undefined, null, 42, {}, ['a'.repeat(32)]])('rejects the non-string %j', (id) => {
    expect(expectInvalidId(id).rotationId).toBe('');
  });

  it('rejects strings shorter than 32 or longer than 64 (property)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{0,31}$/), fc.stringMatching(/^[A-Za-z0-9_-]{65,120}$/)), (id) => {
        expectInvalidId(id);
      }),
      RUNS,
    );
  });

  it('rejects an otherwise valid id with any other character inserted (property)', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{32,63}$/),
        fc.nat(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !/^[A-Za-z0-9_-]$/.test(c)),
        (id, raw, ch) => {
          const at = raw % (id.length + 1);
          expectInvalidId(id.slice(0, at) + ch + id.slice(at));
        },
      ),
      RUNS,
    );
  });
});

describe('effectiveOverlapSeconds', () => {
  const request = (mode: RotationRequest['mode'], overlapSeconds?: number): RotationRequest => ({
    clientId: 'acme',
    mode,
    reason: 'r',
    requestedBy: 'b',
    ...(overlapSeconds === undefined ? {} : { overlapSeconds }),
  });

  it('takes the request over the client over the default', () => {
    expect(effectiveOverlapSeconds(request('manual', 600), 1200, 3600)).toBe(600);
    expect(effectiveOverlapSeconds(request('manual'), 1200, 3600)).toBe(1200);
    expect(effectiveOverlapSeconds(request('manual'), undefined, 3600)).toBe(3600);
  });

  it('treats a client overlap of 0 as set (clamped to min), not as absent', () => {
    expect(effectiveOverlapSeconds(request('scheduled'), 0, 3600)).toBe(60);
  });

  it('clamps into the bounds', () => {
    expect(effectiveOverlapSeconds(request('scheduled'), 5, 3600)).toBe(60);
    expect(effectiveOverlapSeconds(request('scheduled'), undefined, 10 * THIRTY_DAYS)).toBe(THIRTY_DAYS);
    expect(effectiveOverlapSeconds(request('scheduled'), undefined, 15, { minSeconds: 10, maxSeconds: 20 })).toBe(15);
    expect(effectiveOverlapSeconds(request('scheduled'), undefined, 5, { minSeconds: 10, maxSeconds: 20 })).toBe(10);
    expect(effectiveOverlapSeconds(request('scheduled'), undefined, 25, { minSeconds: 10, maxSeconds: 20 })).toBe(20);
  });

  it('is 0 in emergency mode whatever the client and default say', () => {
    expect(effectiveOverlapSeconds(request('emergency'), 1200, 3600)).toBe(0);
    expect(effectiveOverlapSeconds(request('emergency'), undefined, 3600)).toBe(0);
  });

  const optionalInt = fc.option(fc.integer({ min: -THIRTY_DAYS, max: 3 * THIRTY_DAYS }), { nil: undefined });
  const boundsArb = fc.tuple(fc.integer({ min: 0, max: THIRTY_DAYS }), fc.integer({ min: 0, max: THIRTY_DAYS })).map(([a, b]) => ({ minSeconds: Math.min(a, b), maxSeconds: Math.max(a, b) }));

  it('precedence and clamping hold for all inputs (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODES), optionalInt, optionalInt, fc.integer({ min: -THIRTY_DAYS, max: 3 * THIRTY_DAYS }), boundsArb, (mode, requested, client, fallback, bounds) => {
        const actual = effectiveOverlapSeconds(request(mode, requested), client, fallback, bounds);
        if (mode === 'emergency') {
          expect(actual).toBe(0);
          return;
        }
        const chosen = requested ?? client ?? fallback;
        const expected = chosen < bounds.minSeconds ? bounds.minSeconds : chosen > bounds.maxSeconds ? bounds.maxSeconds : chosen;
        expect(actual).toBe(expected);
        expect(actual).toBeGreaterThanOrEqual(bounds.minSeconds);
        expect(actual).toBeLessThanOrEqual(bounds.maxSeconds);
      }),
      RUNS,
    );
  });

  it('returns the request overlap unchanged for every request that parsed (property)', () => {
    fc.assert(
      fc.property(validRequestArb, optionalInt, fc.integer({ min: 60, max: THIRTY_DAYS }), (raw, client, fallback) => {
        const parsed = parseRotationRequest(raw);
        const actual = effectiveOverlapSeconds(parsed, client, fallback);
        if (parsed.mode === 'emergency') expect(actual).toBe(0);
        else if (parsed.overlapSeconds !== undefined) expect(actual).toBe(parsed.overlapSeconds);
        else expect(actual).toBeGreaterThanOrEqual(60);
      }),
      RUNS,
    );
  });
});
