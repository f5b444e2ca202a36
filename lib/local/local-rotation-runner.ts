/**
 * Runs real rotations locally: the synthesized state machine in aws-local-stepfunctions, the
 * real handlers in-process, the service integrations through the SDK (to moto). Wait states
 * are handed to the caller (`waitUntil`), so simulated time can pass with traffic in between.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { stepHandlers, type StepDeps } from '../../lambdas/handlers/step-handlers';
import { RotationStates } from '../rotation-definition';
import { actAs } from './local-identity';
import { checkStartExecution, checkTaskInput, checkTaskResult, enforceStateLimits } from './step-functions-limits';
import { executionContext, ServiceIntegrations, taskStates, waitTargetBefore, zeroForEveryState, type SynthesizedWorkflow, type UsageWaitTargets } from './synthesized-workflow';

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

/** Where simulated time is waited for: resolves once the clock has reached `targetMs`. */
export type WaitUntil = (targetMs: number) => Promise<void>;

/**
 * Errors thrown by task handlers. aws-local-stepfunctions leaves a rejected promise behind
 * when a Retry or Catch handles a task's error; outside jest, Node would treat that as an
 * unhandled rejection and exit. Only these exact errors are ignored.
 */
const handledTaskErrors = new WeakSet<object>();
let rejectionFilterInstalled = false;

function installRejectionFilter(): void {
  if (rejectionFilterInstalled) return;
  rejectionFilterInstalled = true;
  process.on('unhandledRejection', (reason) => {
    if (typeof reason === 'object' && reason !== null && handledTaskErrors.has(reason)) return;
    throw reason;
  });
}

/** An execution event of the local interpreter, as the observers see it. */
export type LocalExecutionEvent = { readonly type: string; readonly state?: { readonly name?: string } } & Record<string, unknown>;

/** How a runner behaves beyond the defaults. */
export interface LocalRunnerOptions {
  /** Service integrations to use (e.g. one that answers a local fleet's task tokens). */
  readonly integrations?: ServiceIntegrations;
  /**
   * Keep the definition's retry intervals (backoff with full jitter) in real time instead of
   * skipping them: needed when retries wait out throttling, as in the fleet rehearsal.
   */
  readonly realRetryIntervals?: boolean;
  /** Sees every execution event (state entered, retried, ...), e.g. to count transitions. */
  readonly onEvent?: (event: LocalExecutionEvent) => void;
  /** Sees every Lambda-backed task invocation (attempts included), by step. */
  readonly onInvoke?: (step: string) => void;
}

/** Installs the filter for the interpreter's handled-but-rejected task promises (see above). */
export function ignoreHandledTaskErrors(): void {
  installRejectionFilter();
}

/** Marks an error thrown by a local task handler as handled by the interpreter (Retry/Catch). */
export function markHandledTaskError(error: unknown): void {
  if (typeof error === 'object' && error !== null) handledTaskErrors.add(error);
}

/** Runs rotation executions against emulated AWS with the given dependencies. */
export class LocalRotationRunner {
  private readonly machine: StateMachine;
  private readonly integrations: ServiceIntegrations;

  constructor(
    private readonly workflow: SynthesizedWorkflow,
    private readonly deps: StepDeps,
    private readonly options: LocalRunnerOptions = {},
  ) {
    this.machine = new StateMachine(workflow.definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
    this.integrations = options.integrations ?? new ServiceIntegrations();
    installRejectionFilter();
    enforceStateLimits();
  }

  /**
   * Runs one execution named `rotationId` to its end; `waitUntil` stands in for the Wait states.
   *
   * @throws StartExecutionRefusedError (ValidationException, InvalidName) where StartExecution would refuse the name or input: nothing runs.
   */
  async run(input: unknown, rotationId: string, waitUntil: WaitUntil): Promise<LocalRotationResult> {
    checkStartExecution(rotationId, input);
    const handlerOf = stepHandlers(this.deps);
    const usageDecisions: ({ decision: string; deadlineReached?: boolean } & UsageWaitTargets)[] = [];
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, resource] of taskStates(this.workflow)) {
      handlers[name] = async (rawInput: unknown) => {
        const target = waitTargetBefore(name, usageDecisions.at(-1));
        if (target) await waitUntil(Date.parse(target));
        const input = JSON.parse(JSON.stringify(rawInput)) as unknown; // what crosses the wire is JSON
        const step = this.workflow.functionArnToStep.get(resource);
        let output: unknown;
        try {
          checkTaskInput(name, input);
          if (step) this.options.onInvoke?.(step);
          // The state's calls are its function's (or, for an integration, its state machine's): see local-identity.ts.
          output = await actAs({ machine: 'rotation', state: name }, async () => (step ? handlerOf(step)(input) : this.integrations.call(resource, input as Record<string, unknown>)));
          checkTaskResult(name, output);
        } catch (error) {
          if (typeof error === 'object' && error !== null) handledTaskErrors.add(error);
          throw error;
        }
        if (name === RotationStates.CHECK_USAGE) usageDecisions.push(output as (typeof usageDecisions)[number]);
        return JSON.parse(JSON.stringify(output ?? null)) as unknown;
      };
    }
    // Waits happen in simulated time: no real sleeps. Retries too, unless they must pace real throttling.
    const execution = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: handlers as never,
        waitTimeOverrides: zeroForEveryState(this.workflow),
        ...(this.options.realRetryIntervals ? {} : { retryIntervalOverrides: zeroForEveryState(this.workflow) }),
      },
      context: executionContext(rotationId, input, this.deps.clock.nowMs()),
    });
    // The interpreter's event stream rejects with the execution's error if nobody reads it.
    const drained = (async () => {
      for await (const event of execution.eventLogs) {
        // Reading the events also keeps the stream from rejecting unhandled.
        this.options.onEvent?.(event as unknown as LocalExecutionEvent);
      }
    })().catch(() => undefined);
    const decisions = () => usageDecisions.map(({ decision, notAfter, deadlineReached }) => ({ decision, notAfter, deadlineReached }));
    try {
      await execution.result;
      await drained;
      return { rotationId, status: 'SUCCEEDED', usageDecisions: decisions() };
    } catch (error) {
      await drained;
      const caught = (error as { cause?: Error }).cause ?? (error as Error);
      return { rotationId, status: 'FAILED', error: caught.name, cause: caught.message, usageDecisions: decisions() };
    }
  }
}
