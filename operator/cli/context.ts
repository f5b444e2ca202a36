/** What every command's action gets: the output, the session to the deployment, the clock. */
import type { Command } from 'commander';
import type { Clock } from '../../lambdas/core/clock';
import { checkGlobalOptions } from './arguments';
import { ExitCode } from './errors';
import { Output, type CliIo } from './output';
import { Session, type GlobalOptions } from './session';

/** The state of one CLI run, shared by its commands. */
export class RunState {
  exitCode: ExitCode = ExitCode.OK;
  private session?: Session;
  private output?: Output;

  constructor(
    readonly io: CliIo,
    readonly env: NodeJS.ProcessEnv,
    /** For tests; the wall clock otherwise. */
    readonly clock?: Clock,
  ) {}

  /** The context of the command being run (its options merged with the global ones). */
  context(command: Command): CommandContext {
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    this.output ??= new Output(this.io, Boolean(options.json));
    checkGlobalOptions(options);
    this.session ??= new Session({ json: options.json, stack: options.stack, outputsFile: options.outputsFile, region: options.region, profile: options.profile, actor: options.actor }, this.env, this.clock);
    return { output: this.output, session: this.session, nowMs: () => (this.clock ? this.clock.nowMs() : Date.now()), state: this };
  }

  /** The output once a command ran (errors before that are reported in text). */
  get currentOutput(): Output | undefined {
    return this.output;
  }

  close(): void {
    this.session?.close();
  }
}

export interface CommandContext {
  readonly output: Output;
  readonly session: Session;
  readonly nowMs: () => number;
  readonly state: RunState;
}
