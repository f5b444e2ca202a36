/**
 * Runs a fleet rotation locally: the synthesized fleet definition in aws-local-stepfunctions
 * (its Distributed Map runs as a Map with the same MaxConcurrency), the real fleetPage
 * handler, and each item's `startExecution.waitForTaskToken` played by a local rotation
 * (LocalRotationRunner on the synthesized rotation definition) that answers the token
 * through its ReportRotatedToFleet / Report*ToFleet states, as on AWS.
 *
 * As on AWS: Step Functions' payload and name limits (step-functions-limits.ts), and the
 * rotation StartExecution's name semantics (API_StartExecution,
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html): the
 * same name and input as a running execution returns that execution without starting another;
 * a name already used with another input, or by a closed execution, is refused with
 * ExecutionAlreadyExists. Each attempt of the item's task gets a fresh task token (AWS does not
 * document that a retry keeps it, so the conservative case is played).
 */
import { randomUUID } from 'node:crypto';
import type { StepDeps } from '../lambdas/handlers/step-handlers';
import { FleetStates } from '../lib/fleet-definition';
import { LocalRotationRunner, type LocalRotationResult } from './local-rotation-runner';
import { authorizeLocalCall, actAs } from './local-identity';
import { LocalStateMachine, type LocalExecutionEvent, type WaitUntil } from './local-runner';
import { checkStartExecution, checkTaskResult, StartExecutionRefusedError } from './step-functions-limits';
import { LOCAL_ROTATION_STATE_MACHINE_ARN, ServiceIntegrations, type SynthesizedWorkflow, type TaskTokenSink } from './synthesized-workflow';

/** How a local fleet execution ended, with its rotations. */
export interface LocalFleetResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly error?: string;
  readonly cause?: string;
  /** The fleet's output (its fleet.finished notice) when it succeeded. */
  readonly output?: unknown;
  /** Every rotation an item started, with how it ended (they may outlive the fleet). */
  readonly rotations: Promise<LocalRotationResult>[];
}

/** Options of a local fleet run. */
export interface LocalFleetOptions {
  /** Stands in for the rotations' Wait states (overlap, usage checks). */
  readonly waitUntil: WaitUntil;
  /** Keep retry intervals in real time (needed when throttling must be waited out). */
  readonly realRetryIntervals?: boolean;
  /** Sees every event of the fleet and of every rotation (to count state transitions). */
  readonly onEvent?: (event: LocalExecutionEvent, machine: 'fleet' | 'rotation') => void;
  /** Sees every Lambda invocation, by step (fleetPage or a rotation step). */
  readonly onInvoke?: (step: string) => void;
  /** Called when an item's rotation reports (its new key is current, or it failed). */
  readonly onReport?: (report: { clientId: string; ok: boolean; error?: string; atMs: number }) => void;
  /**
   * Fault injection: when it returns true for an item's StartExecution, the rotation starts but
   * the response is lost (the task fails with StepFunctions.SdkClientException and is retried).
   */
  readonly loseStartResponse?: (clientId: string) => boolean;
  /**
   * Stands in for the items' rotations: no rotation runs, the stub's outcome answers the item's
   * token. Drives the fleet's own states at sizes (10,000 clients) real rotations would take
   * too long for; everything else (definition, fleetPage, limits) is real.
   */
  readonly rotationStub?: (clientId: string) => { readonly ok: true } | { readonly error: string; readonly cause: string };
}

/** A rotation execution started by an item, by name (names are unique per state machine). */
interface StartedRotation {
  readonly input: string;
  open: boolean;
  readonly result: Promise<LocalRotationResult>;
}

/** A task error named as Step Functions names a failed startExecution integration. */
function stepFunctionsError(exception: string, message: string): Error {
  return Object.assign(new Error(message), { name: `StepFunctions.${exception}` });
}

interface PendingToken {
  readonly resolve: (output: string) => void;
  readonly reject: (error: Error) => void;
}

/** Runs fleet executions against emulated AWS. */
export class LocalFleetRunner implements TaskTokenSink {
  private readonly machine: LocalStateMachine;
  private readonly rotations: LocalRotationRunner;
  private readonly pending = new Map<string, PendingToken>();
  private readonly started = new Map<string, StartedRotation>();
  private readonly fleets = new Map<string, { readonly input: string; open: boolean; readonly result: Promise<LocalFleetResult> }>();

  constructor(
    fleet: SynthesizedWorkflow,
    rotation: SynthesizedWorkflow,
    deps: StepDeps,
    private readonly options: LocalFleetOptions,
  ) {
    this.machine = new LocalStateMachine(fleet, {
      machine: 'fleet',
      validate: false,
      deps,
      // An ambiguous start's polling Wait runs in a few real milliseconds (simulated time is the rotations' clock); PaceStart waits in real time.
      waitTimes: { [FleetStates.WAIT_FOR_STARTED_ROTATION]: 20 },
      realRetryIntervals: true,
      ...(options.onEvent ? { onEvent: (event: LocalExecutionEvent) => options.onEvent!(event, 'fleet') } : {}),
      ...(options.onInvoke ? { onInvoke: options.onInvoke } : {}),
    });
    this.rotations = new LocalRotationRunner(rotation, deps, {
      integrations: new ServiceIntegrations(this),
      realRetryIntervals: options.realRetryIntervals ?? false,
      ...(options.onEvent ? { onEvent: (event: LocalExecutionEvent) => options.onEvent!(event, 'rotation') } : {}),
      ...(options.onInvoke ? { onInvoke: options.onInvoke } : {}),
    });
  }

  /**
   * Resolves once every rotation this runner started has ended. A fleet can end (failed, or an
   * item timed out) while rotations it started still run, as executions outlive a stopped fleet on
   * AWS; whoever tears down the emulator waits here first, so no rotation writes after it.
   */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.started.values()].map((started) => started.result));
  }

  /** TaskTokenSink: a rotation reported success. */
  succeed(token: string, output: string): void {
    const waiting = this.pending.get(token);
    if (!waiting) throw Object.assign(new Error('Task token is unknown or already answered.'), { name: 'TaskTimedOut' });
    this.pending.delete(token);
    waiting.resolve(output);
  }

  /** TaskTokenSink: a rotation reported failure. */
  fail(token: string, error: string, cause: string): void {
    const waiting = this.pending.get(token);
    if (!waiting) throw Object.assign(new Error('Task token is unknown or already answered.'), { name: 'TaskTimedOut' });
    this.pending.delete(token);
    waiting.reject(Object.assign(new Error(cause), { name: error }));
  }

  /** A stubbed rotation: answers `token` with the stub's outcome on the next turn, as a rotation's report would. */
  private async stubRotation(clientId: string, rotationId: string, token: string): Promise<LocalRotationResult> {
    await new Promise((resolve) => setImmediate(resolve));
    const outcome = this.options.rotationStub!(clientId);
    // A report to a dead token is refused (TaskTimedOut) and the rotation goes on, as a real one's Report*ToFleet catches it.
    const report = (send: () => void) => {
      try {
        send();
      } catch {
        /* refused */
      }
    };
    if ('ok' in outcome) {
      report(() => this.succeed(token, JSON.stringify({ clientId, rotationId })));
      return { rotationId, status: 'SUCCEEDED', usageDecisions: [] };
    }
    report(() => this.fail(token, outcome.error, outcome.cause));
    return { rotationId, status: 'FAILED', error: outcome.error, cause: outcome.cause, usageDecisions: [] };
  }

  /**
   * Runs one fleet execution named `fleetId` with `input` (a fleet request).
   *
   * @throws StartExecutionRefusedError (ValidationException, InvalidName) where StartExecution would refuse the name or input: nothing runs.
   */
  async run(input: unknown, fleetId: string): Promise<LocalFleetResult> {
    checkStartExecution(fleetId, input);
    // As StartExecution: the same name and input while it runs is that execution; any other reuse of the name is refused.
    const inputJson = JSON.stringify(input);
    const previous = this.fleets.get(fleetId);
    if (previous?.open && previous.input === inputJson) return previous.result;
    if (previous) throw Object.assign(new Error(`Execution Already Exists: '${fleetId}'`), { name: 'ExecutionAlreadyExists' });
    const record = { input: inputJson, open: true, result: this.execute(input, fleetId) };
    this.fleets.set(fleetId, record);
    void record.result.finally(() => (record.open = false));
    return record.result;
  }

  private async execute(input: unknown, fleetId: string): Promise<LocalFleetResult> {
    const rotations: Promise<LocalRotationResult>[] = [];
    // The Map's item task: start a rotation (by name, as StartExecution does) with this attempt's token and wait for its report.
    const rotateClient = async (taskInput: unknown) => {
      const parameters = taskInput as { Input: Record<string, unknown>; Name?: string };
      // The StartExecution the integration makes with the fleet's role (a denial fails the item as on AWS).
      await actAs({ machine: 'fleet', state: FleetStates.ROTATE_CLIENT }, () => authorizeLocalCall({ service: 'SFN', command: 'StartExecution', input: { stateMachineArn: LOCAL_ROTATION_STATE_MACHINE_ARN } }));
      // Without a Name, StartExecution names the execution with a fresh UUID (every attempt a new execution).
      const { Input, Name = randomUUID() } = parameters;
      const clientId = String(Input.clientId);
      const token = randomUUID();
      const input = { ...Input, callbackToken: token };
      const inputJson = JSON.stringify(input);
      const existing = this.started.get(Name);
      if (existing && !(existing.open && existing.input === inputJson)) {
        throw stepFunctionsError('ExecutionAlreadyExistsException', `Execution Already Exists: 'arn:aws:states:us-east-1:123456789012:execution:KeyRollRotation:${Name}'`);
      }
      const reported = new Promise<string>((resolve, reject) => this.pending.set(token, { resolve, reject }));
      let rotation: Promise<LocalRotationResult>;
      if (existing) {
        rotation = existing.result;
      } else {
        try {
          checkStartExecution(Name, input);
        } catch (error) {
          this.pending.delete(token);
          const refused = error as StartExecutionRefusedError;
          throw stepFunctionsError(refused.name === 'InvalidName' ? 'InvalidNameException' : 'AWSStepFunctionsException', refused.message);
        }
        rotation = this.options.rotationStub ? this.stubRotation(clientId, Name, token) : this.rotations.run(input, Name, this.options.waitUntil);
        const record: StartedRotation = { input: inputJson, open: true, result: rotation };
        void rotation.finally(() => (record.open = false));
        this.started.set(Name, record);
        rotations.push(rotation);
      }
      if (this.options.loseStartResponse?.(clientId)) {
        // The execution runs; this attempt's token is dead with the attempt (its report will be refused).
        this.pending.delete(token);
        throw stepFunctionsError('SdkClientException', 'Unable to execute HTTP request: the StartExecution response was lost.');
      }
      // A rotation that ends without reporting leaves the item to its timeout, as on AWS.
      const unreported = rotation.then(() => {
        if (!this.pending.has(token)) return new Promise<string>(() => undefined);
        this.pending.delete(token);
        throw Object.assign(new Error('The rotation ended without reporting to the fleet.'), { name: 'States.Timeout' });
      });
      try {
        const output = await Promise.race([reported, unreported]);
        checkTaskResult(FleetStates.ROTATE_CLIENT, JSON.parse(output));
        this.options.onReport?.({ clientId, ok: true, atMs: performance.now() });
        return JSON.parse(output) as unknown;
      } catch (error) {
        this.options.onReport?.({ clientId, ok: false, error: (error as Error).name, atMs: performance.now() });
        throw error;
      }
    };
    const result = await this.machine.run({ input, name: fleetId, tasks: { [FleetStates.ROTATE_CLIENT]: rotateClient }, context: { Task: { Token: 'replaced-per-item' } } });
    if (result.status === 'SUCCEEDED') return { status: 'SUCCEEDED', output: result.output, rotations };
    return { status: 'FAILED', error: result.error, cause: result.cause, rotations };
  }
}
