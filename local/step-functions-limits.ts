/**
 * The Step Functions limits the local interpreter (aws-local-stepfunctions) does not know,
 * enforced as AWS enforces them, so that a payload or a name that AWS would refuse fails the
 * local run too.
 *
 * Service quotas (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html):
 * "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8
 * encoded string", and names of executions "must not exceed 80 characters" and must not contain
 * white space, `< > { } [ ]`, `? *`, `" # % \ ^ | ~ \` $ & , ; : /` or control characters.
 *
 * - StartExecution (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html):
 *   `input` has "Maximum length of 262144" bytes (UTF-8) and `name` "Maximum length of 80"; a
 *   request over a length constraint is refused by the API's model validation
 *   (`ValidationException: 1 validation error detected: Value ... at 'name' failed to satisfy
 *   constraint: Member must have length less than or equal to 80`), a name with a forbidden
 *   character with `InvalidName`. Nothing starts.
 * - Inside an execution (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html,
 *   "Error names"): `States.DataLimitExceeded` is raised when "the output of a connector is larger
 *   than payload size quota", "the output of a state is larger than payload size quota" or
 *   "after Parameters processing, the input of a state is larger than the payload size quota";
 *   it is "a terminal error that can't be caught by the States.ALL error type". Here it is
 *   neither retried nor caught at all (the interpreter cannot tell an explicit
 *   `ErrorEquals: ["States.DataLimitExceeded"]` from `States.ALL`; no KeyRoll definition names it).
 *
 * What is checked locally, and where:
 * - every state's input as it enters (Map iterations included: an item after ItemSelector is
 *   its iteration's first input) and every state's output as it leaves (after ResultSelector,
 *   ResultPath, OutputPath) — through the interpreter's per-state event dispatch, patched once
 *   on `StateMachine.prototype.execute` (the interpreter has no state-level hook);
 * - a Task's input after Parameters and its raw result (before ResultSelector), in the runners'
 *   task handlers ({@link checkTaskInput}, {@link checkTaskResult});
 * - execution input and name at the runners' StartExecution ({@link checkStartExecution}).
 * Not checked: the input of a Pass/Map/Choice state after its Parameters/ItemSelector other than
 * through the state's output or the iteration's input, and a Map's raw result array when its
 * ResultPath discards it.
 */
import { StateMachine } from 'aws-local-stepfunctions';

/** 256 KiB: the most a state's or an execution's input or output may hold, as UTF-8 JSON. */
export const MAX_PAYLOAD_BYTES = 262_144;
/** The longest execution name. */
export const MAX_EXECUTION_NAME_LENGTH = 80;

// White space, brackets, wildcards, the special characters and control characters the quotas page lists.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_NAME_CHARACTERS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]/u;

/** The size Step Functions measures: the JSON text, in UTF-8 bytes. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
}

/** The largest payload seen per `<state> input|output|result`, while a measurement runs. */
let measured: Map<string, number> | undefined;

function measure(state: string, what: 'input' | 'output' | 'result' | 'execution input', bytes: number): number {
  if (measured) {
    const key = `${state} ${what}`;
    measured.set(key, Math.max(measured.get(key) ?? 0, bytes));
  }
  return bytes;
}

/** Records the largest payload of every state (input, output, task result) until `stop`, for reporting worst cases. */
export function measurePayloads(): { stop(): Map<string, number> } {
  const current = new Map<string, number>();
  measured = current;
  return {
    stop: () => {
      if (measured === current) measured = undefined;
      return current;
    },
  };
}

/** `States.DataLimitExceeded`: terminal, so neither Retry nor Catch (States.ALL) handles it. */
export class DataLimitExceededError extends Error {
  override readonly name = 'States.DataLimitExceeded';
  // The interpreter reads these to decide whether a Retry or Catch may match.
  readonly isRetryable = false;
  readonly isCatchable = false;
  constructor(message: string) {
    super(message);
  }
}

/** A StartExecution refused by the API: `ValidationException` (a length) or `InvalidName`. */
export class StartExecutionRefusedError extends Error {
  constructor(
    override readonly name: 'ValidationException' | 'InvalidName',
    message: string,
  ) {
    super(message);
  }
}

/** Refuses what StartExecution refuses: a name over 80 characters or with a forbidden character, an input over 256 KiB. */
export function checkStartExecution(name: string, input: unknown): void {
  if (name.length < 1 || name.length > MAX_EXECUTION_NAME_LENGTH) {
    throw new StartExecutionRefusedError(
      'ValidationException',
      `1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to ${MAX_EXECUTION_NAME_LENGTH} (got ${name.length})`,
    );
  }
  if (FORBIDDEN_NAME_CHARACTERS.test(name)) throw new StartExecutionRefusedError('InvalidName', `Invalid Name: '${name}'`);
  const bytes = measure('StartExecution', 'execution input', payloadBytes(input));
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new StartExecutionRefusedError(
      'ValidationException',
      `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PAYLOAD_BYTES} (got ${bytes} bytes)`,
    );
  }
}

/** Raises States.DataLimitExceeded when a Task's input after Parameters is over the quota. */
export function checkTaskInput(state: string, input: unknown): void {
  const bytes = measure(state, 'input', payloadBytes(input));
  if (bytes > MAX_PAYLOAD_BYTES)
    throw new DataLimitExceededError(`The state/task '${state}' has an input (after Parameters) of ${bytes} bytes, exceeding the maximum number of bytes service limit (${MAX_PAYLOAD_BYTES}).`);
}

/** Raises States.DataLimitExceeded, with AWS's wording, when a Task's result is over the quota. */
export function checkTaskResult(state: string, result: unknown): void {
  const bytes = measure(state, 'result', payloadBytes(result));
  if (bytes > MAX_PAYLOAD_BYTES)
    throw new DataLimitExceededError(`The state/task '${state}' returned a result with a size exceeding the maximum number of bytes service limit (${bytes} > ${MAX_PAYLOAD_BYTES}).`);
}

interface StateEventLogger {
  dispatchStateEnteredEvent(name: string, type: string, input: unknown): void;
  dispatchStateExitedEvent(name: string, type: string, input: unknown, output: unknown): void;
}
type Execute = (this: unknown, input: unknown, options: { eventLogger: StateEventLogger }, cleanup: () => void) => Promise<unknown>;

let installed = false;

/**
 * Patches the interpreter (once per process) so that every state's input and output is
 * measured as it enters and leaves, in every execution and every Map iteration.
 */
export function enforceStateLimits(): void {
  if (installed) return;
  installed = true;
  const prototype = StateMachine.prototype as unknown as { execute: Execute };
  const execute = prototype.execute;
  prototype.execute = function (this: unknown, input, options, cleanup) {
    const logger = options.eventLogger;
    const entered = logger.dispatchStateEnteredEvent.bind(logger);
    const exited = logger.dispatchStateExitedEvent.bind(logger);
    logger.dispatchStateEnteredEvent = (name, type, stateInput) => {
      entered(name, type, stateInput);
      const bytes = measure(name, 'input', payloadBytes(stateInput));
      if (bytes > MAX_PAYLOAD_BYTES) throw new DataLimitExceededError(`The state '${name}' has an input of ${bytes} bytes, exceeding the maximum number of bytes service limit (${MAX_PAYLOAD_BYTES}).`);
    };
    logger.dispatchStateExitedEvent = (name, type, stateInput, output) => {
      const bytes = measure(name, 'output', payloadBytes(output));
      if (bytes > MAX_PAYLOAD_BYTES) throw new DataLimitExceededError(`The state '${name}' produced an output of ${bytes} bytes, exceeding the maximum number of bytes service limit (${MAX_PAYLOAD_BYTES}).`);
      exited(name, type, stateInput, output);
    };
    return execute.call(this, input, options, cleanup);
  };
}
