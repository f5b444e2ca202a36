/**
 * Runs the synthesized rotation state machine on the one local runner (local/local-runner.ts):
 * the real definition from the CDK template, Lambda tasks calling the real handlers in-process,
 * and the direct service integrations (sns:publish, dynamodb:updateItem) sent to moto
 * through the SDK. Everything the workflow produces (state I/O, events, log lines,
 * service-integration parameters) goes to a tap that the plaintext checks read. Every AWS
 * call of a Task state is recorded per run (call-recorder.ts), a crash can be injected
 * right after any of them (the crash matrix, test/workflow/crash-matrix.test.ts), and a write
 * can be held back before it is sent and released later (the zombie matrix,
 * test/workflow/zombie-matrix.test.ts).
 *
 * An execution stopped while a task runs (StopExecution, here `abort`) behaves as on AWS: the
 * running handler goes on (a zombie, awaited with {@link WorkflowRunner.settled}), and no
 * state of the execution starts or is retried after the stop.
 *
 * Step Functions' limits apply as on AWS (local/step-functions-limits.ts): {@link WorkflowRunner.run}
 * refuses what StartExecution refuses (an input over 256 KiB, a bad execution name) before
 * anything runs, and a state's input, output or task result over 256 KiB fails the execution
 * with the terminal `States.DataLimitExceeded`.
 */
import type { Clock } from '../../lambdas/core/clock';
import { ManualClock } from '../../lambdas/core/clock';
import { dynamoDbClient, secretsManagerClient, snsClient } from '../../lambdas/aws/clients';
import type { StepDeps } from '../../lambdas/handlers/step-handlers';
import { LocalStateMachine, type LocalExecutionEvent, type TaskInvocation } from '../../local/local-runner';
import type { SynthesizedWorkflow } from '../../local/synthesized-workflow';
import { RotationStates } from '../../lib/rotation-definition';
import { SecretTap } from './secret-tap';
import { isStoreWrite, observeCalls, recordCallsOf, type AwsCall, type CallObserver } from './call-recorder';
import { asNoPrincipal } from '../../local/local-identity';
import { registerIamWorld } from './iam-guard';
import { LOCAL_STATE_MACHINE_ARN } from './local-executions';

export type { SynthesizedWorkflow } from '../../local/synthesized-workflow';

/** Everything a workflow run produced, for the plaintext-leak checks (see secret-tap.ts). */
export class Tap extends SecretTap {}

/**
 * A crash injected right after the n-th AWS call (1-based) that a state makes in the
 * execution (counted over its visits and attempts, failed calls included): the call took
 * effect (or failed: then the caller dies instead of handling the error), the caller dies.
 * For a Lambda task the handler fails with `Lambda.Unknown` (what Step Functions reports for a
 * crashed function); for a direct service integration the response is lost after the effect
 * (the integration's retryable `<Service>.SdkClientException`, taken from the state's Retry).
 */
export interface CrashPoint {
  readonly state: string;
  readonly afterCall: number;
  /** The error the crash surfaces as; a name no Retry matches models a retry that never happens. */
  readonly error?: string;
}

/**
 * A write held back: right before the state sends its `beforeWrite`-th Secrets Manager or
 * DynamoDB write (1-based, counted over its visits and attempts in the execution, failed
 * writes included: a write is counted when it is about to be sent), `onHold` is called and the
 * write is sent only when the promise it returns resolves (kept from the server if it rejects).
 */
export interface HoldPoint {
  readonly state: string;
  readonly beforeWrite: number;
  readonly onHold: (call: Omit<StateCall, 'ok'>) => Promise<void>;
}

/** One AWS call of a state, in execution order. */
export interface StateCall extends AwsCall {
  readonly state: string;
  /** Which run of the state's task (1-based, over all its visits and retries). */
  readonly attempt: number;
}

/** Where an armed crash fired. */
export interface FiredCrash extends CrashPoint {
  readonly call: AwsCall;
  /** The attempt of the state that crashed (1-based, over all its visits and retries). */
  readonly attempt: number;
  /** False when the handler caught the crash instead of failing with it (a faithless crash). */
  readonly surfaced: boolean;
}

/** Options of one execution. */
export interface RunOptions {
  readonly input: unknown;
  readonly rotationId: string;
  /** Called before a Task state's handler runs, after the clock has jumped over the Wait before it. */
  readonly beforeTask?: (state: string, input: unknown) => Promise<void> | void;
  /** Makes a step's handler fail with this error (every attempt) instead of running. */
  readonly failStep?: { state: string; error: Error };
  readonly crash?: CrashPoint;
  /** A second crash, armed once `crash` has fired (its `afterCall` counts from the execution's start too). */
  readonly thenCrash?: CrashPoint;
  readonly hold?: HoldPoint;
}

/** How an execution ended. */
export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  readonly cause?: string;
  readonly events: LocalExecutionEvent[];
  /** State name → how many times its task ran. */
  readonly attempts: Map<string, number>;
  /** State name → number of AWS SDK calls its handler made (all attempts). */
  readonly awsCalls: Map<string, number>;
  /** Every AWS call of every Task state (handlers' SDK calls and direct integrations), in order. */
  readonly calls: StateCall[];
  /** The crash asked for in {@link RunOptions.crash}, if it fired. */
  readonly crashed?: FiredCrash;
  /** The crash asked for in {@link RunOptions.thenCrash}, if it fired. */
  readonly crashedAgain?: FiredCrash;
  /** Stopped (aborted) before it ended; a handler may still be running (see {@link WorkflowRunner.settled}). */
  readonly aborted?: true;
}

/** What one execution observes while it runs (kept per run, so concurrent runs stay apart). */
interface RunRecord {
  readonly calls: StateCall[];
  readonly counts: Map<string, number>;
  /** Crashes still to fire, in order. */
  readonly armed: CrashPoint[];
  /** State → AWS calls it made so far, failed ones included (what {@link CrashPoint.afterCall} counts). */
  readonly callCounts: Map<string, number>;
  /** Crashes that fired, in order. */
  readonly fired: (Omit<FiredCrash, 'surfaced'> & { surfaced: boolean; thrown: Error })[];
  hold: HoldPoint | undefined;
  /** Writes counted towards {@link HoldPoint.beforeWrite}. */
  holdCount: number;
}

/** Step Functions' name for a direct integration's service (`sns` → `SNS`). */
const INTEGRATION_SERVICES: Record<string, string> = { sns: 'SNS', dynamodb: 'DynamoDB' };

/** `arn:aws:states:::sns:publish` → SNS Publish; undefined for a Lambda function ARN. */
function integrationCall(resource: string): { service: string; command: string } | undefined {
  const match = /^arn:aws:states:::([a-z0-9]+):([A-Za-z]+)$/.exec(resource);
  if (!match) return undefined;
  const [, service, action] = match as unknown as [string, string, string];
  return { service: INTEGRATION_SERVICES[service] ?? service, command: action.charAt(0).toUpperCase() + action.slice(1) };
}

/** The topics the definition publishes to (client: NotifyRotated's, ops: NotifyOpsFailure's), for the IAM check's world. */
function topicsOf(workflow: SynthesizedWorkflow): { clientTopicArn?: string; opsTopicArn?: string } {
  const states = workflow.definition.States as Record<string, { Parameters?: { TopicArn?: string } }>;
  return { clientTopicArn: states[RotationStates.NOTIFY_ROTATED]?.Parameters?.TopicArn, opsTopicArn: states[RotationStates.NOTIFY_OPS_FAILURE]?.Parameters?.TopicArn };
}

/** Runs rotations through the synthesized definition against moto, on the one local runner (local/local-runner.ts). */
export class WorkflowRunner {
  private readonly machine: LocalStateMachine;
  /** Executions (by rotation id) that ended with handlers still running, until {@link settled}. */
  private readonly stoppedRuns = new Map<string, { readonly record: RunRecord; readonly settled: () => Promise<void> }>();

  constructor(
    private readonly workflow: SynthesizedWorkflow,
    private readonly deps: StepDeps & { tableName: string },
    readonly tap: Tap = new Tap(),
  ) {
    this.machine = new LocalStateMachine(workflow, { machine: 'rotation', validate: true, deps });
    recordCallsOf(secretsManagerClient(), dynamoDbClient(), snsClient());
    registerIamWorld({ ...topicsOf(workflow), tableName: deps.tableName, secretNamePrefix: (deps as { secretNamePrefix?: string }).secretNamePrefix, rotationStateMachineArn: LOCAL_STATE_MACHINE_ARN });
  }

  /** The clock the handlers use. */
  get clock(): Clock {
    return this.deps.clock;
  }

  /**
   * Runs one execution (named `rotationId`) to its end.
   *
   * @throws StartExecutionRefusedError (ValidationException, InvalidName) where StartExecution would refuse the name or input: nothing runs.
   */
  async run(options: RunOptions): Promise<RunResult> {
    const attempts = new Map<string, number>();
    const armed = [options.crash, options.thenCrash].filter((c): c is CrashPoint => c !== undefined);
    const record: RunRecord = { calls: [], counts: new Map(), armed, callCounts: new Map(), fired: [], hold: options.hold, holdCount: 0 };
    const events: LocalExecutionEvent[] = [];
    const restoreOutput = captureOutput(this.tap);
    const result = await this.machine
      .run({
        input: options.input,
        name: options.rotationId,
        // The local interpreter skips the Waits; the manual clock jumps to where each would have ended.
        waitUntil: async (targetMs) => {
          const clock = this.deps.clock;
          if (clock instanceof ManualClock && clock.nowMs() < targetMs) clock.advance(targetMs - clock.nowMs());
        },
        aroundTask: (task, invoke) => this.task(task, invoke, options, record, attempts),
        onEvent: (event) => {
          events.push(event);
          this.tap.add(`event ${event.type}`, event);
        },
      })
      .catch((error: unknown) => {
        restoreOutput();
        throw error;
      });
    const observed = this.observed(record);
    if (result.status === 'SUCCEEDED') this.tap.add('execution output', result.output);
    else this.tap.add('execution error', result.thrown);
    // A zombie's log lines still belong to the tap: keep capturing until it ends.
    if (result.zombies) {
      this.stoppedRuns.set(options.rotationId, { record, settled: result.settled });
      void result.settled().then(restoreOutput);
    } else restoreOutput();
    if (result.status === 'SUCCEEDED') return { status: 'SUCCEEDED', output: result.output as Record<string, unknown>, events, attempts, ...observed };
    return { status: 'FAILED', error: result.error, cause: result.cause, events, attempts, ...observed, ...(result.aborted ? { aborted: true as const } : {}) };
  }

  /**
   * Waits until every handler of the (stopped) execution `rotationId` that was still running
   * when it ended has finished, and returns every call the execution made, the zombies' late
   * ones included. For an execution that ended with nothing running, returns at once.
   */
  async settled(rotationId: string): Promise<{ calls: StateCall[] } | undefined> {
    const stopped = this.stoppedRuns.get(rotationId);
    if (!stopped) return undefined;
    await stopped.settled();
    this.stoppedRuns.delete(rotationId);
    return { calls: [...stopped.record.calls] };
  }

  private observed(record: RunRecord): Pick<RunResult, 'awsCalls' | 'calls' | 'crashed' | 'crashedAgain'> {
    const [crashed, crashedAgain] = record.fired.map(({ thrown: _thrown, ...fired }) => fired);
    return { awsCalls: new Map(record.counts), calls: [...record.calls], ...(crashed ? { crashed } : {}), ...(crashedAgain ? { crashedAgain } : {}) };
  }

  /** One attempt of a Task: tapped, hooked, its AWS calls recorded (and crashed or held as armed). */
  private async task(task: TaskInvocation, invoke: () => Promise<unknown>, options: RunOptions, record: RunRecord, attempts: Map<string, number>): Promise<unknown> {
    const { state, input } = task;
    const attempt = (attempts.get(state) ?? 0) + 1;
    attempts.set(state, attempt);
    this.tap.add(`${state} input`, input);
    await options.beforeTask?.(state, input);
    try {
      const observe = this.observer(record, state, attempt);
      const output = await observeCalls(observe, async () => {
        if (task.step) {
          if (options.failStep?.state === state) throw options.failStep.error;
          return invoke();
        }
        // A direct integration: Step Functions makes the call, not a handler; record it the same way.
        const call = integrationCall(task.resource) ?? { service: 'Unknown', command: task.resource };
        let result: unknown;
        try {
          result = await invoke();
        } catch (error) {
          observe({ ...call, ok: false });
          throw error;
        }
        observe({ ...call, ok: true });
        return result;
      });
      const crashed = firedIn(record, state, attempt);
      if (crashed) crashed.surfaced = false;
      this.tap.add(`${state} output`, output);
      return output;
    } catch (error) {
      const crashed = firedIn(record, state, attempt);
      if (crashed && error !== crashed.thrown) crashed.surfaced = false;
      // The error itself: the tap prints it as util.inspect does (own properties, cause).
      this.tap.add(`${state} error`, error);
      throw error;
    }
  }

  /** Records a state's calls, counts them, and throws the next armed crash after the n-th. */
  private observer(record: RunRecord, state: string, attempt: number): CallObserver {
    // The crashed attempt's process is gone: code that caught the crash cannot call AWS again.
    const admit = (call: Omit<AwsCall, 'ok'>): void | Promise<void> => {
      const crashed = firedIn(record, state, attempt);
      if (crashed) throw crashed.thrown;
      const hold = record.hold;
      if (hold?.state !== state || !isStoreWrite(call) || ++record.holdCount !== hold.beforeWrite) return;
      record.hold = undefined;
      // The test's hook (a kill switch, an operator) is not the step: its calls are not the step role's.
      return asNoPrincipal(() => hold.onHold({ state, attempt, ...call }));
    };
    return Object.assign(
      (call: AwsCall) => {
        record.calls.push({ state, attempt, ...call });
        record.callCounts.set(state, (record.callCounts.get(state) ?? 0) + 1);
        if (call.ok) record.counts.set(state, (record.counts.get(state) ?? 0) + 1);
        const crash = record.armed[0];
        if (crash?.state !== state || record.callCounts.get(state) !== crash.afterCall) return;
        record.armed.shift();
        const error = new Error(`Simulated crash of ${state} after AWS call ${crash.afterCall} (${call.service}:${call.command}${call.ok ? '' : ', failed'})`);
        error.name = crash.error ?? this.crashErrorName(state);
        record.fired.push({ ...crash, call: { service: call.service, command: call.command, ok: call.ok }, attempt, surfaced: true, thrown: error });
        throw error;
      },
      { admit },
    );
  }

  /** Lambda tasks crash as `Lambda.Unknown`; a direct integration loses its response as its retryable client error. */
  private crashErrorName(state: string): string {
    const definition = (this.workflow.definition.States as Record<string, { Resource?: string; Retry?: { ErrorEquals: string[] }[] }>)[state];
    const integration = definition?.Resource ? integrationCall(definition.Resource) : undefined;
    if (!integration) return 'Lambda.Unknown';
    const retried = (definition?.Retry ?? []).flatMap((r) => r.ErrorEquals).find((e) => e.endsWith('.SdkClientException'));
    return retried ?? `${integration.service}.SdkClientException`;
  }
}

/** The crash that fired in this attempt of the state, if one did. */
function firedIn(record: RunRecord, state: string, attempt: number): RunRecord['fired'][number] | undefined {
  return record.fired.find((f) => f.state === state && f.attempt === attempt);
}

/** Tap → number of runs capturing into it (runs of one runner share its tap). */
const capturingTaps = new Map<Tap, number>();
let restoreConsole: (() => void) | undefined;

/**
 * Routes stdout/stderr writes (the Powertools log lines) into the tap instead of the
 * console. Concurrent runs share one interception, removed when the last run ends, so an
 * overlapping restore can never leave the console captured.
 */
function captureOutput(tap: Tap): () => void {
  capturingTaps.set(tap, (capturingTaps.get(tap) ?? 0) + 1);
  if (!restoreConsole) {
    const original = { out: process.stdout.write, err: process.stderr.write };
    const capture = (source: string) =>
      ((chunk: unknown, ...rest: unknown[]) => {
        const text = String(chunk);
        for (const active of capturingTaps.keys()) active.add(source, text);
        // Log lines (JSON) are kept off the console; anything else (the test runner's own
        // output) still goes through, so a hung run cannot silence the reporter.
        if (text.startsWith('{')) return true;
        return (source === 'stdout' ? original.out : original.err).call(source === 'stdout' ? process.stdout : process.stderr, chunk as never, ...(rest as []));
      }) as typeof process.stdout.write;
    process.stdout.write = capture('stdout');
    process.stderr.write = capture('stderr');
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const savedConsole = consoleMethods.map((m) => console[m]);
    for (const m of consoleMethods) {
      console[m] = (...args: unknown[]) => {
        for (const active of capturingTaps.keys()) active.add(`console.${m}`, args.map(String).join(' '));
      };
    }
    restoreConsole = () => {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
      consoleMethods.forEach((m, i) => (console[m] = savedConsole[i]!));
    };
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const remaining = (capturingTaps.get(tap) ?? 1) - 1;
    if (remaining > 0) capturingTaps.set(tap, remaining);
    else capturingTaps.delete(tap);
    if (capturingTaps.size === 0) {
      restoreConsole?.();
      restoreConsole = undefined;
    }
  };
}
