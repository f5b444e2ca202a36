/**
 * Hostile CLI arguments: every argument and every option of every `keyroll` command, found by
 * walking the commander program (a new option is covered without touching this file), gets
 * every hostile string. Expected: exit 2 with a named error on stderr that is one line per
 * line printed, does not echo the value, and nothing changed in moto. Legitimate values (free
 * text in --reason/--actor, well-formed ids) are accepted: against an unknown client they end
 * in UnknownClient (exit 1, nothing written); on `clients add` they are stored verbatim.
 */
import type { Argument, Command, Option } from 'commander';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { RunState } from '../../operator/cli/context';
import { buildProgram } from '../../operator/cli/program';
import { CliWorld, type CliResult } from '../cli/cli-harness';
import { describeValue, HOSTILE_STRINGS, unsafeMessage, type HostileValue } from './hostile-values';

jest.setTimeout(120_000);

let world: CliWorld;
let before: string;

beforeAll(async () => {
  world = await CliWorld.create();
  before = await world.snapshot();
});

/** A parameter of a command: a positional argument or an option that takes a value (or a flag). */
interface Parameter {
  readonly command: string[];
  /** `<clientId>` or `--reason`. */
  readonly name: string;
  readonly kind: 'argument' | 'option' | 'flag';
}

function leafCommands(command: Command, path: string[] = []): { path: string[]; command: Command }[] {
  if (command.commands.length === 0) return [{ path, command }];
  return command.commands.flatMap((sub) => leafCommands(sub, [...path, sub.name()]));
}

const program = buildProgram(new RunState({ stdout: () => undefined, stderr: () => undefined }, {}), { stdout: () => undefined, stderr: () => undefined });
const leaves = leafCommands(program);
const parameters: Parameter[] = leaves.flatMap(({ path, command }) => [
  ...command.registeredArguments.map((argument: Argument) => ({ command: path, name: `<${argument.name()}>`, kind: 'argument' as const })),
  ...command.options.map((option: Option) => ({ command: path, name: option.long!, kind: option.required || option.optional ? ('option' as const) : ('flag' as const) })),
]);
// The global options, each exercised under `rotate` (it reads the actor; against an unknown client it writes nothing).
const globals: Parameter[] = program.options.map((option: Option) => ({ command: ['rotate'], name: option.long!, kind: option.required || option.optional ? ('option' as const) : ('flag' as const) }));

const UNKNOWN_CLIENT = 'no-such-client';
const KEY_ID = 'krt_kid_0123456789abcdef';

/** A valid value for each parameter that needs one (required, or mandatory options). A new required parameter fails the coverage test until it has one here. */
const BASELINE: Record<string, string> = {
  '<clientId>': UNKNOWN_CLIENT,
  '<keyId>': KEY_ID,
  '--reason': 'hostile input test',
  '--scopes': 'orders:read',
  '--interval-days': '7',
  '--max-overlap': '2d',
  '--timezone': 'UTC',
  '--window': '02:00-04:00',
};

/** Commands that need one of several options (none of them required on its own): the valid one they get, unless the parameter under test is one of them. */
const ONE_OF_BASELINE: Record<string, { readonly names: readonly string[]; readonly argv: readonly string[] }> = {
  'rotate-fleet': { names: ['--all', '--tag', '--clients'], argv: ['--clients', UNKNOWN_CLIENT] },
};

/** The argv of `command` with every required parameter valid, and `name` set to `value`. */
function argvWith(command: Command, path: string[], name: string, value: string, kind: Parameter['kind']): string[] {
  const args = command.registeredArguments.map((argument) => (`<${argument.name()}>` === name ? value : BASELINE[`<${argument.name()}>`]));
  const oneOf = ONE_OF_BASELINE[path.join(' ')];
  const options = [
    ...command.options.filter((option) => option.mandatory && option.long !== name).flatMap((option) => [option.long!, BASELINE[option.long!]]),
    ...(oneOf && !oneOf.names.includes(name) ? oneOf.argv : []),
  ];
  // `--opt=value` keeps a value that starts with `-` a value; a flag given a value must be refused.
  const hostile = kind === 'argument' ? [] : [`${name}=${value}`];
  const root = globals.some((g) => g.name === name) ? hostile : [];
  const own = globals.some((g) => g.name === name) ? [] : hostile;
  // `--` ends the options, so a positional value that starts with `-` stays positional.
  return [...root, ...path, ...own, ...options, '--', ...args];
}

/** Free text kept in the audit trail, and its maximum length. */
const FREE_TEXT: Record<string, number> = { '--reason': 512, '--actor': 128 };
/** Where the deployment is: printable text is a legitimate profile name or path; then it is not found (exit 3). */
const LOCATION_TEXT: Record<string, number> = { '--profile': 128, '--outputs-file': 4096 };

/** What a hostile value must give for a parameter (hand-written facts, not the CLI's checks). */
function expectedExit(parameter: Parameter, h: HostileValue): 'usage' | 'accepted' | 'environment' {
  const text = h.value as string;
  if (parameter.kind === 'flag') return 'usage';
  const printable = (max: number) => Boolean(h.printable && !h.apiKey && text.trim().length <= max);
  const max = FREE_TEXT[parameter.name];
  if (max !== undefined) return printable(max) ? 'accepted' : 'usage';
  const location = LOCATION_TEXT[parameter.name];
  // Used as given, not trimmed: a BOM that trim() would drop still counts.
  if (location !== undefined) return printable(location) && text === text.trim() ? 'environment' : 'usage';
  if (parameter.name === '--stack') return h.stackName ? 'environment' : 'usage';
  // A client id, a list of one, or a tag (the same alphabet): accepted, then nothing found.
  if (parameter.name === '<clientId>' || parameter.name === '--clients' || parameter.name === '--tag') return h.plainId && !h.apiKey ? 'accepted' : 'usage';
  if (parameter.name === '--rotation-id') return h.rotationIdShaped && !h.apiKey ? 'accepted' : 'usage';
  // clients add onboards with default values for the rest: a well-formed scope or tag is accepted (and
  // not run: accepted clients add rows would onboard the client), a key is not.
  const alphabet = parameter.name === '--scopes' ? /^[A-Za-z0-9:._*/-]{1,64}$/ : parameter.name === '--tags' ? /^[A-Za-z0-9._:/-]{1,64}$/ : undefined;
  if (alphabet) return alphabet.test(parameter.name === '--scopes' ? text.trim() : text) && !h.apiKey ? 'accepted' : 'usage';
  return 'usage';
}

// The whole table where a parameter name first appears; where the same name comes again (the
// same check function, or commander's for every flag), the first value of each category and every value the first accepted.
const REPRESENTATIVE = HOSTILE_STRINGS.filter((h, i, all) => all.findIndex((o) => o.category === h.category) === i);
const seen = new Set<string>();
const rows = [...parameters, ...globals].flatMap((parameter) => {
  // Every flag goes through the same commander check: one flag gets the whole table.
  const key = parameter.kind === 'flag' ? '(flag)' : parameter.name;
  const first = !seen.has(key);
  seen.add(key);
  const values = first ? HOSTILE_STRINGS : HOSTILE_STRINGS.filter((h) => REPRESENTATIVE.includes(h) || expectedExit(parameter, h) !== 'usage');
  return values.map((h) => ({ parameter, h, expected: expectedExit(parameter, h), title: `${parameter.command.join(' ')} ${parameter.name} = ${h.name}` }));
});

/**
 * The error report on stderr must be safe: no control characters, no forged lines, bounded,
 * and (our named errors) no echo. Commander's own usage errors quote the refused token,
 * neutralised and cut to 80 characters: there only the echo is allowed.
 */
function expectSafeStderr(result: CliResult, hostile: string): void {
  const commander = !/^error: [A-Za-z]+: /.test(result.stderr);
  for (const line of result.stderr.split('\n').filter(Boolean)) {
    const problem = unsafeMessage(line, hostile);
    if (!(commander && problem === 'echoes the hostile value')) expect(problem).toBeUndefined();
    expect(line).toMatch(/^(error: |\()/);
  }
  expect(result.stderr.length).toBeLessThan(1000);
}

describe('discovery', () => {
  it('finds every command and its parameters, and has a valid baseline for every required one', () => {
    expect(leaves.map((l) => l.path.join(' ')).sort()).toEqual(
      expect.arrayContaining(['audit', 'clients add', 'clients list', 'clients remove', 'clients show', 'identify', 'revoke', 'rollback', 'rotate', 'status']),
    );
    for (const { command } of leaves) {
      for (const argument of command.registeredArguments) expect([argument.name(), BASELINE[`<${argument.name()}>`]]).toEqual([argument.name(), expect.any(String)]);
      for (const option of command.options.filter((o) => o.mandatory)) expect([option.long, BASELINE[option.long!]]).toEqual([option.long, expect.any(String)]);
    }
    expect(parameters.length).toBeGreaterThan(25);
  });
});

describe('each parameter × each hostile string', () => {
  const refusedRows = rows.filter((r) => r.expected === 'usage');
  afterAll(async () => {
    expect(await world.snapshot()).toBe(before);
  });

  it.each(refusedRows)('$title → exit 2, named error, nothing changed', async ({ parameter, h }) => {
    const leaf = leaves.find((l) => l.path.join(' ') === parameter.command.join(' '))!;
    const result = await world.cli(...argvWith(leaf.command, leaf.path, parameter.name, h.value as string, parameter.kind));
    expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
    // A named error (ours: `error: UsageError: ...`), or commander's own usage line.
    expect(result.stderr).toMatch(
      /^error: (UsageError|InvalidOperationInput|InvalidRotationInput|InvalidRotationId): |^error: (option|unknown option|too many arguments|missing required argument|required option)/m,
    );
    expectSafeStderr(result, h.value as string);
  });

  it.each(HOSTILE_STRINGS.map((h) => ({ h, title: h.name })))('identify with standard input = $title → exit 2, nothing looked up', async ({ h }) => {
    const result = await world.cliStdin(h.value as string, 'identify');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: UsageError: Standard input is not a KeyRoll key/);
    expectSafeStderr(result, h.value as string);
  });
});

describe('legitimate hostile-looking values are accepted and handled safely', () => {
  const acceptedRows = rows.filter((r) => r.expected === 'accepted' && r.parameter.command.join(' ') !== 'clients add');

  it.each(acceptedRows)('$title → accepted, then UnknownClient or NoClientsSelected (exit 1), nothing changed', async ({ parameter, h }) => {
    const leaf = leaves.find((l) => l.path.join(' ') === parameter.command.join(' '))!;
    const result = await world.cli(...argvWith(leaf.command, leaf.path, parameter.name, h.value as string, parameter.kind));
    expect(result.code).toBe(1);
    // The CLI redacts anything key-shaped, look-alikes too.
    expect(result.stderr).toMatch(/^error: (UnknownClient: No client is registered with id|NoClientsSelected: No live client is selected by tag) '([A-Za-z0-9._-]+|\[REDACTED\])'/m);
    expectSafeStderr(result, h.value as string);
  });

  const environmentRows = rows.filter((r) => r.expected === 'environment');
  it.each(environmentRows)('$title → accepted as a location, not found (exit 3), nothing changed', async ({ parameter, h }) => {
    const leaf = leaves.find((l) => l.path.join(' ') === parameter.command.join(' '))!;
    const result = await world.cli(...argvWith(leaf.command, leaf.path, parameter.name, h.value as string, parameter.kind));
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/^error: (EnvironmentError|CredentialsProviderError): /);
    // A path is echoed (the operator needs to see which file); it is printable by then.
    for (const line of result.stderr.split('\n').filter(Boolean)) expect(line).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u);
  });

  it('those runs changed nothing', async () => {
    expect(await world.snapshot()).toBe(before);
  });

  // Onboarding costs a secret and a schedule each: one accepted value per category, plus the classic injections.
  const acceptable = HOSTILE_STRINGS.filter((h) => expectedExit({ command: ['clients', 'add'], name: '--reason', kind: 'option' }, h) === 'accepted');
  const classic = new Set(['SQL injection', 'shell substitution', 'path traversal', 'template literal', 'JSONPath']);
  const stored = acceptable.filter((h, i) => classic.has(h.name) || acceptable.findIndex((o) => o.category === h.category) === i);
  it.each(stored.map((h) => ({ h, title: h.name })))('clients add --reason $title: stored verbatim (trimmed) in the audit trail, one line', async ({ h }) => {
    const id = `hostile-${Math.random().toString(36).slice(2, 10)}`;
    const added = await world.cli(
      'clients',
      'add',
      id,
      '--scopes',
      'orders:read',
      '--interval-days',
      '7',
      '--max-overlap',
      '2d',
      '--timezone',
      'UTC',
      '--window',
      '02:00-04:00',
      `--reason=${h.value as string}`,
    );
    expect(added.code).toBe(0);
    const audit = await new KeyRepository(dynamoDbClient(), world.outputs.TableName).listAudit(id);
    expect(audit.find((e) => e.action === 'client.registered')?.reason).toBe((h.value as string).trim());
    // The text view shows it on one line of the audit table (key-shaped text redacted).
    const text = await world.cli('audit', id);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n').filter((line) => line.includes('client.registered'))).toHaveLength(1);
  });
});

describe('the checks can fail', () => {
  it('argvWith puts the value where it belongs', () => {
    const rotate = leaves.find((l) => l.path.join(' ') === 'rotate')!;
    expect(argvWith(rotate.command, rotate.path, '--overlap', '$(x)', 'option')).toEqual(['rotate', '--overlap=$(x)', '--reason', 'hostile input test', '--', UNKNOWN_CLIENT]);
    expect(argvWith(rotate.command, rotate.path, '<clientId>', '-x', 'argument')).toEqual(['rotate', '--reason', 'hostile input test', '--', '-x']);
    expect(argvWith(rotate.command, rotate.path, '--actor', 'a b', 'option')).toEqual(['--actor=a b', 'rotate', '--reason', 'hostile input test', '--', UNKNOWN_CLIENT]);
    expect(describeValue('x'.repeat(100))).toBe('string(100)');
  });
});
