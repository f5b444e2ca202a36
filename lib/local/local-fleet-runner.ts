/**
 * Runs a fleet rotation locally: the synthesized fleet definition in aws-local-stepfunctions
 * (its Distributed Map runs as a Map with the same MaxConcurrency), the real fleetPage
 * handler, and each item's `startExecution.waitForTaskToken` played by a local rotation
 * (LocalRotationRunner on the synthesized rotation definition) that answers the token
 * through its ReportRotatedToFleet / Report*ToFleet states, as on AWS.
 */
import './polyfills';
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { RotationDeps } from '../../lambdas/aws/rotation/context';
import { overrideRuntime } from '../../lambdas/handlers/runtime';
import { FleetStates } from '../fleet-definition';
import { ignoreHandledTaskErrors, LocalRotationRunner, markHandledTaskError, type LocalExecutionEvent, type LocalRotationResult, type WaitUntil } from './local-rotation-runner';
import { actAs, authorizeLocalCall } from './local-identity';
import { executionContext, LOCAL_ROTATION_STATE_MACHINE_ARN, loadStepHandler, ServiceIntegrations, taskStates, type SynthesizedWorkflow, type TaskTokenSink } from './synthesized-workflow';

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
}

interface PendingToken {
  readonly resolve: (output: string) => void;
  readonly reject: (error: Error) => void;
}

/** Runs fleet executions against emulated AWS. */
export class LocalFleetRunner implements TaskTokenSink {
  private readonly machine: StateMachine;
  private readonly rotations: LocalRotationRunner;
  private readonly pending = new Map<string, PendingToken>();

  constructor(
    private readonly fleet: SynthesizedWorkflow,
    rotation: SynthesizedWorkflow,
    private readonly deps: RotationDeps,
    private readonly options: LocalFleetOptions,
  ) {
    // The interpreter does not know Distributed Map fields (ProcessorConfig, ToleratedFailurePercentage); it runs the Map inline.
    this.machine = new StateMachine(fleet.definition as never, { validationOptions: { noValidate: true } });
    this.rotations = new LocalRotationRunner(rotation, deps, {
      integrations: new ServiceIntegrations(this),
      realRetryIntervals: options.realRetryIntervals ?? false,
      ...(options.onEvent ? { onEvent: (event: LocalExecutionEvent) => options.onEvent!(event, 'rotation') } : {}),
      ...(options.onInvoke ? { onInvoke: options.onInvoke } : {}),
    });
    ignoreHandledTaskErrors();
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

  /** Runs one fleet execution named `fleetId` with `input` (a fleet request). */
  async run(input: unknown, fleetId: string): Promise<LocalFleetResult> {
    overrideRuntime(this.deps);
    const rotations: Promise<LocalRotationResult>[] = [];
    const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
    const fleetIntegrations = new ServiceIntegrations();
    for (const [name, resource] of taskStates(this.fleet)) {
      const step = this.fleet.functionArnToStep.get(resource);
      handlers[name] = async (rawInput: unknown) => {
        const payload = JSON.parse(JSON.stringify(rawInput)) as Record<string, unknown>;
        try {
          return await actAs({ machine: 'fleet', state: name }, async () => {
            if (step) {
              this.options.onInvoke?.(step);
              return JSON.parse(JSON.stringify((await (await loadStepHandler(step)).handler(payload)) ?? null)) as unknown;
            }
            return fleetIntegrations.call(resource, payload);
          });
        } catch (error) {
          markHandledTaskError(error);
          throw error;
        }
      };
    }
    // The Map's item task: start a rotation with a fresh token and wait for its report.
    handlers[FleetStates.ROTATE_CLIENT] = async (rawInput: unknown) => {
      const { Input } = JSON.parse(JSON.stringify(rawInput)) as { Input: Record<string, unknown> };
      // The StartExecution the integration makes with the fleet's role (a denial fails the item as on AWS).
      await actAs({ machine: 'fleet', state: FleetStates.ROTATE_CLIENT }, () =>
        authorizeLocalCall({ service: 'SFN', command: 'StartExecution', input: { stateMachineArn: LOCAL_ROTATION_STATE_MACHINE_ARN } }),
      ).catch((error: unknown) => {
        markHandledTaskError(error);
        throw error;
      });
      const token = randomUUID();
      const reported = new Promise<string>((resolve, reject) => this.pending.set(token, { resolve, reject }));
      const rotation = this.rotations.run({ ...Input, callbackToken: token }, randomUUID(), this.options.waitUntil);
      rotations.push(rotation);
      const clientId = String(Input['clientId']);
      // A rotation that ends without reporting leaves the item to its timeout, as on AWS.
      const unreported = rotation.then(() => {
        if (!this.pending.has(token)) return new Promise<string>(() => undefined);
        this.pending.delete(token);
        throw Object.assign(new Error('The rotation ended without reporting to the fleet.'), { name: 'States.Timeout' });
      });
      try {
        const output = await Promise.race([reported, unreported]);
        this.options.onReport?.({ clientId, ok: true, atMs: performance.now() });
        return JSON.parse(output) as unknown;
      } catch (error) {
        this.options.onReport?.({ clientId, ok: false, error: (error as Error).name, atMs: performance.now() });
        markHandledTaskError(error);
        throw error;
      }
    };
    const context = { ...executionContext(fleetId, input, this.deps.clock.nowMs()), Task: { Token: 'replaced-per-item' } };
    const execution = this.machine.run(input as never, { overrides: { taskResourceLocalHandlers: handlers as never }, context: context as never });
    const drained = (async () => {
      for await (const event of execution.eventLogs) this.options.onEvent?.(event as unknown as LocalExecutionEvent, 'fleet');
    })().catch(() => undefined);
    try {
      const output = (await execution.result) as unknown;
      await drained;
      return { status: 'SUCCEEDED', output, rotations };
    } catch (error) {
      await drained;
      const caught = (error as { cause?: Error }).cause ?? (error as Error);
      return { status: 'FAILED', error: caught.name, cause: caught.message, rotations };
    }
  }
}
