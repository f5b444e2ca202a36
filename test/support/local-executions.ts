/**
 * Step Functions executions for emergency preemption in the local interpreter: a
 * {@link RotationExecutions} whose `stop` aborts the aws-local-stepfunctions execution that
 * runs the rotation (found by execution name), as StopExecution would. Like the real service,
 * stopping does not cancel a task already running: its handler finishes, and only the guards
 * of its writes keep it from changing anything.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { StateMachine } from 'aws-local-stepfunctions';
import { RotationExecutions, type ExecutionDescription, type StopReason } from '../../lambdas/aws/rotation-executions';
import { authorizeLocalCall } from '../../local/local-identity';

type Execution = ReturnType<StateMachine['run']>;

/** Name of the fake state machine the local executions belong to. */
export const LOCAL_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:KeyRollLocal';

/** Stops local executions; records what it was asked to stop. */
export class LocalRotationExecutions extends RotationExecutions {
  private readonly running = new Map<string, Execution>();
  /** Rotation ids whose execution was stopped, with the reason given. */
  readonly stopped = new Map<string, StopReason>();
  private restore: (() => void) | undefined;

  constructor() {
    super(new SFNClient({}), LOCAL_STATE_MACHINE_ARN);
  }

  /** Starts recording every local execution by its name (the rotation id). Call `uninstall` when done. */
  install(): this {
    const original = StateMachine.prototype.run;
    const running = this.running;
    StateMachine.prototype.run = function (this: StateMachine, ...args: Parameters<StateMachine['run']>) {
      const execution = original.apply(this, args);
      const name = (args[1]?.context as { Execution?: { Name?: string } } | undefined)?.Execution?.Name;
      if (name) {
        running.set(name, execution);
        execution.result.then(
          () => running.delete(name),
          () => running.delete(name),
        );
      }
      return execution;
    };
    this.restore = () => (StateMachine.prototype.run = original);
    return this;
  }

  uninstall(): void {
    this.restore?.();
    this.restore = undefined;
  }

  override async start(): Promise<never> {
    throw new Error('LocalRotationExecutions cannot start executions: run them with the WorkflowRunner.');
  }

  /**
   * RUNNING while the local execution runs, ABORTED once stopped here, else not-found (like an
   * execution of another state machine). No stopDate: the interpreter's time is not the tests'
   * clock, so lock decisions fall back to the lock's age.
   */
  override async describe(rotationId: string): Promise<ExecutionDescription> {
    // What the SDK call would be: judged against the caller's role like any other.
    await authorizeLocalCall({ service: 'SFN', command: 'DescribeExecution', input: { executionArn: this.executionArn(rotationId) } });
    if (this.running.has(rotationId)) return { status: 'RUNNING' };
    return { status: this.stopped.has(rotationId) ? 'ABORTED' : 'not-found' };
  }

  /** Aborts the running local execution named `rotationId`; 'not-found' when none runs. */
  override async stop(rotationId: string, reason: StopReason): Promise<'stopped' | 'not-found'> {
    await authorizeLocalCall({ service: 'SFN', command: 'StopExecution', input: { executionArn: this.executionArn(rotationId) } });
    const execution = this.running.get(rotationId);
    if (!execution) return 'not-found';
    this.stopped.set(rotationId, reason);
    this.running.delete(rotationId);
    execution.abort();
    return 'stopped';
  }
}
