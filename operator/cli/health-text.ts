/** The deployment health (operator/cli/deployment-health.ts) as `status` and `rotate-fleet --wait` print it. */
import type { AlarmsReport, DeploymentHealth, KeyRoleUseReport, Unavailable } from './deployment-health';
import { relative, table, timestamp } from './output';
import { indent, type KeyView } from './views';

/** Longest alarm reason shown in text; --json has the whole of it. */
const MAX_REASON = 100;

/** The alarms and previous-key use sections; `keys`, when given, adds the client's own previous key's last use. */
export function healthText(health: DeploymentHealth, nowMs: number, keys?: readonly KeyView[]): string {
  return [alarmsText(health.alarms, nowMs), keyRoleUseText(health.metrics, nowMs, keys)].join('\n');
}

export function alarmsText(report: AlarmsReport, nowMs: number): string {
  if (!report.available) return `Alarms: ${unavailableText(report)}`;
  if (report.alarms.length === 0) return `Alarms: none notifies the ops topic ${report.opsTopicArn} (a deployed stack has one per failure it watches: check its deployment).`;
  const notOk = report.alarms.filter((alarm) => alarm.state !== 'OK').length;
  return [
    `Alarms (${report.alarms.length} notify the ops topic; ${notOk === 0 ? 'all OK' : `${notOk} not OK`}):`,
    indent(
      table(
        ['NAME', 'STATE', 'SINCE', 'REASON'],
        // An OK alarm's reason only says no threshold was crossed: --json has it.
        report.alarms.map((alarm) => [shorten(alarm.name), alarm.state, alarm.since ? relative(alarm.since, nowMs) : '-', alarm.state === 'OK' ? '-' : shorten(alarm.reason ?? '-')]),
      ),
    ),
  ].join('\n');
}

export function keyRoleUseText(report: KeyRoleUseReport, nowMs: number, keys?: readonly KeyView[]): string {
  const own = ownPreviousKeyText(keys, nowMs);
  if (!report.available) return [`Previous-key use: ${unavailableText(report)}`, ...(own ? [own] : [])].join('\n');
  const rows = report.windows.map((w) => [
    `last ${w.minutes >= 60 && w.minutes % 60 === 0 ? `${w.minutes / 60} h` : `${w.minutes} min`}`,
    String(w.current),
    String(w.previous),
    share(w.previous, w.current + w.previous),
  ]);
  return [
    `Previous-key use, accepted requests of all clients (the metric has no client dimension), to ${timestamp(report.windows[0]?.to)}:`,
    indent(table(['WINDOW', 'CURRENT KEY', 'PREVIOUS KEY', 'PREVIOUS SHARE'], rows)),
    `  latest minute with a previous-key request: ${report.lastPreviousKeyUseAt ? `${timestamp(report.lastPreviousKeyUseAt)} (${relative(report.lastPreviousKeyUseAt, nowMs)})` : `none in the last ${Math.max(...report.windows.map((w) => w.minutes))} min`}`,
    ...(own ? [own] : []),
  ].join('\n');
}

/** The one per-client figure there is: the previous key's usage record (written at most once per usage interval). */
function ownPreviousKeyText(keys: readonly KeyView[] | undefined, nowMs: number): string | undefined {
  if (!keys) return undefined;
  const previous = keys.find((key) => key.role === 'previous');
  if (!previous) return '  this client: no previous key in its overlap';
  return `  this client: previous key ${previous.keyId} last used ${previous.lastUsedAt ? relative(previous.lastUsedAt, nowMs) : 'never'} (its usage record)`;
}

function unavailableText(report: Unavailable): string {
  return report.error ? `could not be read: ${clean(report.reason)}` : `not available: ${clean(report.reason)}`;
}

function share(part: number, total: number): string {
  if (total === 0) return '-';
  return `${((100 * part) / total).toFixed(1)}%`;
}

/** Control and format characters in CloudWatch's text (a reason can be set by anyone with SetAlarmState) never reach the terminal. */
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

function clean(text: string): string {
  return text.replace(/\s+/g, ' ').replace(CONTROL, '\uFFFD');
}

function shorten(text: string): string {
  const oneLine = clean(text);
  return oneLine.length > MAX_REASON ? `${oneLine.slice(0, MAX_REASON - 1)}…` : oneLine;
}
