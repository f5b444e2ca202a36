/**
 * Step Functions adapter: start a rotation (the execution name is the rotation id), stop one,
 * and ask how one stands. Start and stop are idempotent: starting a name that exists is
 * "already started", stopping an execution that does not exist (or has ended) is "nothing to stop".
 */
import { DescribeExecutionCommand, ExecutionAlreadyExists, ExecutionDoesNotExist, StartExecutionCommand, StopExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { executionArnFor, isStateMachineArn } from '../core/execution-arn';
import type { RotationRequest } from '../core/rotation-request';
import { classifyTransient } from './transient';

/** Outcome of {@link RotationExecutions.start}. */
export interface StartedRotation {
  readonly rotationId: string;
  readonly executionArn: string;
  /**
   * False when Step Functions answered ExecutionAlreadyExists (the name was used: a duplicate
   * start, or the same rotation id with another input). A repeat while the first execution
   * still runs with the same input is answered with that execution and counts as started:
   * either way exactly one execution exists for the rotation id.
   */
  readonly started: boolean;
}

/** Why an execution is stopped: the `error` and `cause` its history shows. Ids only, never key material. */
export interface StopReason {
  readonly error: string;
  readonly cause: string;
}

/** An execution's status as DescribeExecution reports it, or `not-found`. */
export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE' | 'not-found';

/** How a rotation's execution stands (see {@link RotationExecutions.describe}). */
export interface ExecutionDescription {
  readonly status: ExecutionStatus;
  /** When it ended (ISO-8601); absent while it runs and when it was not found. */
  readonly stopDate?: string;
}

/** Starts, stops and describes executions of the rotation state machine. */
export class RotationExecutions {
  constructor(
    private readonly sfn: SFNClient,
    readonly stateMachineArn: string,
  ) {
    if (!isStateMachineArn(stateMachineArn)) throw new RangeError('RotationExecutions needs the rotation state machine ARN (stack output StateMachineArn).');
  }

  /** The ARN of the execution that runs (or ran) rotation `rotationId`. */
  executionArn(rotationId: string): string {
    return executionArnFor(this.stateMachineArn, rotationId);
  }

  /**
   * Starts rotation `rotationId` with `request` as the execution input. A second start with the
   * same name is answered with the existing execution (`started: false`), whatever its input:
   * never two rotations for one id.
   */
  async start(rotationId: string, request: RotationRequest): Promise<StartedRotation> {
    try {
      const result = await classifyTransient(() => this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: rotationId, input: JSON.stringify(request) })));
      // Step Functions answers a repeat of a running execution (same name and input) with its ARN.
      return { rotationId, executionArn: result.executionArn ?? this.executionArn(rotationId), started: true };
    } catch (error) {
      if (error instanceof ExecutionAlreadyExists) return { rotationId, executionArn: this.executionArn(rotationId), started: false };
      throw error;
    }
  }

  /**
   * How rotation `rotationId`'s execution stands. `not-found` when this state machine has no
   * execution of that name: it ran on a state machine since replaced or renamed (which ends
   * its executions), its history expired (90 days after it closed), or it never ran in Step
   * Functions (a local run). An unknown future status is reported as RUNNING, the safe reading
   * for lock decisions.
   * https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html
   */
  async describe(rotationId: string): Promise<ExecutionDescription> {
    try {
      const out = await classifyTransient(() => this.sfn.send(new DescribeExecutionCommand({ executionArn: this.executionArn(rotationId) })));
      const status = KNOWN_STATUSES.has(out.status as ExecutionStatus) ? (out.status as ExecutionStatus) : 'RUNNING';
      return { status, ...(status !== 'RUNNING' && out.stopDate ? { stopDate: new Date(out.stopDate).toISOString() } : {}) };
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist || (error as Error).name === 'ExecutionDoesNotExist') return { status: 'not-found' };
      throw error;
    }
  }

  /** Stops rotation `rotationId`'s execution; 'not-found' when there is none (stale lock, other state machine). */
  async stop(rotationId: string, reason: StopReason): Promise<'stopped' | 'not-found'> {
    try {
      await classifyTransient(() => this.sfn.send(new StopExecutionCommand({ executionArn: this.executionArn(rotationId), error: reason.error.slice(0, 256), cause: reason.cause.slice(0, 1000) })));
      return 'stopped';
    } catch (error) {
      if (error instanceof ExecutionDoesNotExist) return 'not-found';
      throw error;
    }
  }
}

const KNOWN_STATUSES: ReadonlySet<ExecutionStatus> = new Set(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);
