/**
 * Runs the synthesized rotation state machine with aws-local-stepfunctions: the real
 * definition from the CDK template, Lambda tasks calling the real handlers in-process,
 * and the direct service integrations (sns:publish, dynamodb:updateItem) sent to moto
 * through the SDK. Everything the workflow produces (state I/O, events, log lines,
 * service-integration parameters) goes to a tap that the plaintext checks read.
 */
import { StateMachine } from 'aws-local-stepfunctions';

/** An execution event of the local interpreter (its type is not exported). */
export type EventLog = { readonly type: string } & Record<string, unknown>;
import type { Clock } from '../../lambdas/core/clock';
import { ManualClock } from '../../lambdas/core/clock';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import type { RotationDeps } from '../../lambdas/aws/rotation/context';
import { overrideRuntime } from '../../lambdas/handlers/runtime';
import {
  executionContext,
  loadStepHandler,
  ServiceIntegrations,
  taskStates,
  waitTargetBefore,
  zeroForEveryState,
  type SynthesizedWorkflow,
  type UsageWaitTargets,
} from '../../lib/local/synthesized-workflow';
import { RotationStates } from '../../lib/rotation-definition';
import { SecretTap } from './secret-tap';

export { synthesizeWorkflow, type SynthesizedWorkflow } from '../../lib/local/synthesized-workflow';

/** Everything a workflow run produced, for the plaintext-leak checks (see secret-tap.ts). */
export class Tap extends SecretTap {}

/** A crash injected right after the n-th AWS call (1-based) of a state's first attempt. */
export interface CrashPoint {
  readonly state: string;
  readonly afterCall: number;
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
}

/** How an execution ended. */
export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: Record<string, unknown>;
  readonly error?: string;
  readonly cause?: string;
  readonly events: EventLog[];
  /** State name → how many times its task ran. */
  readonly attempts: Map<string, number>;
  /** State name → number of AWS SDK calls its handler made (all attempts). */
  readonly awsCalls: Map<string, number>;
}

/** Runs rotations through the synthesized definition against moto. */
export class WorkflowRunner {
  private readonly machine: StateMachine;
  private readonly integrations = new ServiceIntegrations();
  private currentState: string | undefined;
  private readonly callCounts = new Map<string, number>();
  private crashArmed: CrashPoint | undefined;
  private crashCalls = 0;

  constructor(
    private readonly workflow: SynthesizedWorkflow,
    private readonly deps: RotationDeps & { tableName: string },
    readonly tap: Tap = new Tap(),
  ) {
    this.machine = new StateMachine(workflow.definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
    process.env.TABLE_NAME = deps.tableName;
    process.env.KEY_PREFIX = deps.settings.keyPrefix;
    overrideRuntime(deps);
    this.installCallCounter();
  }

  /** The clock the handlers use. */
  get clock(): Clock {
    return this.deps.clock;
  }

  /** Runs one execution to its end. */
  async run(options: RunOptions): Promise<RunResult> {
    const attempts = new Map<string, number>();
    overrideRuntime(this.deps); // several runners (with other settings) may share the process
    this.callCounts.clear();
    this.crashArmed = options.crash;
    this.crashCalls = 0;
    // The Wait states' targets, from the last usage check: the local interpreter skips the
    // waits, and the manual clock jumps to where each Wait would have ended.
    let waitTarget: UsageWaitTargets | undefined;
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [name, resource] of taskStates(this.workflow)) {
      handlers[name] = async (rawInput: unknown) => {
        const input = JSON.parse(JSON.stringify(rawInput)) as unknown; // what crosses the wire is JSON
        attempts.set(name, (attempts.get(name) ?? 0) + 1);
        this.tap.add(`${name} input`, input);
        const waitedFor = waitTargetBefore(name, waitTarget);
        if (waitedFor && this.deps.clock instanceof ManualClock) {
          const target = Date.parse(waitedFor);
          if (this.deps.clock.nowMs() < target) this.deps.clock.advance(target - this.deps.clock.nowMs());
        }
        await options.beforeTask?.(name, input);
        this.currentState = name;
        try {
          const output = await this.invoke(resource, name, input, options);
          this.tap.add(`${name} output`, output);
          if (name === RotationStates.CHECK_USAGE) waitTarget = output as typeof waitTarget;
          return JSON.parse(JSON.stringify(output ?? null)) as unknown;
        } catch (error) {
          this.tap.add(`${name} error`, `${(error as Error).name}: ${(error as Error).message}`);
          throw error;
        } finally {
          this.currentState = undefined;
        }
      };
    }
    const execution = this.machine.run(options.input as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: zeroForEveryState(this.workflow), retryIntervalOverrides: zeroForEveryState(this.workflow) },
      context: executionContext(options.rotationId, options.input, this.deps.clock.nowMs()),
    });
    const events: EventLog[] = [];
    const collecting = (async () => {
      for await (const raw of execution.eventLogs) {
        const event = raw as unknown as EventLog;
        events.push(event);
        this.tap.add(`event ${event.type}`, event);
      }
    })();
    const restoreOutput = captureOutput(this.tap);
    try {
      const output = (await execution.result) as Record<string, unknown>;
      await collecting;
      this.tap.add('execution output', output);
      return { status: 'SUCCEEDED', output, events, attempts, awsCalls: new Map(this.callCounts) };
    } catch (error) {
      await collecting.catch(() => undefined);
      const caught = (error as { cause?: Error }).cause ?? (error as Error);
      this.tap.add('execution error', `${caught.name}: ${caught.message}`);
      return { status: 'FAILED', error: caught.name, cause: caught.message, events, attempts, awsCalls: new Map(this.callCounts) };
    } finally {
      restoreOutput();
      this.crashArmed = undefined;
    }
  }

  private async invoke(resource: string, name: string, input: unknown, options: RunOptions): Promise<unknown> {
    const step = this.workflow.functionArnToStep.get(resource);
    if (step) {
      if (options.failStep?.state === name) throw options.failStep.error;
      const { handler } = await loadStepHandler(step);
      return handler(input);
    }
    return this.integrations.call(resource, input as Record<string, unknown>);
  }

  /** Counts the handlers' SDK calls per state, and throws a simulated crash where asked. */
  private installCallCounter(): void {
    const middleware = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const result = await next(args);
      const state = this.currentState;
      if (state) {
        this.callCounts.set(state, (this.callCounts.get(state) ?? 0) + 1);
        const crash = this.crashArmed;
        if (crash && crash.state === state && ++this.crashCalls === crash.afterCall) {
          this.crashArmed = undefined;
          const error = new Error(`Simulated crash of ${state} after AWS call ${crash.afterCall}`);
          error.name = 'Lambda.Unknown';
          throw error;
        }
      }
      return result;
    };
    for (const client of [secretsManagerClient(), dynamoDbClient()]) {
      const stack = client.middlewareStack as unknown as { remove(name: string): boolean; add(m: unknown, o: unknown): void };
      stack.remove('keyrollTestCallCounter');
      stack.add(middleware, { step: 'initialize', name: 'keyrollTestCallCounter', priority: 'high' });
    }
  }
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
