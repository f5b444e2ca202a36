/**
 * What `keyroll status` and `rotate-fleet --wait` read from CloudWatch, against moto: the
 * alarms that notify the ops topic (and no other), accepted requests per key role
 * (GetMetricData on data put for both roles), the one-line "not available" where the emulator
 * has no auth metrics or CloudWatch is not there, and a denial reported as such while the rest
 * of status is shown. moto enforces no IAM on the shared server, so the AccessDenied answer is
 * the one faked call here (a spy on CloudWatchClient.send for GetMetricData only).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { CloudWatchClient, DescribeAlarmsCommand, GetMetricDataCommand, PutMetricAlarmCommand, PutMetricDataCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { CreateStateMachineCommand, DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric } from '../../lambdas/aws/auth/auth-metrics';
import { dynamoDbClient } from '../../lambdas/aws/clients';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { hashApiKey } from '../../lambdas/core/api-key';
import type { AlarmsReport, KeyRoleUseReport } from '../../operator/cli/deployment-health';
import { CliWorld, json, KEY_SHAPE, outputsFileWith, sfn } from './cli-harness';

const cloudWatch = new CloudWatchClient({});
const MINUTE = 60_000;
let world: CliWorld;
let runId: string;
/** Every environment of this file, for the no-key-in-output check. */
const worlds: CliWorld[] = [];

beforeAll(async () => {
  world = await CliWorld.create();
  worlds.push(world);
  runId = randomUUID().slice(0, 8);
});

afterAll(() => {
  for (const each of worlds) expect(each.transcript.join('\n')).not.toMatch(KEY_SHAPE);
  cloudWatch.destroy();
});

interface Health {
  alarms: AlarmsReport;
  metrics: KeyRoleUseReport;
  keys: { keyId: string; role: string }[];
  client: { clientId: string };
}

/** An alarm as lib/ops-alarm.ts makes them: Sum >= threshold, to `topicArn`. */
async function putAlarm(name: string, topicArn: string, description: string): Promise<void> {
  await cloudWatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      AlarmDescription: description,
      Namespace: AUTH_METRICS_NAMESPACE,
      MetricName: AuthMetric.FAILED,
      Dimensions: [{ Name: 'service', Value: AUTH_METRICS_SERVICE }],
      Statistic: 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicArn],
    }),
  );
}

/** An OK alarm on the ops topic, so a test that needs `alarms.available` does not depend on another having run first. */
async function ensureOpsAlarm(): Promise<void> {
  await putAlarm(`${runId}-Auth-AuthFailuresAlarm`, world.outputs.OpsTopicArn!, 'Many API key authentications failed in 5 minutes.');
}

/** A random whole minute between 2001 and 2021, plus 20 s: a window no other run put metrics in (moto keeps them for the server's life). */
function isolatedNow(): number {
  return Date.UTC(2001, 0, 1) + Math.floor(Math.random() * 20 * 365 * 24 * 60) * MINUTE + 20_000;
}

async function putKeyRoleUse(role: string, atMs: number, value: number, service = AUTH_METRICS_SERVICE): Promise<void> {
  await cloudWatch.send(
    new PutMetricDataCommand({
      Namespace: AUTH_METRICS_NAMESPACE,
      MetricData: [
        {
          MetricName: AuthMetric.SUCCEEDED_BY_KEY_ROLE,
          Dimensions: [
            { Name: 'service', Value: service },
            { Name: AuthMetric.KEY_ROLE_DIMENSION, Value: role },
          ],
          Timestamp: new Date(atMs),
          Value: value,
          Unit: 'Count',
        },
      ],
    }),
  );
}

describe('alarms', () => {
  it('lists the alarms whose action is the ops topic, worst state first, and no alarm of another topic', async () => {
    // Its own environment: the alarms listed are exactly the ones this test made.
    const own = await CliWorld.create();
    worlds.push(own);
    const opsTopic = own.outputs.OpsTopicArn!;
    const firing = `${runId}-Auth-RevokedKeyUseAlarm`;
    const quiet = `${runId}-Rotation-FailedRotationsAlarm`;
    await putAlarm(quiet, opsTopic, 'A KeyRoll rotation failed.');
    await putAlarm(firing, opsTopic, 'A revoked API key was presented.');
    await cloudWatch.send(new SetAlarmStateCommand({ AlarmName: firing, StateValue: 'ALARM', StateReason: 'Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).' }));
    // ActionPrefix is a prefix (AWS documents "a prefix for any action"; moto matches it so too):
    // a topic whose ARN extends the ops topic's is found by it, and must be filtered out.
    const longerTopic = `${runId}-Other-LongerTopicAlarm`;
    await putAlarm(longerTopic, `${opsTopic}-other`, 'Another topic whose ARN starts with the ops topic ARN.');
    await putAlarm(`${runId}-Other-UnrelatedAlarm`, opsTopic.replace(/[^:]+$/, `unrelated-${runId}`), 'Another topic.');
    const { MetricAlarms } = await cloudWatch.send(new DescribeAlarmsCommand({ ActionPrefix: opsTopic }));
    expect(MetricAlarms!.map((a) => a.AlarmName)).toContain(longerTopic);

    const id = await own.addClient();
    const result = await own.cli('--json', 'status', id);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const { alarms } = json<Health>(result);
    expect(alarms).toMatchObject({ available: true, opsTopicArn: opsTopic });
    if (!alarms.available) throw new Error('unreachable');
    expect(alarms.alarms.map((a) => [a.name, a.state])).toEqual([
      [firing, 'ALARM'],
      [quiet, 'OK'],
    ]);
    expect(alarms.alarms[0]).toMatchObject({ reason: expect.stringContaining('Threshold Crossed') as string, description: 'A revoked API key was presented.' });
    expect(Date.parse(alarms.alarms[0].since!)).not.toBeNaN();

    const text = (await own.cli('status', id)).stdout;
    expect(text).toContain('Alarms (2 notify the ops topic; 1 not OK):');
    expect(text).toMatch(new RegExp(`${firing}\\s+ALARM\\s+\\S+ ago\\s+Threshold Crossed: 1 datapoint`));
    expect(text).not.toContain(longerTopic);
  });
});

describe('previous-key use', () => {
  it('sums accepted requests per key role over the last 15 min and 1 h, and adds the client its own previous key use', async () => {
    const now = isolatedNow();
    const minuteOf = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;
    await putKeyRoleUse('current', now - 2 * MINUTE, 40);
    await putKeyRoleUse('current', now - 10 * MINUTE, 60);
    await putKeyRoleUse('current', now - 30 * MINUTE, 100);
    await putKeyRoleUse('current', now - 70 * MINUTE, 1000); // before the hour
    await putKeyRoleUse('previous', now - 40 * MINUTE, 7);
    await putKeyRoleUse('previous', now - 3 * MINUTE, 5);
    await putKeyRoleUse('previous', now - MINUTE, 999, 'some-other-service'); // another dimension set: not ours
    const id = await world.addClient();
    const rotated = await world.cli('--json', 'rotate', id, '--local', '--leave-in-overlap', '--reason', 'rotation to watch');
    expect(rotated.code).toBe(0);
    const previousKeyId = json<{ previousKeyId: string }>(rotated).previousKeyId;
    const keys = new KeyRepository(dynamoDbClient(), world.outputs.TableName);
    const lastUse = new Date(now - 4 * MINUTE).toISOString();
    expect(await keys.recordUse(hashApiKey(await world.keyAt(id, 'AWSPREVIOUS')), lastUse, lastUse)).toBe(true);

    const result = await world.cliAt(now, {}, '--json', 'status', id);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const status = json<Health>(result);
    const end = minuteOf(now) + MINUTE;
    expect(status.metrics).toEqual({
      available: true,
      scope: 'deployment-wide',
      namespace: AUTH_METRICS_NAMESPACE,
      metricName: AuthMetric.SUCCEEDED_BY_KEY_ROLE,
      dimensions: { service: AUTH_METRICS_SERVICE },
      periodSeconds: 60,
      windows: [
        { minutes: 15, from: new Date(end - 15 * MINUTE).toISOString(), to: new Date(end).toISOString(), current: 100, previous: 5 },
        { minutes: 60, from: new Date(end - 60 * MINUTE).toISOString(), to: new Date(end).toISOString(), current: 200, previous: 12 },
      ],
      lastPreviousKeyUseAt: new Date(minuteOf(now - 3 * MINUTE)).toISOString(),
    });
    expect(status.keys.find((k) => k.role === 'previous')).toMatchObject({ keyId: previousKeyId, lastUsedAt: lastUse });

    const text = (await world.cliAt(now, {}, 'status', id)).stdout;
    expect(text).toContain('Previous-key use, accepted requests of all clients (the metric has no client dimension)');
    expect(text).toMatch(/last 15 min\s+100\s+5\s+4\.8%/);
    expect(text).toMatch(/last 1 h\s+200\s+12\s+5\.7%/);
    expect(text).toContain(`latest minute with a previous-key request: ${new Date(minuteOf(now - 3 * MINUTE)).toISOString().replace('.000Z', 'Z')} (3m20s ago)`);
    expect(text).toContain(`this client: previous key ${previousKeyId} last used 4m ago (its usage record)`);
  });

  it('says in one line that the emulator has no auth metrics, and --json says why; status still succeeds', async () => {
    const now = isolatedNow();
    const id = await world.addClient();
    const result = await world.cliAt(now, {}, '--json', 'status', id);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const status = json<Health>(result);
    expect(status.client.clientId).toBe(id);
    expect(status.metrics).toEqual({ available: false, reason: expect.stringMatching(/^no auth metrics at the emulator endpoint http.*EMF log lines become CloudWatch metrics only in AWS$/) as string });
    const text = (await world.cliAt(now, {}, 'status', id)).stdout;
    expect(text.split('\n').filter((line) => line.startsWith('Previous-key use: not available: no auth metrics at the emulator endpoint'))).toHaveLength(1);
    expect(text).toContain('this client: no previous key in its overlap');
  });
});

describe('CloudWatch not there or refusing', () => {
  it('reports an endpoint with nothing listening as not available, and the rest of status as usual', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const id = await world.addClient();
    // The SDK reads the per-service endpoint from the process environment; the CLI its copy.
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDWATCH;
    process.env.AWS_ENDPOINT_URL_CLOUDWATCH = endpoint;
    let result;
    try {
      result = await world.cliWith({ AWS_ENDPOINT_URL_CLOUDWATCH: endpoint }, '--json', 'status', id);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDWATCH;
      else process.env.AWS_ENDPOINT_URL_CLOUDWATCH = saved;
    }
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const status = json<Health & { keys: unknown[] }>(result);
    expect(status.keys).toHaveLength(1);
    const notThere = { available: false, reason: `CloudWatch is not reachable at ${endpoint} (ECONNREFUSED)` };
    expect(status.alarms).toEqual(notThere);
    expect(status.metrics).toEqual(notThere);
  });

  it('reports AccessDenied as a failure naming the permission, without failing status or the alarms', async () => {
    await ensureOpsAlarm();
    const id = await world.addClient();
    const realSend = CloudWatchClient.prototype.send;
    const deniedMetrics = function (this: CloudWatchClient, command: unknown, ...rest: unknown[]): Promise<unknown> {
      if (command instanceof GetMetricDataCommand) {
        const denied = Object.assign(new Error('User: arn:aws:sts::123456789012:assumed-role/ops/alice is not authorized to perform: cloudwatch:GetMetricData because no identity-based policy allows it'), {
          name: 'AccessDenied',
          $fault: 'client',
          $metadata: { httpStatusCode: 403 },
        });
        return Promise.reject(denied);
      }
      return (realSend as (...args: unknown[]) => Promise<unknown>).call(this, command, ...rest);
    };
    const spy = jest.spyOn(CloudWatchClient.prototype, 'send').mockImplementation(deniedMetrics as never);
    let result;
    let text;
    let denied;
    try {
      result = await world.cli('--json', 'status', id);
      text = (await world.cli('status', id)).stdout;
      denied = spy.mock.calls.filter(([command]) => command instanceof GetMetricDataCommand).length;
    } finally {
      spy.mockRestore();
    }
    expect(denied).toBe(2);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const status = json<Health>(result);
    expect(status.alarms.available).toBe(true);
    expect(status.metrics).toEqual({
      available: false,
      reason: expect.stringMatching(/^AccessDenied: User: .* is not authorized to perform: cloudwatch:GetMetricData .*\(the operator needs cloudwatch:GetMetricData\)$/) as string,
      error: { name: 'AccessDenied', message: expect.stringContaining('not authorized') as string },
    });
    expect(text).toMatch(/^Previous-key use: could not be read: AccessDenied: /m);
    expect(text).toContain('Keys:');
  });
});

describe('rotate-fleet --wait', () => {
  it('ends with the alarms and the previous-key use', async () => {
    await ensureOpsAlarm();
    const id = await world.addClient();
    // moto never runs a fleet: a state machine stands in, and its execution is stopped (ABORTED) to end the wait.
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: `KeyRollFleet-${runId}`,
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } }),
        roleArn: 'arn:aws:iam::123456789012:role/keyroll-fleet',
      }),
    );
    const outputsFile = outputsFileWith(JSON.stringify({ KeyRoll: { ...world.outputs, FleetStateMachineArn: stateMachineArn } }));
    const fleetId = `fleet-${randomUUID()}`;
    const executionArn = `${stateMachineArn!.replace(':stateMachine:', ':execution:')}:${fleetId}`;
    const waiting = world.cliWith({ KEYROLL_OUTPUTS_FILE: outputsFile }, '--json', 'rotate-fleet', '--clients', id, '--reason', 'fleet to watch', '--fleet-id', fleetId, '--wait');
    await untilStarted(executionArn);
    await sfn.send(new StopExecutionCommand({ executionArn }));
    const result = await waiting;
    expect(result.code).toBe(1);
    const out = json<{ status: string; alarms: AlarmsReport; metrics: KeyRoleUseReport }>(result);
    expect(out.status).toBe('ABORTED');
    expect(out.alarms).toMatchObject({ available: true, opsTopicArn: world.outputs.OpsTopicArn });
    expect(out.metrics).toHaveProperty('available');
  });
});

/** A local port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function untilStarted(executionArn: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      await sfn.send(new DescribeExecutionCommand({ executionArn }));
      return;
    } catch (error) {
      if ((error as Error).name !== 'ExecutionDoesNotExist') throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${executionArn} never started`);
}
