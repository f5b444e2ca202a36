/**
 * The one local runner of KeyRoll's state machines (rotation and fleet): the synthesized
 * definition in aws-local-stepfunctions, a Lambda-backed Task calling the real handler
 * in-process ({@link invokeStep}), a direct service integration sent through the SDK
 * (ServiceIntegrations). What it does for every Task, as Step Functions would:
 *
 * - the input and result cross the wire as JSON, within the payload quotas
 *   (step-functions-limits.ts), and StartExecution refuses what the API refuses;
 * - the Task's AWS calls are its function's role's, or its state machine's for an
 *   integration (`actAs`, local-identity.ts);
 * - Wait states end at once unless told otherwise: simulated time is the caller's, who is
 *   told where the Wait before a Task ends ({@link ExecutionOptions.waitUntil});
 * - a stopped execution (StopExecution: here `abort` on the interpreter's execution) starts no
 *   state and no retry after the stop, while a handler already running goes on (a zombie,
 *   awaited with {@link LocalExecutionResult.settled}).
 *
 * The rotation runner (local-rotation-runner.ts), the fleet runner (local-fleet-runner.ts) and
 * the tests' runner (test/support/workflow.ts) are thin layers over it.
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { stepHandlers, type StepDeps, type StepHandler } from '../lambdas/handlers/step-handlers';
import { RotationStates } from '../lib/rotation-definition';
import { actAs } from './local-identity';
import { checkStartExecution, checkTaskInput, checkTaskResult, enforceStateLimits } from './step-functions-limits';
import { executionContext, ServiceIntegrations, taskStates, waitTargetBefore, zeroForEveryState, type SynthesizedWorkflow, type UsageWaitTargets } from './synthesized-workflow';

/** An execution event of the local interpreter (its type is not exported), as observers see it. */
export type LocalExecutionEvent = { readonly type: string; readonly state?: { readonly name?: string } } & Record<string, unknown>;

/** Where simulated time is waited for: resolves once the clock has reached `targetMs`. */
export type WaitUntil = (targetMs: number) => Promise<void>;

/** The error a task of a stopped execution fails with if the interpreter tries to start it (a Retry of a zombie's failure). */
export const EXECUTION_STOPPED_ERROR = 'KeyRollLocal.ExecutionStopped';

/**
 * Invokes the Lambda function behind `step` with `input`, over `deps`, as Lambda would: the
 * real handler module, in-process. The one place a local run calls a handler.
 */
export function invokeStep(step: string, input: unknown, deps: StepDeps): Promise<unknown> {
  let handlerOf = handlersByDeps.get(deps);
  if (!handlerOf) handlersByDeps.set(deps, (handlerOf = stepHandlers(deps)));
  return handlerOf(step)(input);
}

/** Each dependency set's handlers, built once (as a container builds its handler once). */
const handlersByDeps = new WeakMap<StepDeps, (step: string) => StepHandler>();

/**
 * Errors thrown by task handlers. aws-local-stepfunctions leaves a rejected promise behind
 * when a Retry or Catch handles a task's error; outside jest, Node would treat that as an
 * unhandled rejection and exit. Only these exact errors are ignored.
 */
const handledTaskErrors = new WeakSet<object>();
let rejectionFilterInstalled = false;

/** Installs the filter for the interpreter's handled-but-rejected task promises (see above). */
function ignoreHandledTaskErrors(): void {
  if (rejectionFilterInstalled) return;
  rejectionFilterInstalled = true;
  process.on('unhandledRejection', (reason) => {
    if (typeof reason === 'object' && reason !== null && handledTaskErrors.has(reason)) return;
    throw reason;
  });
}

/** Marks an error thrown by a task handler as handled by the interpreter (Retry/Catch); returns it. */
function markedError<T>(error: T): T {
  if (typeof error === 'object' && error !== null) handledTaskErrors.add(error);
  return error;
}

/** One Task state's invocation. */
export interface TaskInvocation {
  readonly state: string;
  readonly resource: string;
  /** The Lambda step behind the state (createSecret, fleetPage, ...); undefined for a direct service integration. */
  readonly step: string | undefined;
  /** The Task's input after Parameters, as JSON carried it. */
  readonly input: unknown;
}

/** How a machine runs, for all its executions. */
export interface LocalMachineOptions {
  /** Whose role the Tasks' calls are judged against (local-identity.ts). */
  readonly machine: 'rotation' | 'fleet';
  /** Validate the definition's paths and ARNs; off for the fleet: the interpreter does not know Distributed Map fields and runs the Map inline. */
  readonly validate: boolean;
  /** The Lambda handlers' dependencies. */
  readonly deps: StepDeps;
  /** Service integrations to use (e.g. one that answers a local fleet's task tokens). */
  readonly integrations?: ServiceIntegrations;
  /** Wait state → milliseconds it lasts; default: every Wait ends at once. */
  readonly waitTimes?: Record<string, number>;
  /** Keep the definition's retry intervals in real time instead of skipping them (to wait out real throttling). */
  readonly realRetryIntervals?: boolean;
  /** Sees every execution event (state entered, retried, ...), e.g. to count transitions. */
  readonly onEvent?: (event: LocalExecutionEvent) => void;
  /** Sees every Lambda-backed task invocation (attempts included), by step. */
  readonly onInvoke?: (step: string) => void;
}

/** One execution. */
export interface ExecutionOptions {
  readonly input: unknown;
  /** The execution's name (a rotation's: its rotation id). */
  readonly name: string;
  /** Stands in for the Wait before a usage check or the retirement: resolves once simulated time has reached its end. */
  readonly waitUntil?: WaitUntil;
  /** Wraps every Task's invocation (after its input is checked and its Wait is over); `invoke` runs the Task. */
  readonly aroundTask?: (task: TaskInvocation, invoke: () => Promise<unknown>) => Promise<unknown>;
  /** States whose invocation is this instead of the handler or integration (the fleet's item task). */
  readonly tasks?: Readonly<Record<string, (input: unknown) => Promise<unknown>>>;
  /** Sees this execution's events. */
  readonly onEvent?: (event: LocalExecutionEvent) => void;
  /** More of the `$$` context than the execution's (the fleet's item task token). */
  readonly context?: Record<string, unknown>;
}

/** How an execution ended. */
export interface LocalExecutionResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  readonly error?: string;
  /** The failure's cause (error messages carry ids only, never key material). */
  readonly cause?: string;
  /** The thrown error itself (for a failure), as the interpreter rejected with it. */
  readonly thrown?: unknown;
  /** Stopped (aborted) before it ended. */
  readonly aborted?: true;
  /** The outputs of the usage checks (CheckPreviousKeyUsage), in order. */
  readonly usageChecks: readonly UsageWaitTargets[];
  /** True when a handler was still running when the execution ended (a stopped execution's zombie). */
  readonly zombies: boolean;
  /** Resolves once no handler of the execution runs any more. */
  settled(): Promise<void>;
}

/** What is known of a running execution. */
interface RunState {
  aborted: boolean;
  readonly inFlight: Set<Promise<unknown>>;
  readonly usageChecks: UsageWaitTargets[];
}

const roundTrip = (value: unknown): unknown => JSON.parse(JSON.stringify(value ?? null)) as unknown;

/** Runs executions of one synthesized state machine against emulated AWS. */
export class LocalStateMachine {
  private readonly machine: StateMachine;
  private readonly integrations: ServiceIntegrations;
  private readonly overrides: { waitTimeOverrides: Record<string, number>; retryIntervalOverrides?: Record<string, number> };

  constructor(
    readonly workflow: SynthesizedWorkflow,
    private readonly options: LocalMachineOptions,
  ) {
    this.machine = new StateMachine(workflow.definition as never, { validationOptions: options.validate ? { checkPaths: true, checkArn: true } : { noValidate: true } });
    this.integrations = options.integrations ?? new ServiceIntegrations();
    // Waits happen in simulated time: no real sleeps. Retries too, unless they must pace real throttling.
    this.overrides = {
      waitTimeOverrides: options.waitTimes ?? zeroForEveryState(workflow),
      ...(options.realRetryIntervals ? {} : { retryIntervalOverrides: zeroForEveryState(workflow) }),
    };
    ignoreHandledTaskErrors();
    enforceStateLimits();
  }

  /** The Lambda handlers' dependencies. */
  get deps(): StepDeps {
    return this.options.deps;
  }

  /**
   * Runs one execution to its end.
   *
   * @throws StartExecutionRefusedError (ValidationException, InvalidName) where StartExecution would refuse the name or input: nothing runs.
   */
  async run(options: ExecutionOptions): Promise<LocalExecutionResult> {
    checkStartExecution(options.name, options.input);
    const run: RunState = { aborted: false, inFlight: new Set(), usageChecks: [] };
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [state, resource] of taskStates(this.workflow)) {
      handlers[state] = (rawInput: unknown) => {
        // Step Functions starts nothing of a stopped execution; the interpreter would still retry a zombie's failure.
        if (run.aborted) return Promise.reject(markedError(Object.assign(new Error(`${state}: the execution was stopped`), { name: EXECUTION_STOPPED_ERROR })));
        const running = this.task(state, resource, rawInput, options, run);
        run.inFlight.add(running);
        const forget = () => run.inFlight.delete(running);
        running.then(forget, forget);
        return running;
      };
    }
    const execution = this.machine.run(options.input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, ...this.overrides },
      context: { ...executionContext(options.name, options.input, this.options.deps.clock.nowMs()), ...options.context },
    });
    // StopExecution (`abort`, e.g. by test/support/local-executions.ts) marks the run at once, before any zombie can finish.
    const abort = execution.abort;
    execution.abort = () => {
      run.aborted = true;
      abort();
    };
    // The interpreter's event stream rejects with the execution's error if nobody reads it.
    const drained = (async () => {
      for await (const raw of execution.eventLogs) {
        const event = raw as unknown as LocalExecutionEvent;
        this.options.onEvent?.(event);
        options.onEvent?.(event);
      }
    })().catch(() => undefined);
    const settled = async () => {
      // A settling handler may not start another: the run is over.
      while (run.inFlight.size > 0) await Promise.allSettled([...run.inFlight]);
    };
    const ended = { usageChecks: run.usageChecks, settled };
    try {
      const output = (await execution.result) as unknown;
      await drained;
      return { status: 'SUCCEEDED', output, ...ended, zombies: run.inFlight.size > 0 };
    } catch (error) {
      await drained;
      const caught = (error as { cause?: Error }).cause ?? (error as Error);
      return { status: 'FAILED', error: caught.name, cause: caught.message, thrown: error, ...(run.aborted ? { aborted: true as const } : {}), ...ended, zombies: run.inFlight.size > 0 };
    }
  }

  /** One attempt of a Task state. */
  private async task(state: string, resource: string, rawInput: unknown, options: ExecutionOptions, run: RunState): Promise<unknown> {
    const input = roundTrip(rawInput); // what crosses the wire is JSON
    try {
      const waitEnd = waitTargetBefore(state, run.usageChecks.at(-1));
      if (waitEnd && options.waitUntil) await options.waitUntil(Date.parse(waitEnd));
      // Over the quota after Parameters, the state fails before its task is invoked.
      checkTaskInput(state, input);
      const task: TaskInvocation = { state, resource, step: this.workflow.functionArnToStep.get(resource), input };
      const override = options.tasks?.[state];
      const invoke = override ? () => override(input) : () => this.invoke(task);
      const output = await (options.aroundTask ? options.aroundTask(task, invoke) : invoke());
      checkTaskResult(state, output);
      if (state === RotationStates.CHECK_USAGE) run.usageChecks.push(output as UsageWaitTargets);
      return roundTrip(output);
    } catch (error) {
      throw markedError(error);
    }
  }

  /** The Task's handler or integration, with its role's identity (local-identity.ts). */
  private invoke(task: TaskInvocation): Promise<unknown> {
    return actAs({ machine: this.options.machine, state: task.state }, () => {
      if (!task.step) return this.integrations.call(task.resource, task.input as Record<string, unknown>);
      this.options.onInvoke?.(task.step);
      return invokeStep(task.step, task.input, this.options.deps);
    });
  }
}
