/**
 * Hostile execution input: every field of the rotation request (and the execution name, the
 * rotation id) set to every hostile value, through the real beginRotation Lambda handler
 * against moto. Each one is refused with a named error whose message is one printable line
 * that does not echo the value; no SDK write is sent and the table and secret labels are
 * unchanged. A representative subset also runs through the synthesized state machine (no
 * SNS message either). Values that are legitimate free text are accepted and stored verbatim.
 */
import { createStepHandler } from '../../lambdas/handlers/step-handlers';
import { dynamoDbClient, secretsManagerClient } from '../../lambdas/aws/clients';
import type { RotationContext } from '../../lambdas/aws/rotation/context';
import { createRecordedTopic, makeTestDeps, newRotationId, registerTestClient, type RecordedTopic } from '../support/fixtures';
import { snapshot } from '../support/invariants';
import { WorkflowRunner } from '../support/workflow';
import { synthesizeWorkflow } from '../support/workflow-fixture';
import { describeValue, HOSTILE_FIELD_NAMES, HOSTILE_VALUES, unsafeMessage, withField, type HostileValue } from './hostile-values';
import { captureStdout } from './stdout-capture';
import { SdkCalls } from './sdk-calls';
import { MAX_EXECUTION_NAME_LENGTH, MAX_PAYLOAD_BYTES, payloadBytes } from '../../local/step-functions-limits';

jest.setTimeout(120_000);

type Deps = Awaited<ReturnType<typeof makeTestDeps>>;
let deps: Deps;
let client: Awaited<ReturnType<typeof registerTestClient>>;
let before: Awaited<ReturnType<typeof snapshot>>;
let calls: SdkCalls;

beforeAll(async () => {
  deps = await makeTestDeps();
  client = await registerTestClient(deps);
  before = await snapshot(deps, client.secretId);
  calls = new SdkCalls(secretsManagerClient(), dynamoDbClient());
});

const valid = (clientId: string): Record<string, unknown> => ({ clientId, mode: 'manual', reason: 'quarterly rotation', requestedBy: 'alice@example.com' });

/** The request fields and, per field, what a hostile value must give (the oracle: hand-written facts, not the schema). */
type Expected = 'accepted' | 'InvalidRotationInput' | 'UnknownClient';
const freeText =
  (max: number) =>
  (h: HostileValue): Expected =>
    h.printable && !h.apiKey && typeof h.value === 'string' && h.value.trim().length <= max ? 'accepted' : 'InvalidRotationInput';
const FIELDS: Record<string, (h: HostileValue) => Expected> = {
  clientId: (h) => (h.plainId && !h.apiKey ? 'UnknownClient' : 'InvalidRotationInput'),
  mode: () => 'InvalidRotationInput',
  reason: freeText(512),
  requestedBy: freeText(128),
  // Optional: absent is fine; `false` is "not immediately", allowed in any mode.
  overlapSeconds: (h) => (h.value === undefined ? 'accepted' : 'InvalidRotationInput'),
  revokeImmediately: (h) => (h.value === undefined || h.value === false ? 'accepted' : 'InvalidRotationInput'),
};

interface Outcome {
  readonly error?: { name: string; message: string };
  readonly output?: RotationContext;
  readonly logs: string;
}

/** Runs the real Lambda handler (its step wrapper and logger included) built over complete deps over moto. */
async function invoke(request: unknown, rotationId: unknown, on: Deps = deps): Promise<Outcome> {
  const beginRotationHandler = createStepHandler('beginRotation', on);
  const stdout = captureStdout();
  try {
    const output = await beginRotationHandler({ request, rotationId });
    return { output, logs: stdout.text() };
  } catch (error) {
    return { error: { name: (error as Error).name, message: (error as Error).message }, logs: stdout.text() };
  } finally {
    stdout.restore();
  }
}

/**
 * Refused with `name`, a safe message, safe logs, and no SDK write sent. (The table and the
 * labels are compared with the snapshot after every group: a scan per value costs minutes.)
 */
function expectRefused(outcome: Outcome, name: string, hostile: unknown): void {
  expect(outcome.error?.name).toBe(name);
  expect(unsafeMessage(outcome.error!.message, hostile)).toBeUndefined();
  expect(logProblem(outcome.logs, hostile)).toBeUndefined();
  expect(calls.writes).toEqual([]);
}

/** Powertools prints JSON lines: each must parse, and none may carry the hostile value. */
function logProblem(logs: string, hostile: unknown): string | undefined {
  for (const line of logs.split('\n').filter((l) => l.trim())) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return `a log line is not JSON: ${line.slice(0, 80)}`;
    }
    const problem = unsafeMessage(JSON.stringify(parsed), hostile);
    if (problem && problem !== 'contains a control/format/separator character') return `a log line ${problem}`;
    if (line.length > 4000) return `a log line is ${line.length} characters long`;
  }
  return undefined;
}

const rows = Object.entries(FIELDS).flatMap(([field, expected]) => HOSTILE_VALUES.map((h) => ({ field, h, expected: expected(h), title: `${field} = ${h.name}` })));
const refusedRows = rows.filter((r) => r.expected !== 'accepted');
const acceptedRows = rows.filter((r) => r.expected === 'accepted');

describe('each request field × each hostile value, through the beginRotation handler', () => {
  beforeEach(() => calls.reset());
  afterAll(async () => {
    // Nothing changed in moto, whatever the counter may have missed.
    expect(await snapshot(deps, client.secretId)).toEqual(before);
  });

  it.each(refusedRows)('$title → $expected, nothing written', async ({ field, h, expected }) => {
    const outcome = await invoke(withField(valid(client.clientId), field, h.value), newRotationId());
    if (expected === 'UnknownClient') expect(calls.commands.length).toBeGreaterThan(0);
    else expect(calls.commands).toEqual([]); // validation comes before any read
    expectRefused(outcome, expected, h.value);
  });

  // A look-alike of a key is a valid rotation id (it is not a key); it starts a rotation below.
  const badRotationIds = HOSTILE_VALUES.filter((h) => !h.rotationIdShaped || h.apiKey);
  it.each(badRotationIds.map((h) => ({ h, title: h.name })))('rotation id (execution name) = $title → InvalidRotationId, nothing read', async ({ h }) => {
    const outcome = await invoke(valid(client.clientId), h.value);
    expect(calls.commands).toEqual([]);
    expectRefused(outcome, 'InvalidRotationId', h.value);
  });

  it.each(HOSTILE_VALUES.map((h) => ({ h, title: h.name })))('the whole request = $title → InvalidRotationInput', async ({ h }) => {
    // A plain object with no field is still refused: every required field is missing.
    const outcome = await invoke(h.value, newRotationId());
    expect(calls.commands).toEqual([]);
    expectRefused(outcome, 'InvalidRotationInput', h.value);
  });

  const extraRows = HOSTILE_FIELD_NAMES.flatMap((name) => [
    { name, value: 'x' },
    { name, value: { polluted: true } },
  ]).map((r) => ({ ...r, title: `${describeValue(r.name)}: ${describeValue(r.value)}` }));
  it.each(extraRows)('an extra field $title → InvalidRotationInput, no prototype polluted', async ({ name, value }) => {
    const outcome = await invoke(withField(valid(client.clientId), name, value), newRotationId());
    expect(calls.commands).toEqual([]);
    expectRefused(outcome, 'InvalidRotationInput', name);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('hostile values that are legitimate (free text, absent optional fields) are accepted and stored as given', () => {
  // A table of its own: these rotations start. Each releases the lock for the next.
  let own: Deps;
  let target: Awaited<ReturnType<typeof registerTestClient>>;
  beforeAll(async () => {
    own = await makeTestDeps();
    target = await registerTestClient(own);
  });

  it.each(acceptedRows)('$title is accepted', async ({ field, h }) => {
    const rotationId = newRotationId();
    const outcome = await invoke(withField(valid(target.clientId), field, h.value), rotationId, own);
    expect(outcome.error).toBeUndefined();
    expect(outcome.output).toMatchObject({ rotationId, clientId: target.clientId });
    expect(await own.keys.releaseLock(target.clientId, rotationId)).toBe(true);
    const started = (await own.keys.listAudit(target.clientId)).find((e) => e.rotationId === rotationId && e.action === 'rotation.started.manual');
    expect(started).toBeDefined();
    if (field === 'reason' || field === 'requestedBy') {
      // Stored verbatim (trimmed), as data: one line, nothing interpreted.
      expect(started?.[field === 'reason' ? 'reason' : 'actor']).toBe((h.value as string).trim());
      expect(outcome.output?.[field]).toBe((h.value as string).trim());
    }
  });
});

describe('a representative subset through the synthesized state machine', () => {
  let runner: WorkflowRunner;
  let topics: RecordedTopic[];

  beforeAll(async () => {
    topics = await Promise.all([createRecordedTopic(), createRecordedTopic()]);
    runner = new WorkflowRunner(synthesizeWorkflow({ tableName: deps.tableName, clientTopicArn: topics[0].topicArn, opsTopicArn: topics[1].topicArn }), deps);
  });

  // Per field, the first refused value of each category; JSON has no undefined, NaN or Infinity.
  const jsonSafe = (h: HostileValue) => h.value !== undefined && !(typeof h.value === 'number' && !Number.isFinite(h.value));
  const subset = refusedRows.filter((r, i, all) => jsonSafe(r.h) && all.findIndex((o) => o.field === r.field && o.h.category === r.h.category && jsonSafe(o.h)) === i);

  it('covers every field and every category', () => {
    expect(new Set(subset.map((r) => r.field))).toEqual(new Set(Object.keys(FIELDS)));
    expect(subset.length).toBeGreaterThanOrEqual(Object.keys(FIELDS).length * 4);
  });

  it.each(subset)('$title → FAILED with $expected, no change, no SNS message', async ({ field, h, expected }) => {
    const result = await runner.run({ input: withField(valid(client.clientId), field, h.value), rotationId: newRotationId() });
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: expected });
    expect(unsafeMessage(result.cause ?? '', h.value)).toBeUndefined();
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    const published = (await Promise.all(topics.map((t) => t.drain()))).flat();
    expect(published).toEqual([]);
  });
});

/**
 * Step Functions' limits in front of the first step (local/step-functions-limits.ts):
 * StartExecution refuses an input over 262,144 bytes or a name over 80 characters
 * (ValidationException) or with a forbidden character (InvalidName), and nothing starts
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html). Just under the
 * limit, the first step still refuses the request with its named error.
 */
describe('execution input and name at the limits of StartExecution, through the synthesized state machine', () => {
  let runner: WorkflowRunner;
  let topics: RecordedTopic[];

  beforeAll(async () => {
    topics = await Promise.all([createRecordedTopic(), createRecordedTopic()]);
    runner = new WorkflowRunner(synthesizeWorkflow({ tableName: deps.tableName, clientTopicArn: topics[0].topicArn, opsTopicArn: topics[1].topicArn }), deps);
  });
  beforeEach(() => calls.reset());

  /** Nothing read or written, no execution, no SNS message; the table and labels as before. */
  async function expectNothingHappened(): Promise<void> {
    expect(calls.commands).toEqual([]);
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    expect((await Promise.all(topics.map((t) => t.drain()))).flat()).toEqual([]);
  }

  /** A request whose execution input is exactly `bytes` long, `field` padded with `a`. */
  function sized(field: string, bytes: number): Record<string, unknown> {
    const request = withField(valid(client.clientId), field, '');
    return withField(request, field, 'a'.repeat(bytes - payloadBytes(request)));
  }

  const huge = HOSTILE_VALUES.find((h) => h.name === '1 MB of a')!;
  it.each(Object.keys(FIELDS).map((field) => ({ field })))('$field = 1 MB of a → StartExecution refused (ValidationException), nothing happens', async ({ field }) => {
    const input = withField(valid(client.clientId), field, huge.value);
    await expect(runner.run({ input, rotationId: newRotationId() })).rejects.toMatchObject({ name: 'ValidationException' });
    await expectNothingHappened();
  });

  // At the limit StartExecution accepts the input, but ValidateAndLock's Parameters wrap it
  // ({ request, rotationId }: +68 bytes), so the state fails before its task runs: terminal, no Catch.
  it.each(Object.keys(FIELDS).map((field) => ({ field })))('$field padded to 262,145 bytes → refused; to 262,144 → States.DataLimitExceeded at the first step, nothing happens', async ({ field }) => {
    await expect(runner.run({ input: sized(field, MAX_PAYLOAD_BYTES + 1), rotationId: newRotationId() })).rejects.toMatchObject({ name: 'ValidationException' });
    await expectNothingHappened();
    calls.reset(); // the snapshot's reads
    const result = await runner.run({ input: sized(field, MAX_PAYLOAD_BYTES), rotationId: newRotationId() });
    expect({ status: result.status, error: result.error, attempts: result.attempts.size }).toEqual({ status: 'FAILED', error: 'States.DataLimitExceeded', attempts: 0 });
    expect(result.cause).toMatch(/^The state\/task 'ValidateAndLock' has an input \(after Parameters\) of 262212 bytes/);
    await expectNothingHappened();
  });

  // 1 KiB under leaves room for the Parameters and for the Catch's `$.error` (within ~150 bytes of
  // the limit the caught output is over it, and the execution ends with States.DataLimitExceeded).
  it.each(Object.keys(FIELDS).map((field) => ({ field })))('$field padded to 1 KiB under the limit → FAILED with InvalidRotationInput from the first step, no change', async ({ field }) => {
    const result = await runner.run({ input: sized(field, MAX_PAYLOAD_BYTES - 1024), rotationId: newRotationId() });
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'InvalidRotationInput' });
    expect(unsafeMessage(result.cause ?? '', 'a'.repeat(1000))).toBeUndefined();
    expect(await snapshot(deps, client.secretId)).toEqual(before);
    expect((await Promise.all(topics.map((t) => t.drain()))).flat()).toEqual([]);
  });

  const names = [
    { title: '81 characters', name: `rot-${'a'.repeat(MAX_EXECUTION_NAME_LENGTH - 3)}`, error: 'ValidationException' },
    { title: 'empty', name: '', error: 'ValidationException' },
    { title: 'a space', name: 'rot with space', error: 'InvalidName' },
    { title: 'a path', name: '../../etc/passwd', error: 'InvalidName' },
    { title: 'a newline', name: 'rot\nforged', error: 'InvalidName' },
    { title: 'JSON', name: '{"a":1}', error: 'InvalidName' },
  ];
  it.each(names)('execution name with $title → StartExecution refused ($error), nothing happens', async ({ name, error }) => {
    await expect(runner.run({ input: valid(client.clientId), rotationId: name })).rejects.toMatchObject({ name: error });
    await expectNothingHappened();
  });

  it('a name of 80 characters StartExecution accepts is refused by the first step (InvalidRotationId), no change', async () => {
    const result = await runner.run({ input: valid(client.clientId), rotationId: `rot-${'a'.repeat(MAX_EXECUTION_NAME_LENGTH - 4)}` });
    expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'InvalidRotationId' });
    await expectNothingHappened();
  });
});

describe('the checks can fail', () => {
  it('unsafeMessage catches an echo, a forged line and a huge message; logProblem catches an echoed value', () => {
    expect(unsafeMessage('got $(rm -rf /)', '$(rm -rf /)')).toBe('echoes the hostile value');
    expect(unsafeMessage('ok\n[ERROR] x', 'y')).toMatch(/control/);
    expect(unsafeMessage('a'.repeat(3000), 'y')).toMatch(/long/);
    expect(unsafeMessage('No client constructor', 'constructor')).toBeUndefined();
    expect(logProblem('{"rotationId":"../../etc/passwd"}\n', '../../etc/passwd')).toMatch(/echoes/);
  });
});
