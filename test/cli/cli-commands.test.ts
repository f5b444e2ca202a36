/**
 * The `keyroll` commands against moto, in-process: each command's effect and --json output,
 * refusals (exit 1), bad arguments (exit 2, nothing changed), and no key in any output.
 */
import { randomUUID } from 'node:crypto';
import { GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { Output } from '../../operator/cli/output';
import { rotationProgress } from '../../operator/cli/progress';
import { SecretTap, SourceKind } from '../support/secret-tap';
import { CliWorld, json, KEY_SHAPE, sfn } from './cli-harness';

let world: CliWorld;
let keys: KeyRepository;

beforeAll(async () => {
  world = await CliWorld.create();
  keys = new KeyRepository(dynamoDbClient(), world.outputs.TableName);
});

afterAll(async () => {
  // Invariant 5 at the CLI's edge: no plaintext key in anything it printed, no key-shaped text at all.
  const tap = new SecretTap();
  tap.addKeys(await world.allPlaintextKeys());
  for (const [i, text] of world.transcript.entries()) tap.add(`cli run ${i >> 1} ${i % 2 ? 'stderr' : 'stdout'}`, text, SourceKind.CLI_OUTPUT);
  await tap.addStore({ tableName: world.outputs.TableName, secretNamePrefix: world.outputs.SecretNamePrefix });
  tap.expectNoPlaintext({ minRecords: 20, kinds: [SourceKind.CLI_OUTPUT, SourceKind.DYNAMODB_ITEM] });
  const everything = world.transcript.join('\n');
  expect(everything).not.toMatch(KEY_SHAPE);
  expect(everything).not.toContain('[REDACTED]');
});

describe('clients add / list / show', () => {
  it('onboards a client with its first key and schedule, prints ids only, and converges on a re-run', async () => {
    const id = `acme-${randomUUID().slice(0, 8)}`;
    const added = await world.cli(
      '--json',
      'clients',
      'add',
      id,
      '--scopes',
      'orders:read,orders:write',
      '--interval-days',
      '30',
      '--overlap',
      '24h',
      '--max-overlap',
      '7d',
      '--timezone',
      'Europe/Paris',
      '--window',
      '02:00-04:00',
      '--reason',
      'contract 2026-114',
    );
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const out = json(added);
    expect(out).toMatchObject({
      clientId: id,
      registered: true,
      secretId: `${world.outputs.SecretNamePrefix}${id}`,
      scopes: ['orders:read', 'orders:write'],
      policy: { intervalDays: 30, overlapSeconds: 86_400, maxOverlapSeconds: 604_800, timeZone: 'Europe/Paris', window: { start: '02:00', end: '04:00' } },
      schedule: { outcome: 'created', expression: 'rate(30 days)', timeZone: 'Europe/Paris', flexibleWindowMinutes: 120 },
      actor: 'test-operator',
    });
    expect(out.currentKeyId).toMatch(/^kr_kid_[0-9a-f]{16}$/);
    // The key is in the secret, and its id is what the CLI printed.
    expect(await world.keyAt(id, 'AWSCURRENT')).toMatch(/^kr_/);
    const schedule = await new SchedulerClient({}).send(new GetScheduleCommand({ Name: id, GroupName: world.outputs.ScheduleGroupName }));
    expect(schedule.ScheduleExpression).toBe('rate(30 days)');

    const again = await world.cli(
      'clients',
      'add',
      id,
      '--scopes',
      'orders:write,orders:read',
      '--interval-days',
      '30',
      '--overlap',
      '24h',
      '--max-overlap',
      '7d',
      '--timezone',
      'Europe/Paris',
      '--window',
      '02:00-04:00',
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Already onboarded (nothing to change): client ${id}`);

    const conflict = await world.cli('clients', 'add', id, '--scopes', 'orders:read', '--interval-days', '30', '--max-overlap', '7d', '--timezone', 'Europe/Paris', '--window', '02:00-04:00');
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/RegistrationConflict: .*different scopes and policy/);

    const listed = json<{ clients: { clientId: string; currentKeyId: string; status: string }[] }>(await world.cli('--json', 'clients', 'list'));
    expect(listed.clients.find((c) => c.clientId === id)).toMatchObject({ currentKeyId: out.currentKeyId, status: 'active' });
    const text = await world.cli('clients', 'list');
    expect(text.stdout).toMatch(new RegExp(`${id}\\s+active\\s+${String(out.currentKeyId)}`));

    const shown = await world.cli('--json', 'clients', 'show', id);
    expect(json(shown)).toMatchObject({ client: { clientId: id, status: 'active' }, keys: [{ keyId: out.currentKeyId, state: 'ACTIVE', role: 'current' }], schedule: { expression: 'rate(30 days)' } });
    expect(json<{ audit: { action: string }[] }>(shown).audit.map((e) => e.action)).toEqual(expect.arrayContaining(['client.registered', 'schedule.created']));
    expect(JSON.stringify(json(shown))).not.toMatch(/keyHash|currentKeyHash/);
  });

  it('onboards with the defaults when only the id and --scopes are given, and says which it applied', async () => {
    const id = `defaults-${randomUUID().slice(0, 8)}`;
    const added = await world.cli('clients', 'add', id, '--scopes', 'orders:read', '--json');
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const out = json(added);
    // The record holds the defaults as values; the overlaps stay the deployment's (no field).
    expect(out.policy).toEqual({ intervalDays: 90, timeZone: 'UTC', window: { start: '02:00', end: '04:00' } });
    expect(out.schedule).toMatchObject({ outcome: 'created', expression: 'rate(90 days)', timeZone: 'UTC', flexibleWindowMinutes: 120 });
    expect(out.defaultsApplied).toEqual({
      '--interval-days': '90',
      '--timezone': 'UTC',
      '--window': '02:00-04:00',
      '--overlap': 'the deployment default',
      '--max-overlap': 'the deployment maximum (30d)',
      '--reason': 'onboarding',
    });
    const shown = json<{ client: { policy: unknown; scopes: string[] }; schedule: { expression: string; timeZone: string } }>(await world.cli('--json', 'clients', 'show', id));
    expect(shown.client).toMatchObject({ scopes: ['orders:read'], policy: { intervalDays: 90, timeZone: 'UTC', window: { start: '02:00', end: '04:00' } } });
    expect(shown.client.policy).not.toHaveProperty('overlapSeconds');
    expect(shown.client.policy).not.toHaveProperty('maxOverlapSeconds');
    expect(shown.schedule).toMatchObject({ expression: 'rate(90 days)', timeZone: 'UTC' });
    const audit = json<{ events: { action: string; reason: string }[] }>(await world.cli('--json', 'audit', id)).events;
    expect(audit.find((e) => e.action === 'client.registered')?.reason).toBe('onboarding');

    // The same defaults spelled out converge on the record; the text output lists only what was left out.
    const again = await world.cli('clients', 'add', id, '--scopes', 'orders:read', '--interval-days', '90', '--timezone', 'UTC', '--window', '02:00-04:00', '--reason', 'again');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Already onboarded (nothing to change): client ${id}`);
    expect(again.stdout).toMatch(/defaults applied\s+--overlap the deployment default, --max-overlap the deployment maximum \(30d\)\n/);
    const given = await world.cli('--json', 'clients', 'add', id, '--scopes', 'orders:read', '--interval-days', '90', '--timezone', 'UTC', '--window', '02:00-04:00', '--reason', 'again');
    expect(json(given).defaultsApplied).toEqual({ '--overlap': 'the deployment default', '--max-overlap': 'the deployment maximum (30d)' });

    // A default that no longer fits what is given is refused like a given value: a daily interval with the deployment's 30-day deadline.
    const refused = await world.cli('--json', 'clients', 'add', `defaults-${randomUUID().slice(0, 8)}`, '--scopes', 'a', '--interval-days', '1');
    expect(refused.code).toBe(2);
    expect(json(refused)).toEqual({ error: expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('--max-overlap'), exitCode: 2 }) });
  });

  it('keeps --scopes required and --help shows every default', async () => {
    const onlyId = await world.cli('--json', 'clients', 'add', `scopeless-${randomUUID().slice(0, 8)}`);
    expect(onlyId.code).toBe(2);
    expect(json(onlyId)).toEqual({ error: { name: 'MissingRequiredOption', message: "required option '--scopes <list>' not specified", exitCode: 2 } });

    const help = await world.cli('clients', 'add', '--help');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    for (const shown of [
      /--interval-days <n>[\s\S]*\(default:\s+90\)/,
      /--timezone <iana>[\s\S]*\(default: UTC\)/,
      /--window <HH:MM-HH:MM>[\s\S]*\(default:\s+02:00-04:00\)/,
      /--reason <text>[\s\S]*\(default: onboarding\)/,
    ]) {
      expect(help.stdout).toMatch(shown);
    }
    expect(help.stdout).toMatch(/--overlap <duration>[\s\S]*default: the\s+deployment default/);
    expect(help.stdout).toContain('--scopes has no default.');
    expect(help.stdout).toContain('which is every\nroute while auth.routeScopes is empty');
    // --help stays text, --json or not.
    const jsonHelp = await world.cli('--json', 'clients', 'add', '--help');
    expect(jsonHelp).toEqual(help);
    expect((await world.cli('--help')).stdout).toMatch(/--json[\s\S]*--help stays text[\s\S]*JSON: with --json \(anywhere on the line\)/);
  });

  it('names the caller from STS (or $USER) when neither --actor nor KEYROLL_ACTOR is given', async () => {
    const id = `actor-${randomUUID().slice(0, 8)}`;
    const result = await world.cliWith({ KEYROLL_ACTOR: '' }, '--json', 'clients', 'add', id, '--scopes', 'a', '--interval-days', '7', '--timezone', 'UTC', '--window', '01:00-02:00', '--max-overlap', '1d');
    expect(result.code).toBe(0);
    expect(json(result).actor).toBe('arn:aws:sts::123456789012:user/moto');
    expect((await world.cli('clients', 'remove', id, '--reason', 'done', '--actor', 'alice@example.com')).code).toBe(0);
    const events = json<{ events: { action: string; actor: string }[] }>(await world.cli('--json', 'audit', id)).events;
    expect(events.find((e) => e.action === 'client.registered')?.actor).toBe('arn:aws:sts::123456789012:user/moto');
    expect(events.find((e) => e.action === 'client.offboarded')?.actor).toBe('alice@example.com');
  });
});

describe('rotate (Step Functions) and status', () => {
  it('starts an execution named by a fresh rotation id with the validated input', async () => {
    const id = await world.addClient();
    const started = await world.cli('--json', 'rotate', id, '--reason', 'quarterly rotation', '--overlap', '90m');
    expect(started.code).toBe(0);
    const out = json<{ rotationId: string; status: string; executionArn: string; mode: string }>(started);
    expect(out).toMatchObject({ status: 'STARTED', mode: 'manual', clientId: id, local: false });
    expect(out.rotationId).toMatch(/^manual-[0-9a-f-]{36}$/);
    expect(out.executionArn).toBe(`${world.outputs.StateMachineArn.replace(':stateMachine:', ':execution:')}:${out.rotationId}`);
    expect(await world.executionNames()).toContain(out.rotationId);
    const { input } = await sfn.send(new DescribeExecutionCommand({ executionArn: out.executionArn }));
    expect(JSON.parse(input!)).toEqual({ clientId: id, mode: 'manual', reason: 'quarterly rotation', requestedBy: 'test-operator', overlapSeconds: 5400 });

    // The same rotation id again: not a second rotation.
    const again = await world.cli('--json', 'rotate', id, '--reason', 'quarterly rotation', '--overlap', '90m', '--rotation-id', out.rotationId);
    expect(json(again)).toMatchObject({ status: 'ALREADY_STARTED', rotationId: out.rotationId, cause: 'its execution is RUNNING' });
    expect((await world.executionNames()).filter((name) => name === out.rotationId)).toHaveLength(1);

    // status shows the running execution of the client (found through ListExecutions).
    const status = json<{ executions: { running: { rotationId: string; status: string }[] } }>(await world.cli('--json', 'status', id));
    expect(status.executions.running).toEqual([expect.objectContaining({ rotationId: out.rotationId, status: 'RUNNING' })]);
  });

  it('refuses a second rotation while one holds the lock (RotationInProgress, exit 1, nothing started)', async () => {
    const id = await world.addClient();
    const holder = `manual-${randomUUID()}`;
    const now = new Date();
    await keys.acquireLock(
      id,
      { rotationId: holder, acquiredAt: now.toISOString(), expiresAt: new Date(now.getTime() + 3600_000).toISOString() },
      { clientId: id, at: now.toISOString(), action: 'rotation.started.manual', actor: 'test', reason: 'holder' },
    );
    const before = await world.snapshot();
    const refused = await world.cli('--json', 'rotate', id, '--reason', 'second one');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`RotationInProgress: Client '${id}' is already being rotated by '${holder}'`);
    expect(json(refused)).toEqual({ error: expect.objectContaining({ name: 'RotationInProgress', exitCode: 1 }) });
    expect(await world.snapshot()).toBe(before);

    const status = await world.cli('status', id);
    expect(status.stdout).toContain(`rotation lock  held by ${holder}`);
    expect(status.stdout).toMatch(new RegExp(`${holder}\\s+not in Step Functions \\(local run\\?\\)\\s+holds the lock`));
  });

  it('--wait follows the execution and exits 1 when it ends without success', async () => {
    const id = await world.addClient();
    const rotationId = `manual-${randomUUID()}`;
    const waiting = world.cliWith({ KEYROLL_POLL_INTERVAL_MS: '100' }, '--json', 'rotate', id, '--reason', 'wait for me', '--rotation-id', rotationId, '--wait', '--wait-timeout', '30s');
    // moto keeps executions RUNNING; stopping it stands in for a rotation that ends badly.
    for (let i = 0; i < 50 && !(await world.executionNames()).includes(rotationId); i++) await new Promise((r) => setTimeout(r, 50));
    await sfn.send(new StopExecutionCommand({ executionArn: `${world.outputs.StateMachineArn.replace(':stateMachine:', ':execution:')}:${rotationId}` }));
    const result = await waiting;
    expect(result.code).toBe(1);
    expect(json(result)).toMatchObject({ rotationId, status: 'ABORTED', newKeyCurrent: false });
    expect(result.stderr).toContain('[1/5] execution started');

    const timedOut = await world.cliWith({ KEYROLL_POLL_INTERVAL_MS: '100' }, 'rotate', id, '--reason', 'wait again', '--wait', '--wait-timeout', '1s');
    expect(timedOut.code).toBe(1);
    expect(timedOut.stdout).toMatch(/WAIT_TIMED_OUT[\s\S]*still RUNNING after 1s; the rotation goes on/);
  });

  it('refuses unknown and offboarded clients with exit 1', async () => {
    const unknown = await world.cli('--json', 'rotate', 'no-such-client', '--reason', 'x');
    expect(unknown.code).toBe(1);
    expect(json(unknown)).toEqual({ error: { name: 'UnknownClient', message: "No client is registered with id 'no-such-client'.", exitCode: 1 } });
    for (const argv of [
      ['status', 'no-such-client'],
      ['audit', 'no-such-client'],
      ['clients', 'show', 'no-such-client'],
      ['rollback', 'no-such-client', '--reason', 'x'],
    ]) {
      const result = await world.cli(...argv);
      expect({ argv, code: result.code, stderr: result.stderr }).toEqual({ argv, code: 1, stderr: expect.stringContaining('UnknownClient') });
    }

    const id = await world.addClient();
    const removed = await world.cli('--json', 'clients', 'remove', id, '--reason', 'contract ended');
    expect(removed.code).toBe(0);
    expect(json(removed)).toMatchObject({ clientId: id, scheduleDeleted: true, revokedKeyIds: [expect.stringMatching(/^kr_kid_/)] });
    const status = json<{ client: { status: string }; keys: { state: string }[] }>(await world.cli('--json', 'status', id));
    expect(status.client.status).toBe('offboarded');
    expect(status.keys.map((k) => k.state)).toEqual(['REVOKED']);
    const rotate = await world.cli('rotate', id, '--reason', 'too late');
    expect(rotate.code).toBe(1);
    expect(rotate.stderr).toContain('ClientOffboarded');
  });

  it('audit shows the latest events, newest last, with --limit', async () => {
    const id = await world.addClient();
    await world.cli('rotate', id, '--reason', 'for the audit');
    const all = json<{ total: number; events: { action: string }[] }>(await world.cli('--json', 'audit', id));
    expect(all.events.map((e) => e.action)).toEqual(['client.registered', 'schedule.created']);
    const limited = json<{ total: number; events: { action: string }[] }>(await world.cli('--json', 'audit', id, '--limit', '1'));
    expect(limited).toMatchObject({ total: 2, events: [{ action: 'schedule.created' }] });
    const text = await world.cli('audit', id);
    expect(text.stdout).toMatch(/client\.registered\s+test-operator\s+kr_kid_[0-9a-f]{16}\s+test onboarding/);
  });
});

describe('bad arguments', () => {
  it('exit 2 with a clear message on stderr and change nothing', async () => {
    const id = await world.addClient();
    const currentKeyId = json<{ client: { currentKeyId: string } }>(await world.cli('--json', 'status', id)).client.currentKeyId;
    const leakedLookingKey = await world.keyAt(id, 'AWSCURRENT');
    const before = await world.snapshot();
    const add = (...extra: string[]) => ['clients', 'add', 'fresh-client', '--scopes', 'a', '--interval-days', '7', '--timezone', 'UTC', '--window', '02:00-04:00', ...extra];
    const cases: [string[], RegExp][] = [
      [['rotate', id], /required option '--reason <text>' not specified/],
      [['rotate', id, '--reason', '   '], /--reason must not be empty/],
      [['rotate', id, '--reason', 'x', '--overlap', '90x'], /--overlap must be a duration such as 90m, 24h, 7d/],
      [['rotate', id, '--reason', 'x', '--overlap', '10s'], /InvalidRotationInput: .*overlapSeconds: must be at least 60/],
      [['rotate', id, '--reason', 'x', '--overlap', '31d'], /overlapSeconds: must be at most 2592000/],
      [['rotate', id, '--reason', 'x', '--emergency', '--overlap', '1h'], /--overlap cannot be used with --emergency/],
      [['rotate', id, '--reason', 'x', '--revoke-immediately'], /--revoke-immediately needs --emergency/],
      [['rotate', id, '--reason', 'x', '--rotation-id', 'short'], /--rotation-id must be 32-64 characters/],
      [['rotate', id, '--reason', 'x', '--leave-in-overlap'], /--leave-in-overlap needs --local/],
      [['rotate', 'bad id!', '--reason', 'x'], /<clientId> must be 1-64 characters/],
      [['rotate', id, '--reason', 'line one\nline two'], /--reason must be one line of printable text/],
      [['revoke', id, 'not-a-key-id', '--reason', 'x'], /<keyId> must be a key id/],
      [['revoke', id, leakedLookingKey, '--reason', 'x'], /never the key itself/],
      [['revoke', id, currentKeyId], /required option '--reason <text>'/],
      [['audit', id, '--limit', '-3'], /--limit must be a whole number between 1 and 1000/],
      [['audit', id, '--limit', 'abc'], /--limit must be a whole number/],
      [add('--overlap', '2h', '--max-overlap', '1h'), /--overlap must not be longer than --max-overlap/],
      [add('--timezone', 'Mars/Olympus'), /--timezone must be an IANA time zone name/],
      [add('--window', '25:00-26:00'), /--window must be HH:MM-HH:MM/],
      [add('--window', '02:00-02:00'), /start and end must differ/],
      [add('--scopes', 'orders read'), /--scopes: 1 scope\(s\) are not 1-64 characters/],
      [['clients', 'add', 'fresh-client', '--scopes', 'a', '--interval-days', '0', '--timezone', 'UTC', '--window', '02:00-04:00'], /--interval-days must be between 1 and 365/],
      [add('--overlap', '30s'), /--overlap must be between 1m and 30d in this deployment/],
      [add(), /Invalid rotation policy: --max-overlap: the previous key's hard deadline \(30d, the deployment maximum\) must end before the next scheduled rotation can start; at most 6d21h/],
      [['clients', 'remove', id], /required option '--reason <text>'/],
      [['rollback', id, '--reason', 'x', '--rotation-id', 'nope'], /--rotation-id must be 32-64/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['status'], /missing required argument 'clientId'/],
      [['status', id, '--bogus'], /unknown option '--bogus'/],
      [['clients'], /Usage: keyroll clients/],
      [[], /Usage: keyroll/],
    ];
    for (const [argv, message] of cases) {
      const result = await world.cli(...argv);
      expect({ argv, code: result.code, stdout: result.stdout }).toEqual({ argv, code: 2, stdout: '' });
      expect({ argv, stderr: result.stderr }).toEqual({ argv, stderr: expect.stringMatching(message) });
    }
    // --json: the error as JSON on stdout too.
    const jsonError = await world.cli('--json', 'rotate', id, '--reason', 'x', '--overlap', '90x');
    expect(jsonError.code).toBe(2);
    expect(json(jsonError)).toEqual({ error: { name: 'UsageError', message: expect.stringContaining('--overlap'), issues: ['--overlap: not a duration'], exitCode: 2 } });
    expect(await world.snapshot()).toBe(before);
  });

  it("--json anywhere turns commander's own usage errors into the same JSON, with the text still on stderr", async () => {
    const id = await world.addClient();
    const before = await world.snapshot();
    const cases: [string[], string, string | RegExp, RegExp][] = [
      [['frobnicate'], 'UnknownCommand', "unknown command 'frobnicate'", /^error: unknown command 'frobnicate'$/m],
      [['status', id, '--bogus'], 'UnknownOption', "unknown option '--bogus'", /^error: unknown option '--bogus'$/m],
      [['status'], 'MissingArgument', "missing required argument 'clientId'", /^error: missing required argument 'clientId'$/m],
      [['status', id, 'extra'], 'ExcessArguments', "too many arguments for 'status'. Expected 1 argument but got 2.", /^error: too many arguments for 'status'/m],
      [['rotate', id], 'MissingRequiredOption', "required option '--reason <text>' not specified", /^error: required option '--reason <text>' not specified$/m],
      [['audit', id, '--limit'], 'MissingOptionValue', "option '--limit <n>' argument missing", /^error: option '--limit <n>' argument missing$/m],
      [['clients'], 'MissingCommand', "'keyroll clients' needs a command: add, update, list, show, remove (usage on stderr; --help for more).", /^Usage: keyroll clients /m],
      [[], 'MissingCommand', /^'keyroll' needs a command: clients, rotate, /, /^Usage: keyroll \[options\] \[command\]/m],
    ];
    for (const [argv, name, message, stderr] of cases) {
      // The same error with --json first, last, and between the command and its arguments.
      const placements = [['--json', ...argv], [...argv, '--json'], ...(argv.length > 1 ? [[argv[0], '--json', ...argv.slice(1)]] : [])];
      const text = await world.cli(...argv);
      for (const placed of placements) {
        const result = await world.cli(...placed);
        // Nothing but the one JSON document on stdout; the human text unchanged on stderr.
        expect({ placed, code: result.code, error: json(result) }).toEqual({
          placed,
          code: 2,
          error: { error: { name, message: typeof message === 'string' ? message : expect.stringMatching(message), exitCode: 2 } },
        });
        expect(result.stdout.trim().startsWith('{') && result.stdout.trim().endsWith('}')).toBe(true);
        expect({ placed, stderr: result.stderr }).toEqual({ placed, stderr: expect.stringMatching(stderr) });
        if (argv.length > 0) expect({ placed, stderr: result.stderr }).toEqual({ placed, stderr: text.stderr });
      }
      // Without --json: text on stderr only, as before.
      expect({ argv, code: text.code, stdout: text.stdout }).toEqual({ argv, code: 2, stdout: '' });
    }
    // After `--` it is an operand, not the option; --json=x is refused and not taken for --json.
    const operand = await world.cli('status', id, '--', '--json');
    expect({ code: operand.code, stdout: operand.stdout }).toEqual({ code: 2, stdout: '' });
    const withValue = await world.cli('--json=yes', 'status', id);
    expect({ code: withValue.code, stdout: withValue.stdout }).toEqual({ code: 2, stdout: '' });
    expect(withValue.stderr).toContain("unknown option '--json=yes'");
    // A refused token is printed neutralised in both: no control character reaches either stream.
    const escaped = await world.cli('--json', 'status', id, '--bogus\u001b[31m');
    expect(json(escaped)).toEqual({ error: { name: 'UnknownOption', message: "unknown option '--bogus\uFFFD[31m'", exitCode: 2 } });
    expect(escaped.stdout + escaped.stderr).not.toContain(String.fromCharCode(0x1b));
    expect(await world.snapshot()).toBe(before);
  });
});

describe('revoke refusals', () => {
  it('refuses the current key without --force and an unknown key id (exit 1, nothing changed)', async () => {
    const id = await world.addClient();
    const currentKeyId = json<{ client: { currentKeyId: string } }>(await world.cli('--json', 'status', id)).client.currentKeyId;
    const before = await world.snapshot();
    const current = await world.cli('revoke', id, currentKeyId, '--reason', 'oops');
    expect(current.code).toBe(1);
    expect(current.stderr).toContain('CurrentKeyRevocationRefused');
    const unknown = await world.cli('revoke', id, 'kr_kid_0000000000000000', '--reason', 'x');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`UnknownKey: Client '${id}' has no key with id 'kr_kid_0000000000000000'.`);
    expect(await world.snapshot()).toBe(before);

    const forced = await world.cli('--json', 'revoke', id, currentKeyId, '--reason', 'INC-1: even a rotation is too slow', '--force');
    expect(forced.code).toBe(0);
    expect(json(forced)).toMatchObject({ outcome: 'revoked', wasCurrent: true, previousState: 'ACTIVE', rejectedEverywhereBy: expect.any(String) });
    const text = await world.cli('revoke', id, currentKeyId, '--reason', 'again');
    expect(text.stdout).toContain('was already revoked; nothing changed');
  });
});

describe('progress display', () => {
  it('draws a bar on a terminal and plain lines otherwise, on stderr only', () => {
    for (const tty of [true, false]) {
      let stdout = '';
      let stderr = '';
      const progress = rotationProgress(new Output({ stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), stderrIsTTY: tty }, false), 'manual-1234');
      progress.update(1);
      progress.update(3, 'RUNNING');
      progress.update(4);
      progress.stop();
      expect(stdout).toBe('');
      // The bar redraws at most 5 times a second: the final state is what is certain to be drawn.
      if (tty) expect(stderr).toMatch(/manual-1234 =+ 5\/5 done/);
      else expect(stderr).toBe('  [2/5] lock taken\n  [4/5] new key current (AWSCURRENT) (RUNNING)\n  [5/5] done\n');
    }
  });
});
