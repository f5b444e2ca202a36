/**
 * The parts of operator/cli/deployment-health.ts and health-text.ts that moto cannot exercise:
 * DescribeAlarms paging (moto returns every alarm in one page, never a NextToken), how failed
 * calls are sorted into "not there" and real failures, and the text's edge cases. The client
 * here is a fake that answers as CloudWatch's API reference documents; cli-health.test.ts runs
 * the same code against moto.
 */
import { DescribeAlarmsCommand, GetMetricDataCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import { readDeploymentHealth, readOpsAlarms, unavailable, type HealthSource } from '../../operator/cli/deployment-health';
import { alarmsText, healthText, keyRoleUseText } from '../../operator/cli/health-text';
import type { KeyView } from '../../operator/cli/views';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:KeyRoll-OpsTopic1A2B';
const NOW = Date.parse('2026-12-03T12:34:20Z');
const AWS_ENV: NodeJS.ProcessEnv = {};

function alarm(name: string, state: string, actions = [TOPIC], extra: Partial<MetricAlarm> = {}): MetricAlarm {
  return { AlarmName: name, StateValue: state, StateReason: `${state} reason`, StateUpdatedTimestamp: new Date(NOW - 60_000), AlarmActions: actions, ...extra } as MetricAlarm;
}

/** A fake CloudWatch: DescribeAlarms pages of `pages`, GetMetricData answered by `metricData`. */
function fakeSource(pages: MetricAlarm[][], metricData: () => Promise<unknown> = async () => ({ MetricDataResults: [] })) {
  const requests: Record<string, unknown>[] = [];
  const send = jest.fn(async (command: unknown) => {
    if (command instanceof DescribeAlarmsCommand) {
      requests.push({ ...command.input });
      const index = command.input.NextToken ? Number(command.input.NextToken) : 0;
      return { MetricAlarms: pages[index], ...(index + 1 < pages.length ? { NextToken: String(index + 1) } : {}) };
    }
    if (command instanceof GetMetricDataCommand) return metricData();
    throw new Error('unexpected command');
  });
  const source: HealthSource = { cloudWatch: { send }, opsTopicArn: TOPIC, env: AWS_ENV, nowMs: NOW };
  return { source, requests, send };
}

describe('readOpsAlarms', () => {
  it('follows NextToken through every page, asks by the ops topic, and keeps only its exact ARN, worst state first', async () => {
    const { source, requests } = fakeSource([
      [alarm('b-ok', 'OK'), alarm('longer-topic', 'ALARM', [`${TOPIC}-2`])],
      [alarm('a-ok', 'OK'), alarm('z-insufficient', 'INSUFFICIENT_DATA')],
      [alarm('m-alarm', 'ALARM', ['arn:aws:sns:eu-west-1:111122223333:pager', TOPIC], { StateTransitionedTimestamp: new Date(NOW - 120_000) })],
    ]);
    const report = await readOpsAlarms(source);
    expect(requests).toEqual([
      { ActionPrefix: TOPIC, AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken: undefined },
      { ActionPrefix: TOPIC, AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken: '1' },
      { ActionPrefix: TOPIC, AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken: '2' },
    ]);
    expect(report).toEqual({
      available: true,
      opsTopicArn: TOPIC,
      alarms: [
        // The state's transition time, not the last update, when CloudWatch gives both.
        { name: 'm-alarm', state: 'ALARM', reason: 'ALARM reason', since: new Date(NOW - 120_000).toISOString() },
        { name: 'z-insufficient', state: 'INSUFFICIENT_DATA', reason: 'INSUFFICIENT_DATA reason', since: new Date(NOW - 60_000).toISOString() },
        { name: 'a-ok', state: 'OK', reason: 'OK reason', since: new Date(NOW - 60_000).toISOString() },
        { name: 'b-ok', state: 'OK', reason: 'OK reason', since: new Date(NOW - 60_000).toISOString() },
      ],
    });
  });

  it('says why when the outputs name no ops topic, without calling CloudWatch', async () => {
    const { source, send } = fakeSource([]);
    const report = await readOpsAlarms({ ...source, opsTopicArn: undefined });
    expect(report).toEqual({ available: false, reason: expect.stringContaining('no OpsTopicArn') as string });
    expect(send).not.toHaveBeenCalled();
  });
});

describe('unavailable', () => {
  const named = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...extra });

  it.each([
    ['a socket error', Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }), 'CloudWatch is not reachable at its regional endpoint (ECONNREFUSED)'],
    ['a socket error the retry layer wrapped', new Error('AWS SDK error wrapper for Error: getaddrinfo ENOTFOUND monitoring.example'), 'CloudWatch is not reachable at its regional endpoint (ENOTFOUND)'],
    ['a timeout', named('TimeoutError'), 'CloudWatch is not reachable at its regional endpoint (TimeoutError)'],
    ['an unknown operation', named('UnknownOperationException', 400), 'the regional endpoint does not serve CloudWatch (UnknownOperationException, HTTP 400)'],
    ['an HTTP 501', named('NotImplemented', 501), 'the regional endpoint does not serve CloudWatch (NotImplemented, HTTP 501)'],
  ])('%s means CloudWatch is not there: a reason, no error', (_what, error, reason) => {
    expect(unavailable(error, 'cloudwatch:GetMetricData', AWS_ENV)).toEqual({ available: false, reason });
  });

  it.each([
    ['AccessDenied', named('AccessDenied', 403), 'AccessDenied: AccessDenied happened (the operator needs cloudwatch:DescribeAlarms)'],
    ['AccessDeniedException', named('AccessDeniedException', 400), 'AccessDeniedException: AccessDeniedException happened (the operator needs cloudwatch:DescribeAlarms)'],
    ['any 403', named('SomethingForbidden', 403), 'SomethingForbidden: SomethingForbidden happened (the operator needs cloudwatch:DescribeAlarms)'],
    ['a throttle', named('Throttling', 400), 'Throttling: Throttling happened'],
    ['an internal failure', named('InternalFailure', 500), 'InternalFailure: InternalFailure happened'],
  ])('%s is a real failure: reported with its name', (_what, error, reason) => {
    expect(unavailable(error, 'cloudwatch:DescribeAlarms', AWS_ENV)).toEqual({ available: false, reason, error: { name: error.name, message: error.message } });
  });

  it('names the emulator endpoint it was pointed at', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(unavailable(error, 'x', { AWS_ENDPOINT_URL: 'http://localhost:4566' }).reason).toBe('CloudWatch is not reachable at http://localhost:4566 (ECONNREFUSED)');
    expect(unavailable(error, 'x', { AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_ENDPOINT_URL_CLOUDWATCH: 'http://localhost:5000' }).reason).toContain('http://localhost:5000');
  });
});

describe('readDeploymentHealth', () => {
  it('reads both parts independently: one failing leaves the other', async () => {
    const { source } = fakeSource([[alarm('a', 'OK')]], async () => {
      throw Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
    });
    const health = await readDeploymentHealth(source);
    expect(health.alarms.available).toBe(true);
    expect(health.metrics).toMatchObject({ available: false, error: { name: 'AccessDenied' } });
  });

  it('in AWS, no datapoints is zero requests, not "not available"', async () => {
    const { source } = fakeSource([[alarm('a', 'OK')]]);
    const health = await readDeploymentHealth(source);
    expect(health.metrics).toMatchObject({
      available: true,
      windows: [
        { minutes: 15, current: 0, previous: 0 },
        { minutes: 60, current: 0, previous: 0 },
      ],
    });
    expect(health.metrics).not.toHaveProperty('lastPreviousKeyUseAt');
  });

  it('asks for 1-minute Sums of both key roles over the hour to the next whole minute', async () => {
    let input: GetMetricDataCommand['input'] | undefined;
    const { source, send } = fakeSource([[]]);
    send.mockImplementation(async (command: unknown) => {
      if (command instanceof GetMetricDataCommand) input = command.input;
      return { MetricDataResults: [], MetricAlarms: [] };
    });
    await readDeploymentHealth(source);
    expect(input).toMatchObject({
      StartTime: new Date('2026-12-03T11:35:00Z'),
      EndTime: new Date('2026-12-03T12:35:00Z'),
      MetricDataQueries: ['current', 'previous'].map((role) => ({
        Id: role,
        MetricStat: {
          Metric: {
            Namespace: 'KeyRoll',
            MetricName: 'AuthSucceededByKeyRole',
            Dimensions: [
              { Name: 'service', Value: 'keyroll-authorizer' },
              { Name: 'KeyRole', Value: role },
            ],
          },
          Period: 60,
          Stat: 'Sum',
        },
      })),
    });
  });
});

describe('health text', () => {
  const previous: KeyView = { keyId: 'kr_kid_0123456789abcdef', state: 'RETIRING', role: 'previous', rotationId: 'r', createdAt: '2026-12-01T00:00:00Z', scopes: [] };

  it('shows reasons of alarms that are not OK only, in one line, without control characters, and cut to 100 characters', () => {
    const text = alarmsText(
      {
        available: true,
        opsTopicArn: TOPIC,
        alarms: [
          { name: 'Firing', state: 'ALARM', reason: `Threshold\ncrossed\u001b[31m ${'x'.repeat(200)}`, since: new Date(NOW - 300_000).toISOString() },
          { name: 'Quiet', state: 'OK', reason: 'nothing to see', since: new Date(NOW - 60_000).toISOString() },
        ],
      },
      NOW,
    );
    expect(text.split('\n')[0]).toBe('Alarms (2 notify the ops topic; 1 not OK):');
    const firing = text.split('\n').find((line) => line.includes('Firing'))!;
    expect(firing).toMatch(/Firing\s+ALARM\s+5m ago\s+Threshold crossed\uFFFD\[31m x+…$/);
    expect(firing.slice(firing.indexOf('Threshold')).length).toBe(100);
    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/Quiet\s+OK\s+1m ago\s+-$/m);
  });

  it('says "could not be read" for a failure and "not available" where CloudWatch is not there', () => {
    expect(alarmsText({ available: false, reason: 'AccessDenied: no', error: { name: 'AccessDenied', message: 'no' } }, NOW)).toBe('Alarms: could not be read: AccessDenied: no');
    expect(keyRoleUseText({ available: false, reason: 'no metrics here' }, NOW)).toBe('Previous-key use: not available: no metrics here');
  });

  it("adds the client's previous key's last use even where metrics are not available, and no share of zero requests", () => {
    const text = healthText(
      {
        alarms: { available: true, opsTopicArn: TOPIC, alarms: [] },
        metrics: {
          available: true,
          scope: 'deployment-wide',
          namespace: 'KeyRoll',
          metricName: 'AuthSucceededByKeyRole',
          dimensions: { service: 'keyroll-authorizer' },
          periodSeconds: 60,
          windows: [{ minutes: 15, from: '2026-12-03T12:20:00.000Z', to: '2026-12-03T12:35:00.000Z', current: 0, previous: 0 }],
        },
      },
      NOW,
      [previous],
    );
    expect(text).toContain(`Alarms: none notifies the ops topic ${TOPIC}`);
    expect(text).toMatch(/last 15 min\s+0\s+0\s+-$/m);
    expect(text).toContain('latest minute with a previous-key request: none in the last 15 min');
    expect(text).toContain('this client: previous key kr_kid_0123456789abcdef last used never (its usage record)');
    const unavailableText = keyRoleUseText({ available: false, reason: 'emulator' }, NOW, [{ ...previous, lastUsedAt: new Date(NOW - 90_000).toISOString() }]);
    expect(unavailableText).toBe('Previous-key use: not available: emulator\n  this client: previous key kr_kid_0123456789abcdef last used 1m30s ago (its usage record)');
  });
});
