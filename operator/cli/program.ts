/**
 * The `keyroll` command tree (commander) and `run(argv, io)`: parses, runs one command, and
 * turns its outcome into an exit code. In-process and side-effect free apart from what the
 * command does, so tests call it directly.
 */
import { Command, CommanderError } from 'commander';
import type { Clock } from '../../lambdas/core/clock';
import { registerClientCommands } from './commands/clients';
import { registerIncidentCommands } from './commands/incident';
import { registerRotateCommand } from './commands/rotate';
import { registerFleetCommand } from './commands/fleet';
import { registerStatusCommands } from './commands/status';
import { registerRepairCommand } from './commands/repair';
import { registerUnlockCommand } from './commands/unlock';
import { RunState, type LocalDelivery, type LocalRotation } from './context';
import { ExitCode, reportOf } from './errors';
import { redactKeys, type CliIo } from './output';
import { isHelpOrVersion, jsonRequested, safeUsageText, usageReport } from './usage-errors';
import { DEFAULT_STACK_NAME } from './stack-discovery';

const ROOT_HELP = `
Exit codes:
  0  done
  1  refused or failed (RotationInProgress, UnknownClient, UnknownKey, ClientOffboarded,
     RegistrationConflict, CurrentKeyRevocationRefused, RollbackNotPossible, RotationAlreadyRan,
     RotationIdCollision, NativeRotationEnabled, a rotation that FAILED)
  2  bad arguments or usage: nothing was changed
  3  environment: stack or outputs not found, no credentials, endpoint or emulator unreachable

Stack discovery (first that applies):
  --outputs-file <file> | $KEYROLL_OUTPUTS_FILE   the JSON \`cdk deploy --outputs-file\` writes
  --stack <name> | $KEYROLL_STACK                 CloudFormation DescribeStacks (default ${DEFAULT_STACK_NAME})
  AWS_ENDPOINT_URL points every call at an emulator (moto, LocalStack).

JSON: with --json (anywhere on the line) stdout holds exactly one JSON document, the result or
  {"error": {"name", "message", "exitCode", "issues"?}}: commander's usage errors too (UnknownCommand,
  UnknownOption, MissingArgument, ExcessArguments, MissingRequiredOption, MissingOptionValue,
  InvalidArgument, ConflictingOptions, MissingCommand; exit 2). Messages stay on stderr as text.
  --help is always text.

Audit actor: --actor, else $KEYROLL_ACTOR, else your AWS identity (sts:GetCallerIdentity), else local:$USER.

Incident playbook: docs/runbook.md. Local rehearsal: npm run keyroll:local-env.`;

/** Builds the command tree for one run. */
export function buildProgram(state: RunState, io: CliIo): Command {
  const program = new Command('keyroll')
    .description('Operate KeyRoll: onboard clients, rotate and revoke their API keys, and follow rotations.')
    .option('--json', 'print the result, or any error, as one JSON document on stdout (see JSON below); --help stays text')
    .option('--stack <name>', `CloudFormation stack to read the outputs of (default ${DEFAULT_STACK_NAME}, or $KEYROLL_STACK)`)
    .option('--outputs-file <file>', 'read the stack outputs from this cdk-outputs.json instead (or $KEYROLL_OUTPUTS_FILE)')
    .option('--region <region>', 'AWS region (default: your AWS configuration)')
    .option('--profile <name>', 'AWS profile (default: your AWS configuration)')
    .option('--actor <name>', 'who to name in the audit trail (default: your AWS identity)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      // Help shown for an error is ours (its apostrophes are not quotes): only error messages echo operator input.
      writeErr: (text) => io.stderr(redactKeys(text)),
      outputError: (text, write) => write(safeUsageText(text)),
    })
    .addHelpText('after', ROOT_HELP);
  registerClientCommands(program, state);
  registerRotateCommand(program, state);
  registerFleetCommand(program, state);
  registerStatusCommands(program, state);
  registerIncidentCommands(program, state);
  registerRepairCommand(program, state);
  registerUnlockCommand(program, state);
  return program;
}

/** Options of {@link run} for tests. */
export interface RunOptions {
  /** @default io.env, else process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default the wall clock */
  readonly clock?: Clock;
  /** `rotate --local`; without it, `--local` is refused (the packaged CLI). */
  readonly localRotation?: LocalRotation;
  /** The in-process delivery projection for an emulator without a delivery function (a checkout only). */
  readonly localDelivery?: LocalDelivery;
}

/** Runs the CLI on `argv` (without the node and script names) and returns the exit code. */
export async function run(argv: readonly string[], io: CliIo, options: RunOptions = {}): Promise<number> {
  const env = options.env ?? io.env ?? process.env;
  const state = new RunState(io, env, options.clock, options.localRotation, options.localDelivery);
  const program = buildProgram(state, io);
  try {
    if (argv.length === 0) {
      io.stderr(program.helpInformation());
      return ExitCode.USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError && isHelpOrVersion(error)) return ExitCode.OK;
    // Commander printed its usage errors to stderr already; our own errors are printed here.
    const report = error instanceof CommanderError ? usageReport(error, program, argv) : reportOf(error);
    // The message already lists the issues; --json carries them one by one.
    if (!(error instanceof CommanderError)) io.stderr(redactKeys(`error: ${report.name}: ${report.message}\n`));
    if (jsonRequested(program, argv)) io.stdout(redactKeys(`${JSON.stringify({ error: report }, null, 2)}\n`));
    return report.exitCode;
  } finally {
    state.close();
  }
}
