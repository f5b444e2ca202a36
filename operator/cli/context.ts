/** What every command's action gets: the output, the session to the deployment, the clock. */
import type { Command } from 'commander';
import type { Clock } from '../../lambdas/core/clock';
import { checkGlobalOptions } from './arguments';
import { ExitCode } from './errors';
import { Output, type CliIo } from './output';
import { Session, type GlobalOptions } from './session';
import type { OpsDeps } from '../ops';
import type { RotationRequest } from '../../lambdas/core/rotation-request';
import type { DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';

/** How a local run ended. */
export interface LocalRunOutcome {
  /** SUCCEEDED/FAILED as the execution would end; IN_OVERLAP when left in its overlap. */
  readonly status: 'SUCCEEDED' | 'FAILED' | 'IN_OVERLAP';
  readonly error?: string;
  readonly cause?: string;
  /** Simulated time the compressed waits skipped, in seconds. */
  readonly simulatedSeconds: number;
  readonly wallMs: number;
  /** The stand-in execution started in the emulator (IN_OVERLAP only). */
  readonly standInExecutionArn?: string;
}

/**
 * `rotate --local`: the synthesized state machine run in this process against an emulator.
 * Only a KeyRoll checkout provides it (it needs aws-cdk-lib and the local interpreter); the
 * packaged CLI has none and refuses `--local` with an EnvironmentError.
 */
export interface LocalRotation {
  /** Refuses unless an emulator is configured. */
  assertEmulator(env: NodeJS.ProcessEnv): void;
  run(session: Session, deps: OpsDeps, rotationId: string, request: RotationRequest, options: { readonly leaveInOverlap: boolean }): Promise<LocalRunOutcome>;
}

/**
 * The delivery projection run in this process (the delivery function's code, with the
 * caller's credentials), for an emulator whose stack has no `DeliveryFunctionName` (the local
 * environment). Only a KeyRoll checkout provides it; a deployed stack is always asked through
 * its delivery function.
 */
export interface LocalDelivery {
  projector(deps: OpsDeps): DeliveryProjector;
}

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
    /** `rotate --local`, where this build has it. */
    readonly localRotation?: LocalRotation,
    /** The in-process delivery projection for emulators, where this build has it. */
    readonly localDelivery?: LocalDelivery,
  ) {}

  /** The context of the command being run (its options merged with the global ones). */
  context(command: Command): CommandContext {
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    this.output ??= new Output(this.io, Boolean(options.json));
    checkGlobalOptions(options);
    this.session ??= new Session(
      { json: options.json, stack: options.stack, outputsFile: options.outputsFile, region: options.region, profile: options.profile, actor: options.actor },
      this.env,
      this.clock,
      this.localDelivery,
    );
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
