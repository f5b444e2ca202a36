/**
 * The one configuration reader (lambdas/core/configuration.ts) and every variable the functions
 * read: unset → the construct's default (or, when required, InvalidConfiguration); malformed,
 * negative or out of bounds → InvalidConfiguration naming the variable and never echoing the
 * value, with nothing else happening (the entry handlers refuse before any AWS call). And the
 * stack itself: every function's environment in the synthesized template passes its reader.
 */
import { readPickupEnvironment } from '../../lambdas/aws/pickup/pickup-environment';
import { readAuthorizerEnvironment } from '../../lambdas/aws/auth/authorizer-environment';
import { DEFAULT_FLEET_PAGE_SETTINGS, readFleetPageEnvironment } from '../../lambdas/aws/fleet/fleet-page-environment';
import { readRotationEnvironment } from '../../lambdas/aws/rotation/rotation-environment';
import { OPTIONAL_STATE_MACHINE_ARN, POWERTOOLS_SERVICE_NAME, REQUIRED_STATE_MACHINE_ARN } from '../../lambdas/core/common-variables';
import { decimal, optional, readConfiguration, readVariable, required, text, type Environment } from '../../lambdas/core/configuration';
import { InvalidConfigurationError } from '../../lambdas/core/errors';
import { synthesizeKeyRoll } from '../../local/synthesized-workflow';

/** What the stack sets on a rotation function (lib/keyroll-rotation.ts, defaults). */
const ROTATION_ENV = {
  TABLE_NAME: 'KeyRollLocal-RotationTable31923656-1A2B3C4D5E6F',
  KEY_PREFIX: 'kr',
  DEFAULT_OVERLAP_SECONDS: '86400',
  MIN_OVERLAP_SECONDS: '60',
  MAX_OVERLAP_SECONDS: '2592000',
  LOCK_TTL_SECONDS: '2599200',
  USAGE_WINDOW_SECONDS: '3600',
  REMINDER_INTERVAL_SECONDS: '21600',
  USAGE_CHECK_LEAD_SECONDS: '300',
  ZOMBIE_WINDOW_SECONDS: '60',
};

/** The refusal `read` throws: InvalidConfiguration naming `variable`, the message without the value. */
function refusal(read: () => unknown, variable: string, value?: string): InvalidConfigurationError {
  let caught: unknown;
  try {
    read();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidConfigurationError);
  const error = caught as InvalidConfigurationError;
  expect({ name: error.name, variable: error.variable }).toEqual({ name: 'InvalidConfiguration', variable });
  expect(error.message).toMatch(new RegExp(`^Environment variable ${variable} (is not set; it must be|must be) `));
  if (value !== undefined && value.length > 2) expect(error.message).not.toContain(value);
  return error;
}

describe('the reader', () => {
  const rules = {
    NAME: required('a name', text(/^[a-z]+$/)),
    COUNT: optional('a whole number from 1 to 10', decimal({ min: 1, max: 10, integer: true }), 5),
    RATE: optional('greater than 0', decimal({ above: 0 })),
  };

  it('reads set values, fills defaults for unset ones (absent or empty)', () => {
    expect(readConfiguration({ NAME: 'abc', COUNT: '7', RATE: '0.5' }, rules)).toEqual({ NAME: 'abc', COUNT: 7, RATE: 0.5 });
    expect(readConfiguration({ NAME: 'abc', COUNT: '', RATE: undefined }, rules)).toEqual({ NAME: 'abc', COUNT: 5, RATE: undefined });
  });

  it.each([
    [{}, 'NAME', /is not set; it must be a name/],
    [{ NAME: '' }, 'NAME', /is not set/],
    [{ NAME: 'ABC' }, 'NAME', /must be a name/],
    [{ NAME: 'abc', COUNT: '0' }, 'COUNT', /must be a whole number from 1 to 10/],
    [{ NAME: 'abc', COUNT: '11' }, 'COUNT', /must be a whole number from 1 to 10/],
    [{ NAME: 'abc', COUNT: '2.5' }, 'COUNT', /whole number/],
    [{ NAME: 'abc', COUNT: '-3' }, 'COUNT', /whole number/],
    [{ NAME: 'abc', RATE: '0' }, 'RATE', /greater than 0/],
    [{ NAME: 'abc', RATE: '-0.5' }, 'RATE', /greater than 0/],
  ] as [Environment, string, RegExp][])('refuses %p naming %s, never replacing it by the default', (env, variable, message) => {
    expect(refusal(() => readConfiguration(env, rules), variable).message).toMatch(message);
  });

  // Number() would take all of these; configuration is plain decimal text.
  it.each(['1e3', '0x10', 'Infinity', 'NaN', ' 5', '5 ', '+5', '5.', '.5', '1_000', '٣'])('refuses %p as a number', (raw) => {
    refusal(() => readVariable({ N: raw }, 'N', required('a number', decimal())), 'N');
  });
});

describe('rotation functions (TABLE_NAME, KEY_PREFIX and the rotation settings)', () => {
  it('reads what the stack sets into the settings', () => {
    expect(readRotationEnvironment({ ...ROTATION_ENV, VERIFY_ENDPOINT_URL: 'https://api.example.com/whoami' })).toEqual({
      tableName: ROTATION_ENV.TABLE_NAME,
      settings: {
        keyPrefix: 'kr',
        defaultOverlapSeconds: 86_400,
        overlapBounds: { minSeconds: 60, maxSeconds: 2_592_000 },
        lockTtlSeconds: 2_599_200,
        usageWindowSeconds: 3600,
        reminderIntervalSeconds: 21_600,
        usageCheckLeadSeconds: 300,
        verifyEndpointUrl: 'https://api.example.com/whoami',
        zombieWindowSeconds: 60,
      },
    });
  });

  it('fills the defaults of today when only the table and prefix are set', () => {
    expect(readRotationEnvironment({ TABLE_NAME: 'keys', KEY_PREFIX: 'krt' }).settings).toEqual({
      keyPrefix: 'krt',
      defaultOverlapSeconds: 24 * 3600,
      overlapBounds: { minSeconds: 60, maxSeconds: 30 * 24 * 3600 },
      lockTtlSeconds: 31 * 24 * 3600,
      usageWindowSeconds: 3600,
      reminderIntervalSeconds: 6 * 3600,
      usageCheckLeadSeconds: 300,
      zombieWindowSeconds: 60,
    });
  });

  const SECONDS = [
    'DEFAULT_OVERLAP_SECONDS',
    'MIN_OVERLAP_SECONDS',
    'MAX_OVERLAP_SECONDS',
    'LOCK_TTL_SECONDS',
    'USAGE_WINDOW_SECONDS',
    'REMINDER_INTERVAL_SECONDS',
    'USAGE_CHECK_LEAD_SECONDS',
    'ZOMBIE_WINDOW_SECONDS',
  ];
  const rows: [string, string][] = [
    ...['TABLE_NAME', 'KEY_PREFIX'].map((v): [string, string] => [v, '']),
    ['TABLE_NAME', 'ab'],
    ['TABLE_NAME', 'keys table'],
    ['TABLE_NAME', 'x'.repeat(256)],
    ['KEY_PREFIX', 'KR'],
    ['KEY_PREFIX', 'k'],
    ['KEY_PREFIX', '1kr'],
    ['KEY_PREFIX', 'kr_'],
    ...SECONDS.flatMap((v): [string, string][] => [
      [v, 'ten'],
      [v, '-60'],
      [v, '-1'],
      [v, '3600.5'],
      [v, '1e4'],
      [v, 'Infinity'],
    ]),
    // Out of bounds, each alone or against another variable.
    ['MIN_OVERLAP_SECONDS', '59'],
    ['MIN_OVERLAP_SECONDS', '0'],
    ['MAX_OVERLAP_SECONDS', String(365 * 24 * 3600)],
    ['DEFAULT_OVERLAP_SECONDS', '59'],
    ['DEFAULT_OVERLAP_SECONDS', '2592001'],
    ['LOCK_TTL_SECONDS', '0'],
    ['LOCK_TTL_SECONDS', '2592000'],
    ['USAGE_WINDOW_SECONDS', '59'],
    ['USAGE_CHECK_LEAD_SECONDS', '0'],
    ['REMINDER_INTERVAL_SECONDS', '0'],
    ['REMINDER_INTERVAL_SECONDS', '599'],
    ['ZOMBIE_WINDOW_SECONDS', '30'],
    ['ZOMBIE_WINDOW_SECONDS', '0'],
    ['VERIFY_ENDPOINT_URL', 'http://api.example.com/whoami'],
    ['VERIFY_ENDPOINT_URL', 'https://user:secret-password@api.example.com/whoami'],
    ['VERIFY_ENDPOINT_URL', 'api.example.com/whoami'],
  ];
  it.each(rows)('%s=%p → InvalidConfiguration naming it', (variable, value) => {
    refusal(() => readRotationEnvironment({ ...ROTATION_ENV, [variable]: value }), variable, value);
  });

  it.each([
    ['MIN_OVERLAP_SECONDS', { MIN_OVERLAP_SECONDS: '7200', MAX_OVERLAP_SECONDS: '3600', DEFAULT_OVERLAP_SECONDS: '3600' }],
    ['DEFAULT_OVERLAP_SECONDS', { MIN_OVERLAP_SECONDS: '3600', DEFAULT_OVERLAP_SECONDS: '600' }],
    ['LOCK_TTL_SECONDS', { MAX_OVERLAP_SECONDS: '86400', LOCK_TTL_SECONDS: '86400' }],
    ['REMINDER_INTERVAL_SECONDS', { USAGE_CHECK_LEAD_SECONDS: '3600', REMINDER_INTERVAL_SECONDS: '3600' }],
  ])('refuses variables that disagree, naming %s', (variable, values) => {
    refusal(() => readRotationEnvironment({ ...ROTATION_ENV, ...values }), variable);
  });
});

describe('the fleet page function (FLEET_PAGE_SIZE, FLEET_WRITES_PER_SECOND)', () => {
  it('reads set values; unset: the construct defaults (500 per page, 48 writes/s)', () => {
    expect(readFleetPageEnvironment({ FLEET_PAGE_SIZE: '3', FLEET_WRITES_PER_SECOND: '9.6' })).toEqual({ pageSize: 3, writesPerSecond: 9.6 });
    expect(readFleetPageEnvironment({})).toEqual(DEFAULT_FLEET_PAGE_SETTINGS);
    expect(DEFAULT_FLEET_PAGE_SETTINGS).toEqual({ pageSize: 500, writesPerSecond: 48 });
  });

  // Before: a bad value here was silently replaced by the default, and 501 by 500.
  it.each([
    ['FLEET_PAGE_SIZE', '0'],
    ['FLEET_PAGE_SIZE', '-3'],
    ['FLEET_PAGE_SIZE', '501'],
    ['FLEET_PAGE_SIZE', '2.5'],
    ['FLEET_PAGE_SIZE', 'all'],
    ['FLEET_WRITES_PER_SECOND', '0'],
    ['FLEET_WRITES_PER_SECOND', '-48'],
    ['FLEET_WRITES_PER_SECOND', '51'],
    ['FLEET_WRITES_PER_SECOND', 'fast'],
  ])('%s=%p → InvalidConfiguration naming it', (variable, value) => {
    refusal(() => readFleetPageEnvironment({ [variable]: value }), variable, value);
  });
});

describe('the authorizer (beyond test/handlers/authorizer-environment.test.ts)', () => {
  const base = { TABLE_NAME: 'keys', KEY_PREFIX: 'kr' };
  it.each([
    ['TABLE_NAME', 'k'],
    ['KEY_PREFIX', 'K R'],
    ['CACHE_TTL_MS', '10001'],
    ['CACHE_TTL_MS', '-0'],
    ['NEGATIVE_CACHE_TTL_MS', '-1'],
    ['NEGATIVE_CACHE_TTL_MS', '10001'],
    ['USAGE_INTERVAL_SECONDS', '-300'],
    ['USAGE_INTERVAL_SECONDS', 'often'],
    ['UNLISTED_ROUTES', 'Allow'],
  ])('%s=%p → InvalidConfiguration naming it', (variable, value) => {
    refusal(() => readAuthorizerEnvironment({ ...base, [variable]: value }), variable, value);
  });
});

describe('STATE_MACHINE_ARN and POWERTOOLS_SERVICE_NAME', () => {
  const arn = 'arn:aws:states:us-east-1:123456789012:stateMachine:KeyRoll-Rotation-8BC2A8F1';

  it('reads a state machine ARN (any partition); required by the scheduled start, optional for beginRotation', () => {
    expect(readVariable({ STATE_MACHINE_ARN: arn }, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN)).toBe(arn);
    const cn = 'arn:aws-cn:states:cn-north-1:123456789012:stateMachine:KeyRoll';
    expect(readVariable({ STATE_MACHINE_ARN: cn }, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN)).toBe(cn);
    expect(readVariable({}, 'STATE_MACHINE_ARN', OPTIONAL_STATE_MACHINE_ARN)).toBeUndefined();
    refusal(() => readVariable({}, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN), 'STATE_MACHINE_ARN');
  });

  // KeyRollSchedules takes any state machine; AWS allows names KeyRollRotation's own check would not
  // (https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html).
  it.each(['rotator.v2', 'keys+rotation@team=a', 'rotación'])('STATE_MACHINE_ARN with the name %p, which AWS allows, is read', (name) => {
    const value = `arn:aws:states:us-east-1:123456789012:stateMachine:${name}`;
    expect(readVariable({ STATE_MACHINE_ARN: value }, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN)).toBe(value);
  });

  it.each([
    'KeyRoll-Rotation',
    'arn:aws:states:us-east-1:123456789012:execution:KeyRoll:run-1',
    'arn:aws:lambda:us-east-1:123456789012:function:KeyRoll',
    `${arn}:PROD`,
    'arn:aws:states:us-east-1:1234:stateMachine:KeyRoll',
    'arn:aws:states:us-east-1:123456789012:stateMachine:Key Roll',
    'arn:aws:states:us-east-1:123456789012:stateMachine:KeyRoll/v2',
    'arn:aws:states:us-east-1:123456789012:stateMachine:Key*',
    `arn:aws:states:us-east-1:123456789012:stateMachine:${'k'.repeat(81)}`,
  ])('STATE_MACHINE_ARN=%p → InvalidConfiguration naming it, required or not', (value) => {
    refusal(() => readVariable({ STATE_MACHINE_ARN: value }, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN), 'STATE_MACHINE_ARN', value);
    refusal(() => readVariable({ STATE_MACHINE_ARN: value }, 'STATE_MACHINE_ARN', OPTIONAL_STATE_MACHINE_ARN), 'STATE_MACHINE_ARN', value);
  });

  it('POWERTOOLS_SERVICE_NAME: set, or keyroll; a control character or 129 characters is refused', () => {
    expect(readVariable({ POWERTOOLS_SERVICE_NAME: 'payments-keys' }, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME)).toBe('payments-keys');
    expect(readVariable({}, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME)).toBe('keyroll');
    refusal(() => readVariable({ POWERTOOLS_SERVICE_NAME: 'a\nb' }, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME), 'POWERTOOLS_SERVICE_NAME');
    refusal(() => readVariable({ POWERTOOLS_SERVICE_NAME: 'x'.repeat(129) }, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME), 'POWERTOOLS_SERVICE_NAME');
  });
});

describe('the Lambda entry handlers refuse a bad configuration before anything else happens', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  });

  /** The entry module loaded afresh (a new container) with `env` as its environment. */
  function entry(file: string, env: Record<string, string>): (input: unknown) => Promise<unknown> {
    for (const name of [...Object.keys(ROTATION_ENV), 'STATE_MACHINE_ARN', 'FLEET_PAGE_SIZE', 'FLEET_WRITES_PER_SECOND', 'VERIFY_ENDPOINT_URL', 'PICKUP_AUDIENCE']) delete process.env[name];
    Object.assign(process.env, env, { POWERTOOLS_LOG_LEVEL: 'SILENT' });
    let loaded: { handler: (input: unknown) => Promise<unknown> } | undefined;
    jest.isolateModules(() => {
      loaded = require(`../../lambdas/handlers/${file}`) as typeof loaded;
    });
    return loaded!.handler;
  }

  // An endpoint nothing listens on: a call that got through would fail with a network error, not InvalidConfiguration.
  const noAws = { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' };
  const rotationSteps = ['begin-rotation', 'create-secret', 'set-secret', 'test-secret', 'finish-secret', 'check-usage', 'retire-old-key', 'rollback-rotation', 'fleet-page'];

  it.each(rotationSteps)('%s: importing needs no environment; a negative overlap fails each invocation with InvalidConfiguration', async (file) => {
    const handler = entry(file, { ...noAws, ...ROTATION_ENV, MIN_OVERLAP_SECONDS: '-60' });
    for (let i = 0; i < 2; i++) await expect(handler({ rotationId: 'r', clientId: 'c' })).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'MIN_OVERLAP_SECONDS' });
    const unset = entry(file, noAws);
    await expect(unset({})).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'TABLE_NAME' });
  });

  it('begin-rotation: a malformed STATE_MACHINE_ARN; fleet-page: a page over 500', async () => {
    await expect(entry('begin-rotation', { ...noAws, ...ROTATION_ENV, STATE_MACHINE_ARN: 'KeyRoll' })({})).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'STATE_MACHINE_ARN' });
    await expect(entry('fleet-page', { ...noAws, ...ROTATION_ENV, FLEET_PAGE_SIZE: '501' })({})).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'FLEET_PAGE_SIZE' });
  });

  it('pickup: TABLE_NAME unset; PICKUP_AUDIENCE unset, not https, or with a query', async () => {
    const event = { body: 'x', headers: {} };
    await expect(entry('pickup', noAws)(event)).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'TABLE_NAME' });
    for (const audience of [undefined, 'http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/v1/pickup', 'https://keys.example.com/pickup?x=1', 'https://user@keys.example.com/pickup']) {
      const env = { ...noAws, TABLE_NAME: 'keyroll', ...(audience === undefined ? {} : { PICKUP_AUDIENCE: audience }) };
      await expect(entry('pickup', env)(event)).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'PICKUP_AUDIENCE' });
    }
  });

  it('scheduled-start: STATE_MACHINE_ARN unset or malformed', async () => {
    await expect(entry('scheduled-start', noAws)({ clientId: 'acme', scheduledTime: '2026-12-06T01:00:00Z' })).rejects.toMatchObject({ name: 'InvalidConfiguration', variable: 'STATE_MACHINE_ARN' });
    await expect(entry('scheduled-start', { ...noAws, STATE_MACHINE_ARN: 'arn:aws:states:::stateMachine:x' })({})).rejects.toMatchObject({ name: 'InvalidConfiguration' });
  });
});

describe('the stack sets values its readers accept', () => {
  /**
   * A synthesized value as CloudFormation resolves it: Ref of a table is its name, of a state
   * machine its ARN; an HTTP API's ApiEndpoint is its https URL
   * (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html,
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-stepfunctions-statemachine.html,
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigatewayv2-api.html).
   */
  function resolve(value: unknown, resources: Record<string, { Type: string; Properties: Record<string, unknown> }>): string {
    if (typeof value === 'string') return value;
    const intrinsic = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]]; 'Fn::GetAtt'?: [string, string] };
    if (intrinsic['Fn::Join']) return intrinsic['Fn::Join'][1].map((part) => resolve(part, resources)).join(intrinsic['Fn::Join'][0]);
    if (intrinsic.Ref) {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '123456789012', 'AWS::URLSuffix': 'amazonaws.com' };
      if (pseudo[intrinsic.Ref]) return pseudo[intrinsic.Ref];
      const resource = resources[intrinsic.Ref];
      if (resource.Type === 'AWS::ApiGateway::RestApi') return 'a1b2c3d4e5';
      if (resource.Type === 'AWS::DynamoDB::Table') return `KeyRollLocal-${intrinsic.Ref}-1A2B3C4D5E6F`;
      if (resource.Type === 'AWS::StepFunctions::StateMachine') return `arn:aws:states:us-east-1:123456789012:stateMachine:${String(resource.Properties.StateMachineName)}`;
    }
    if (intrinsic['Fn::GetAtt']?.[1] === 'ApiEndpoint') return 'https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com';
    throw new Error(`Unresolved value in a function's environment: ${JSON.stringify(value)}`);
  }

  it('every function: rotation steps, fleet page, authorizer, scheduled start', () => {
    const { resources } = synthesizeKeyRoll();
    const readBy: Record<string, string[]> = { rotation: [], fleetPage: [], authorizer: [], stateMachineArn: [], pickup: [] };
    for (const [id, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const variables = (resource.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      const env = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolve(value, resources)]));
      const check = (reader: string, read: () => unknown) => {
        read();
        readBy[reader].push(id);
      };
      if ('DEFAULT_OVERLAP_SECONDS' in env) check('rotation', () => readRotationEnvironment(env));
      if ('FLEET_PAGE_SIZE' in env) check('fleetPage', () => readFleetPageEnvironment(env));
      if ('CACHE_TTL_MS' in env) check('authorizer', () => readAuthorizerEnvironment(env));
      if ('PICKUP_AUDIENCE' in env) check('pickup', () => readPickupEnvironment(env));
      if ('STATE_MACHINE_ARN' in env) check('stateMachineArn', () => readVariable(env, 'STATE_MACHINE_ARN', REQUIRED_STATE_MACHINE_ARN));
      readVariable(env, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME);
    }
    // The 8 rotation steps and the fleet page; the authorizer; beginRotation and the scheduled start; the pickup function.
    expect(Object.fromEntries(Object.entries(readBy).map(([reader, ids]) => [reader, ids.length]))).toEqual({ rotation: 9, fleetPage: 1, authorizer: 1, stateMachineArn: 2, pickup: 1 });
    // testSecret's VERIFY_ENDPOINT_URL (the example API's /whoami) was among them.
    expect(readBy.rotation.filter((id) => 'VERIFY_ENDPOINT_URL' in (resources[id].Properties.Environment as { Variables: object }).Variables)).toHaveLength(1);
  }, 120_000);
});
