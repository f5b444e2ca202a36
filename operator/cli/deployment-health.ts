/**
 * What an operator asks during a rotation, read from CloudWatch: the state of the alarms that
 * notify the ops topic, and how many accepted requests used a current or a previous key
 * recently (the authorizer's `AuthSucceededByKeyRole` metric, lambdas/aws/auth/auth-metrics.ts).
 *
 * Never throws: where CloudWatch cannot answer (the local emulator, where the authorizer's EMF
 * log lines never become metrics; an endpoint without CloudWatch; a permission missing) the
 * part says so (`available: false` and why), and the command goes on with the rest.
 */
import { DescribeAlarmsCommand, GetMetricDataCommand, type CloudWatchClient, type MetricAlarm, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { KeyRole } from '../../lambdas/core/verification';
import type { Session } from './session';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric } from '../../lambdas/core/auth-metric-names';

/** The authorizer's metric names (lambdas/core/auth-metric-names.ts) this view reads. */
export const AUTH_METRIC_NAMES = {
  namespace: AUTH_METRICS_NAMESPACE,
  service: AUTH_METRICS_SERVICE,
  succeededByKeyRole: AuthMetric.SUCCEEDED_BY_KEY_ROLE,
  keyRoleDimension: AuthMetric.KEY_ROLE_DIMENSION,
} as const;

/** One alarm that notifies the ops topic. */
export interface AlarmView {
  readonly name: string;
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state: string;
  readonly reason?: string;
  /** When the alarm last changed state (ISO). */
  readonly since?: string;
  readonly description?: string;
}

/** Why a part could not be shown. `error` is set for a real failure (e.g. AccessDenied), absent where the service is simply not there. */
export interface Unavailable {
  readonly available: false;
  readonly reason: string;
  readonly error?: { readonly name: string; readonly message: string };
}

/** The alarms that notify the ops topic, worst state first. */
export type AlarmsReport = { readonly available: true; readonly opsTopicArn: string; readonly alarms: readonly AlarmView[] } | Unavailable;

/** Accepted requests by key role over one window. */
export interface KeyRoleWindow {
  readonly minutes: number;
  readonly from: string;
  readonly to: string;
  readonly current: number;
  readonly previous: number;
}

/** Accepted requests by key role, for every client together (the metric has no client dimension). */
export type KeyRoleUseReport =
  | {
      readonly available: true;
      /** The metric carries the key role, not the client: these are all the authorizer's requests in the account and region. */
      readonly scope: 'deployment-wide';
      readonly namespace: string;
      readonly metricName: string;
      readonly dimensions: Readonly<Record<string, string>>;
      readonly periodSeconds: number;
      readonly windows: readonly KeyRoleWindow[];
      /** Start of the latest minute with an accepted previous-key request in the longest window. */
      readonly lastPreviousKeyUseAt?: string;
    }
  | Unavailable;

/** Both parts. */
export interface DeploymentHealth {
  readonly alarms: AlarmsReport;
  readonly metrics: KeyRoleUseReport;
}

/** The windows shown, in minutes; the longest is what one GetMetricData call reads. */
export const KEY_ROLE_WINDOWS_MINUTES = [15, 60] as const;
/**
 * One-minute datapoints: the EMF metrics' own resolution, kept 15 days, and 2 queries x 60
 * points is far below GetMetricData's 100,800 datapoints per call. CloudWatch rounds a start
 * time within 15 days down to the whole minute, so windows are aligned to minutes
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
 */
const PERIOD_SECONDS = 60;
const ALARM_STATE_ORDER: Readonly<Record<string, number>> = { ALARM: 0, INSUFFICIENT_DATA: 1, OK: 2 };

/** What reading the health needs. */
export interface HealthSource {
  readonly cloudWatch: Pick<CloudWatchClient, 'send'>;
  /** The ops topic ARN from the stack outputs (absent from older outputs files). */
  readonly opsTopicArn?: string;
  /** The run's environment: an emulator endpoint there explains empty metrics. */
  readonly env: NodeJS.ProcessEnv;
  readonly nowMs: number;
}

/** Reads the alarms and the key-role use in parallel; never rejects. */
export async function readDeploymentHealth(source: HealthSource): Promise<DeploymentHealth> {
  const [alarms, metrics] = await Promise.all([readOpsAlarms(source), readKeyRoleUse(source)]);
  return { alarms, metrics };
}

/** {@link readDeploymentHealth} for the session's deployment (the ops topic from its outputs). */
export async function readSessionHealth(session: Session, nowMs: number): Promise<DeploymentHealth> {
  const { outputs } = await session.discover();
  return readDeploymentHealth({ cloudWatch: session.cloudWatch(), ...(outputs.OpsTopicArn ? { opsTopicArn: outputs.OpsTopicArn } : {}), env: session.env, nowMs });
}

/**
 * The metric alarms whose alarm action is the ops topic: every KeyRoll alarm is made by
 * lib/ops-alarm.ts, which notifies it. DescribeAlarms' ActionPrefix matches a prefix of any
 * action (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html),
 * so `...:KeyRoll-OpsTopic1` would also find the alarms of `...:KeyRoll-OpsTopic12`: the
 * result is filtered again on the exact ARN.
 */
export async function readOpsAlarms(source: HealthSource): Promise<AlarmsReport> {
  const { opsTopicArn } = source;
  if (!opsTopicArn) return { available: false, reason: 'the stack outputs have no OpsTopicArn, so the alarms that notify it cannot be found (update the stack with npx cdk deploy)' };
  try {
    const found: MetricAlarm[] = [];
    let nextToken: string | undefined;
    do {
      // Metric alarms only (the default): composite alarms would need cloudwatch:DescribeAlarms on "*", and KeyRoll makes none.
      const page = await source.cloudWatch.send(new DescribeAlarmsCommand({ ActionPrefix: opsTopicArn, AlarmTypes: ['MetricAlarm'], MaxRecords: 100, NextToken: nextToken }));
      found.push(...(page.MetricAlarms ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    const alarms = found
      .filter((alarm) => alarm.AlarmActions?.includes(opsTopicArn))
      .map(alarmView)
      .sort((a, b) => (ALARM_STATE_ORDER[a.state] ?? 3) - (ALARM_STATE_ORDER[b.state] ?? 3) || a.name.localeCompare(b.name));
    const endpoint = emulatorEndpoint(source.env);
    if (alarms.length === 0 && endpoint) return { available: false, reason: `no alarm notifies the ops topic at the emulator endpoint ${endpoint} (the local environment creates none)` };
    return { available: true, opsTopicArn, alarms };
  } catch (error) {
    return unavailable(error, 'cloudwatch:DescribeAlarms', source.env);
  }
}

/** Accepted requests by key role over the last {@link KEY_ROLE_WINDOWS_MINUTES}, deployment-wide. */
export async function readKeyRoleUse(source: HealthSource): Promise<KeyRoleUseReport> {
  const longest = Math.max(...KEY_ROLE_WINDOWS_MINUTES);
  // The current minute is included (its datapoint may still grow): the window ends at the next whole minute.
  const endMs = Math.ceil(source.nowMs / 60_000) * 60_000;
  const startMs = endMs - longest * 60_000;
  const { namespace, service, succeededByKeyRole, keyRoleDimension } = AUTH_METRIC_NAMES;
  const dimensions = { service };
  const query = (role: string): MetricDataQuery => ({
    Id: role,
    MetricStat: {
      Metric: {
        Namespace: namespace,
        MetricName: succeededByKeyRole,
        Dimensions: [
          { Name: 'service', Value: service },
          { Name: keyRoleDimension, Value: role },
        ],
      },
      Period: PERIOD_SECONDS,
      Stat: 'Sum',
    },
    ReturnData: true,
  });
  const points: Record<string, { atMs: number; value: number }[]> = { [KeyRole.CURRENT]: [], [KeyRole.PREVIOUS]: [] };
  try {
    let nextToken: string | undefined;
    do {
      const page = await source.cloudWatch.send(
        new GetMetricDataCommand({
          MetricDataQueries: [query(KeyRole.CURRENT), query(KeyRole.PREVIOUS)],
          StartTime: new Date(startMs),
          EndTime: new Date(endMs),
          NextToken: nextToken,
        }),
      );
      for (const result of page.MetricDataResults ?? []) {
        if (result.StatusCode === 'Forbidden')
          throw Object.assign(new Error(`GetMetricData refused the ${result.Id} query (${(result.Messages ?? []).map((m) => m.Value).join('; ') || 'Forbidden'})`), { name: 'AccessDenied' });
        const bucket = points[result.Id ?? ''];
        if (!bucket) continue;
        (result.Timestamps ?? []).forEach((at, i) => bucket.push({ atMs: at.getTime(), value: result.Values?.[i] ?? 0 }));
      }
      nextToken = page.NextToken;
    } while (nextToken);
  } catch (error) {
    return unavailable(error, 'cloudwatch:GetMetricData', source.env);
  }
  const endpoint = emulatorEndpoint(source.env);
  if (endpoint && points[KeyRole.CURRENT].length === 0 && points[KeyRole.PREVIOUS].length === 0) {
    return {
      available: false,
      reason: `no auth metrics at the emulator endpoint ${endpoint}: the authorizer's EMF log lines become CloudWatch metrics only in AWS`,
    };
  }
  const sum = (role: string, fromMs: number) => points[role].filter((p) => p.atMs >= fromMs && p.atMs < endMs).reduce((total, p) => total + p.value, 0);
  const windows = KEY_ROLE_WINDOWS_MINUTES.map((minutes) => {
    const fromMs = endMs - minutes * 60_000;
    return { minutes, from: iso(fromMs), to: iso(endMs), current: sum(KeyRole.CURRENT, fromMs), previous: sum(KeyRole.PREVIOUS, fromMs) };
  });
  const lastPrevious = Math.max(-Infinity, ...points[KeyRole.PREVIOUS].filter((p) => p.value > 0).map((p) => p.atMs));
  return {
    available: true,
    scope: 'deployment-wide',
    namespace,
    metricName: succeededByKeyRole,
    dimensions,
    periodSeconds: PERIOD_SECONDS,
    windows,
    ...(Number.isFinite(lastPrevious) ? { lastPreviousKeyUseAt: iso(lastPrevious) } : {}),
  };
}

/** The endpoint the SDK is pointed at instead of AWS's, if any (the SDK's own environment variables). */
export function emulatorEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  return env.AWS_ENDPOINT_URL_CLOUDWATCH || env.AWS_ENDPOINT_URL || undefined;
}

function alarmView(alarm: MetricAlarm): AlarmView {
  // StateTransitionedTimestamp is the last change of state; StateUpdatedTimestamp also moves when only the reason changes.
  const since = alarm.StateTransitionedTimestamp ?? alarm.StateUpdatedTimestamp;
  return {
    name: alarm.AlarmName ?? '(unnamed)',
    state: alarm.StateValue ?? 'UNKNOWN',
    ...(alarm.StateReason ? { reason: alarm.StateReason } : {}),
    ...(since ? { since: since.toISOString() } : {}),
    ...(alarm.AlarmDescription ? { description: alarm.AlarmDescription } : {}),
  };
}

/** Network-level failures: nothing answered at the endpoint. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT']);
/** Answers of an endpoint that does not serve the CloudWatch API (emulators without it). */
const NOT_SERVED_NAMES = new Set(['UnknownOperationException', 'InvalidAction', 'NotImplemented', 'NotImplementedException', 'UnsupportedOperation']);
const DENIED_NAMES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

/** Sorts a failed call into "not there" (no error field) and a real failure (named, with what to grant for a denial). */
export function unavailable(error: unknown, action: string, env: NodeJS.ProcessEnv): Unavailable {
  const e = error as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
  const name = e?.name ?? 'Error';
  const message = e?.message ?? String(error);
  const status = e?.$metadata?.httpStatusCode;
  const endpoint = emulatorEndpoint(env);
  const where = endpoint ?? 'its regional endpoint';
  // The SDK's retry layer may wrap a socket error into a plain Error whose message alone still names the code.
  const code = [e?.code, name, ...(message.match(/\bE[A-Z]{4,}\b/g) ?? [])].find((candidate) => candidate !== undefined && UNREACHABLE_CODES.has(candidate));
  if (code || name === 'TimeoutError') {
    return { available: false, reason: `CloudWatch is not reachable at ${where} (${code ?? name})` };
  }
  if (NOT_SERVED_NAMES.has(name) || status === 404 || status === 501) {
    return { available: false, reason: `${endpoint ? `the endpoint ${endpoint}` : 'the regional endpoint'} does not serve CloudWatch (${name}${status ? `, HTTP ${status}` : ''})` };
  }
  if (DENIED_NAMES.has(name) || status === 403) {
    return { available: false, reason: `${name}: ${message} (the operator needs ${action})`, error: { name, message } };
  }
  return { available: false, reason: `${name}: ${message}`, error: { name, message } };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
