/**
 * Runs real rotations locally (the rehearsal, `rotate --local`, the cost bench): the
 * synthesized rotation state machine on the one local runner (local-runner.ts). Wait states
 * are handed to the caller (`waitUntil`), so simulated time can pass with traffic in between.
 */
import type { StepDeps } from '../lambdas/handlers/step-handlers';
import { LocalStateMachine, type LocalMachineOptions, type WaitUntil } from './local-runner';
import type { SynthesizedWorkflow } from './synthesized-workflow';

/** How one local execution ended. */
export interface LocalRotationResult {
  readonly rotationId: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly error?: string;
  /** The failure's cause (error messages carry ids only, never key material). */
  readonly cause?: string;
  /** The usage checks' decisions in order (wait, remind, retire), with their timestamps. */
  readonly usageDecisions: readonly { decision: string; notAfter?: string; deadlineReached?: boolean }[];
}

/** How a runner behaves beyond the defaults (see {@link LocalMachineOptions}). */
export type LocalRunnerOptions = Pick<LocalMachineOptions, 'integrations' | 'realRetryIntervals' | 'onEvent' | 'onInvoke'>;

/** Runs rotation executions against emulated AWS with the given dependencies. */
export class LocalRotationRunner {
  private readonly machine: LocalStateMachine;

  constructor(workflow: SynthesizedWorkflow, deps: StepDeps, options: LocalRunnerOptions = {}) {
    this.machine = new LocalStateMachine(workflow, { machine: 'rotation', validate: true, deps, ...options });
  }

  /**
   * Runs one execution named `rotationId` to its end; `waitUntil` stands in for the Wait states.
   *
   * @throws StartExecutionRefusedError (ValidationException, InvalidName) where StartExecution would refuse the name or input: nothing runs.
   */
  async run(input: unknown, rotationId: string, waitUntil: WaitUntil): Promise<LocalRotationResult> {
    const result = await this.machine.run({ input, name: rotationId, waitUntil });
    const usageDecisions = (result.usageChecks as { decision: string; notAfter?: string; deadlineReached?: boolean }[]).map(({ decision, notAfter, deadlineReached }) => ({
      decision,
      notAfter,
      deadlineReached,
    }));
    if (result.status === 'SUCCEEDED') return { rotationId, status: 'SUCCEEDED', usageDecisions };
    return { rotationId, status: 'FAILED', error: result.error, cause: result.cause, usageDecisions };
  }
}
