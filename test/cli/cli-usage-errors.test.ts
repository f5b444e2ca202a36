/**
 * Commander's refusals as --json error reports (operator/cli/usage-errors.ts), for the kinds
 * no `keyroll` command can produce today (a bad choice, conflicting options) and for every
 * code the installed commander can throw: a new kind after an upgrade fails here, not in an
 * operator's script. The kinds `keyroll` does produce are run end to end in
 * cli-commands.test.ts ("--json anywhere ...").
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { generateApiKey } from '../../lambdas/core/api-key';
import { COMMANDER_ERROR_NAMES, isHelpOrVersion, jsonRequested, safeUsageText, usageReport } from '../../operator/cli/usage-errors';

/** A small program with what `keyroll` lacks: choices and conflicting options. */
function program(): Command {
  const root = new Command('tool')
    .option('--json')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  root
    .command('pick')
    .addOption(new Option('--colour <name>').choices(['red', 'green']))
    .addOption(new Option('--loud').conflicts('quiet'))
    .option('--quiet')
    .action(() => undefined);
  return root;
}

function refusal(argv: string[]): { error: CommanderError; root: Command } {
  const root = program();
  try {
    root.parse(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return { error, root };
    throw error;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('safeUsageText', () => {
  it('redacts a key before cutting a long token, so no part of it is printed', () => {
    const key = generateApiKey('kr');
    // A long option name puts the key past the 80-character cut: cut first, it would no longer be recognised.
    const text = safeUsageText(`error: unknown option '--verify-endpoint-url-for-tests-and-more=${key}'`);
    const entropy = key.slice('kr_'.length);
    for (let start = 0; start + 8 <= entropy.length; start += 4) expect(text).not.toContain(entropy.slice(start, start + 8));
    expect(text).toContain('[REDACTED]');
  });
});

describe('usageReport', () => {
  // Commander's help() exits with process.exitCode, which jest's worker sets to 1 when an earlier
  // file in the same worker logged after its tests ended: `help pick` would then look like an error.
  beforeEach(() => {
    process.exitCode = undefined;
  });

  it.each([
    [['pick', '--colour', 'blue'], 'InvalidArgument', /^option '--colour <name>' argument 'blue' is invalid\. Allowed choices are red, green\.$/],
    [['pick', '--loud', '--quiet'], 'ConflictingOptions', /^option '--loud' cannot be used with option '--quiet'$/],
    [['pick', '--nope'], 'UnknownOption', /^unknown option '--nope'$/],
    [['nope'], 'UnknownCommand', /^unknown command 'nope'/],
    [['--json'], 'MissingCommand', /^'tool' needs a command: pick \(usage on stderr; --help for more\)\.$/],
  ])('%j → %s, exit 2, one line without the "error: " prefix', (argv, name, message) => {
    const { error, root } = refusal(argv);
    expect(isHelpOrVersion(error)).toBe(false);
    const report = usageReport(error, root, argv);
    expect(report).toEqual({ name, message: expect.stringMatching(message), exitCode: 2 });
    expect(JSON.parse(JSON.stringify({ error: report }))).toEqual({ error: report });
  });

  it('names an error of an unknown code UsageError, and help is not an error', () => {
    const root = program();
    expect(usageReport(new CommanderError(1, 'commander.somethingNew', 'error: something new'), root, [])).toEqual({ name: 'UsageError', message: 'something new', exitCode: 2 });
    expect(isHelpOrVersion(refusal(['--help']).error)).toBe(true);
    expect(isHelpOrVersion(refusal(['help', 'pick']).error)).toBe(true);
  });

  it('has a name for every error code the installed commander throws', () => {
    const source = readFileSync(path.join(path.dirname(require.resolve('commander')), 'lib', 'command.js'), 'utf8');
    const codes = new Set([...source.matchAll(/'(commander\.[A-Za-z]+)'/g)].map((m) => m[1]));
    // Not usage errors: help and version asked for; executable subcommands, which keyroll has none of; `.error()` without a code, named UsageError.
    const notMapped = ['commander.helpDisplayed', 'commander.version', 'commander.executeSubCommandAsync', 'commander.error'];
    const unmapped = [...codes].filter((code) => !notMapped.includes(code) && !(code in COMMANDER_ERROR_NAMES));
    expect(codes.size).toBeGreaterThan(8);
    expect(unmapped).toEqual([]);
  });
});

describe('jsonRequested', () => {
  it('is what commander parsed, or --json before a --', () => {
    const parsed = program();
    parsed.parse(['--json', 'pick'], { from: 'user' });
    expect(jsonRequested(parsed, ['--json', 'pick'])).toBe(true);
    // Commander stopped before a trailing --json: argv still says so.
    expect(jsonRequested(program(), ['nope', '--json'])).toBe(true);
    expect(jsonRequested(program(), ['pick', '--', '--json'])).toBe(false);
    expect(jsonRequested(program(), ['--json=1', 'pick'])).toBe(false);
    expect(jsonRequested(program(), ['pick'])).toBe(false);
  });
});
