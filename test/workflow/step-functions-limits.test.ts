/**
 * The local interpreter enforces Step Functions' limits as AWS does
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html: 256 KiB of UTF-8
 * for "input or output size for a task, state, or execution"; execution names of at most 80
 * characters). States.DataLimitExceeded is "a terminal error that can't be caught by the
 * States.ALL error type" (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
import { StateMachine } from 'aws-local-stepfunctions';
import { checkStartExecution, checkTaskInput, checkTaskResult, enforceStateLimits, MAX_PAYLOAD_BYTES, payloadBytes } from '../../local/step-functions-limits';

enforceStateLimits();

const big = (bytes: number) => 'x'.repeat(bytes);
const catchAll = { Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 2, IntervalSeconds: 0 }], Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }] };
const caught = { Caught: { Type: 'Pass', Result: 'caught', End: true } };

async function outcome(definition: object, input: unknown, handlers: Record<string, (input: unknown) => Promise<unknown>> = {}) {
  const execution = new StateMachine(definition as never, { validationOptions: { noValidate: true } }).run(input as never, { overrides: { taskResourceLocalHandlers: handlers as never } });
  try {
    return { output: await execution.result };
  } catch (error) {
    return { error: ((error as { cause?: Error }).cause ?? (error as Error)).name };
  }
}

describe('payload limits (256 KiB = 262,144 bytes of UTF-8 JSON)', () => {
  it('measures UTF-8 bytes of the JSON text', () => {
    expect(MAX_PAYLOAD_BYTES).toBe(262_144);
    expect(payloadBytes({ a: 'é' })).toBe(Buffer.byteLength('{"a":"é"}'));
  });

  it('a Task result over the limit fails the execution with States.DataLimitExceeded, past Retry and Catch on States.ALL', async () => {
    let calls = 0;
    const result = await outcome(
      { StartAt: 'T', States: { T: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:f', End: true, ...catchAll }, ...caught } },
      {},
      {
        T: async () => {
          calls += 1;
          const value = { blob: big(MAX_PAYLOAD_BYTES) };
          checkTaskResult('T', value);
          return value;
        },
      },
    );
    expect(result).toEqual({ error: 'States.DataLimitExceeded' });
    expect(calls).toBe(1);
  });

  it('a state output over the limit fails the execution (a Pass state, nothing to catch it)', async () => {
    const result = await outcome({ StartAt: 'P', States: { P: { Type: 'Pass', Parameters: { 'a.$': '$.s', 'b.$': '$.s' }, End: true } } }, { s: big(140_000) });
    expect(result).toEqual({ error: 'States.DataLimitExceeded' });
  });

  it('a state input (a Map item after ItemSelector) over the limit fails the execution even with a Catch on the Map', async () => {
    const definition = {
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'item.$': '$$.Map.Item.Value', 'all.$': '$.items' },
          ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', Result: 1, End: true } } },
          End: true,
          ...catchAll,
        },
        ...caught,
      },
    };
    // Four items of 60 KB: the Map's input (240 KB) fits; an item, which copies the whole list (300 KB), does not.
    expect(await outcome(definition, { items: [big(60_000), big(60_000), big(60_000), big(60_000)] })).toEqual({ error: 'States.DataLimitExceeded' });
    expect(await outcome(definition, { items: [big(10), big(10)] })).toEqual({ output: [1, 1] });
  });

  it('a Task input after Parameters over the limit is refused before the task runs', () => {
    expect(() => checkTaskInput('T', { s: big(MAX_PAYLOAD_BYTES) })).toThrow(expect.objectContaining({ name: 'States.DataLimitExceeded' }));
    expect(() => checkTaskInput('T', { s: big(MAX_PAYLOAD_BYTES - 100) })).not.toThrow();
  });
});

describe('StartExecution (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html)', () => {
  it('refuses an input over 262,144 bytes and a name over 80 characters (ValidationException), a forbidden character (InvalidName)', () => {
    expect(() => checkStartExecution('n'.repeat(80), { s: big(MAX_PAYLOAD_BYTES - 20) })).not.toThrow();
    expect(() => checkStartExecution('n', { s: big(MAX_PAYLOAD_BYTES) })).toThrow(expect.objectContaining({ name: 'ValidationException' }));
    expect(() => checkStartExecution('n'.repeat(81), {})).toThrow(expect.objectContaining({ name: 'ValidationException' }));
    for (const bad of ['a b', 'a/b', 'a:b', 'a{b', 'a*b', 'a#b', 'a\u0007b', 'a\u0085b']) {
      expect(() => checkStartExecution(bad, {})).toThrow(expect.objectContaining({ name: 'InvalidName' }));
    }
  });
});
