/**
 * Commander's own refusals (unknown command or option, missing argument or option, a bad
 * choice, ...) as KeyRoll error reports, so that `--json` gets them as JSON like every other
 * error. Commander prints its human text to stderr itself; this module only names the error
 * and makes its message safe to print.
 */
import type { Command, CommanderError } from 'commander';
import { ExitCode, type ErrorReport } from './errors';
import { redactKeys } from './output';

// Commander quotes the token it refuses ('--wait=...'): inside a quote even a line break is
// the operator's input, not a line of ours. Outside, every control character but \n goes.
const QUOTED = /'[^'\n]*(?:\n[^'\n]*)*'/g;
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const CONTROL_EXCEPT_NEWLINE = /(?![\n])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const MAX_QUOTED = 80;

/** Commander's usage messages as they may be printed: echoed tokens neutralised and bounded, keys redacted. */
export function safeUsageText(text: string): string {
  // Redacted before a token is cut: a key cut short is no longer recognised, and its first
  // 80 characters are all of a key's entropy.
  const quoted = redactKeys(text).replace(QUOTED, (token) => {
    const inner = token.slice(1, -1).replace(CONTROL, '\uFFFD');
    return `'${inner.length > MAX_QUOTED ? `${inner.slice(0, MAX_QUOTED)}…(${inner.length} characters)` : inner}'`;
  });
  return redactKeys(quoted.replace(CONTROL_EXCEPT_NEWLINE, '\uFFFD'));
}

/**
 * The error name `--json` reports for each commander error code. Public contract, like
 * the exit codes: scripts match on these names. Every one of them exits 2.
 */
export const COMMANDER_ERROR_NAMES: Readonly<Record<string, string>> = {
  'commander.unknownCommand': 'UnknownCommand',
  'commander.unknownOption': 'UnknownOption',
  'commander.missingArgument': 'MissingArgument',
  'commander.excessArguments': 'ExcessArguments',
  'commander.missingMandatoryOptionValue': 'MissingRequiredOption',
  'commander.optionMissingArgument': 'MissingOptionValue',
  // A value outside an option's choices, or refused by its parser.
  'commander.invalidArgument': 'InvalidArgument',
  'commander.conflictingOption': 'ConflictingOptions',
  // Commander shows the help as an error when a command group is given without its command.
  'commander.help': 'MissingCommand',
};

/** Commander outcomes that are not errors: help or the version was asked for. */
export function isHelpOrVersion(error: CommanderError): boolean {
  return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || (error.code === 'commander.help' && error.exitCode === 0);
}

/**
 * The report of a usage error commander refused (never help or the version: see
 * {@link isHelpOrVersion}). `program` and `argv` name the command group that lacks its
 * command, for which commander's own message is only "(outputHelp)".
 */
export function usageReport(error: CommanderError, program: Command, argv: readonly string[]): ErrorReport {
  const name = COMMANDER_ERROR_NAMES[error.code] ?? 'UsageError';
  if (error.code === 'commander.help') {
    const group = commandNamed(program, argv);
    const names = group.commands.map((command) => command.name()).filter((command) => command !== 'help');
    return { name, message: `'${commandPath(group)}' needs a command: ${names.join(', ')} (usage on stderr; --help for more).`, exitCode: ExitCode.USAGE };
  }
  // Commander prefixes its messages with "error: ", which the report's name already says.
  const message = safeUsageText(error.message.replace(/^error: /, ''))
    .replace(/\s+/g, ' ')
    .trim();
  return { name, message, exitCode: ExitCode.USAGE };
}

/**
 * Whether the operator asked for JSON: what commander parsed, or `--json` anywhere before a
 * `--` (commander stops at the first error, which may come before a trailing `--json`).
 */
export function jsonRequested(program: Command, argv: readonly string[]): boolean {
  if (program.opts<{ json?: boolean }>().json === true) return true;
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--json');
}

/** The deepest command the operands of `argv` name (`clients` for `keyroll --json clients`). */
function commandNamed(program: Command, argv: readonly string[]): Command {
  let command = program;
  for (const token of argv) {
    if (token === '--') break;
    const sub = command.commands.find((candidate) => candidate.name() === token || candidate.aliases().includes(token));
    if (sub) command = sub;
  }
  return command;
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current; current = current.parent) names.unshift(current.name());
  return names.join(' ');
}
