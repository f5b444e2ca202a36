/**
 * The rehearsal's report: figures (requests, failures by reason and by caller kind, old-key
 * use per rotation, reminders, deadline retirements), a terminal summary with a compact
 * chart, and an SVG timeline.
 */
import type { LocalRotationResult } from '../local-rotation-runner';
import type { CallerBehaviour, RequestOutcome } from './callers';
import type { RehearsalOptions } from './options';

const MINUTE = 60_000;
/** Width of the old-key-use buckets and of the timeline's bars. */
export const BUCKET_MINUTES = 15;

/** One rotation as the rehearsal saw it. */
export interface RotationRecord {
  readonly clientId: string;
  readonly mode: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  readonly result: LocalRotationResult;
}

/** Everything the rehearsal measured. */
export interface RehearsalReport {
  readonly options: RehearsalOptions;
  readonly wallSeconds: number;
  readonly simulatedMinutes: number;
  readonly requests: { readonly total: number; readonly ok: number; readonly failed: number };
  readonly failuresByReason: Record<string, number>;
  readonly byBehaviour: Record<CallerBehaviour, { readonly callers: number; readonly requests: number; readonly failures: number }>;
  /** Failures seen by prompt and lagging callers (the SDK users): must be 0. */
  readonly wellBehavedFailures: number;
  readonly rotations: readonly {
    readonly clientId: string;
    readonly mode: string;
    readonly status: string;
    readonly error?: string;
    readonly startedAtMinute: number;
    readonly endedAtMinute: number;
    readonly reminders: number;
    readonly retiredAtDeadline: boolean;
    /** Accepted calls with the previous key, per 15 simulated minutes from the start of the rotation. */
    readonly previousKeyUse: readonly number[];
  }[];
  readonly remindersSent: number;
  readonly retiredAtDeadline: number;
  readonly timeline: readonly { readonly atMinute: number; readonly current: number; readonly previous: number; readonly failed: number }[];
}

/** Computes the report from what the run recorded. */
export function buildReport(input: { options: RehearsalOptions; startMs: number; endMs: number; outcomes: readonly RequestOutcome[]; rotations: readonly RotationRecord[]; wallMs: number }): RehearsalReport {
  const { options, startMs, outcomes } = input;
  const minuteOf = (ms: number) => Math.round((ms - startMs) / MINUTE);
  const failuresByReason: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) failuresByReason[o.reason ?? 'unknown'] = (failuresByReason[o.reason ?? 'unknown'] ?? 0) + 1;
  const behaviours: CallerBehaviour[] = ['prompt', 'lagging', 'never'];
  const byBehaviour = Object.fromEntries(
    behaviours.map((b) => {
      const mine = outcomes.filter((o) => o.behaviour === b);
      return [b, { callers: new Set(mine.map((o) => o.caller)).size, requests: mine.length, failures: mine.filter((o) => !o.ok).length }];
    }),
  ) as RehearsalReport['byBehaviour'];

  const rotations = [...input.rotations]
    .sort((a, b) => a.startedAtMs - b.startedAtMs)
    .map((r) => {
      const decisions = r.result.usageDecisions;
      const buckets = Math.max(1, Math.ceil((r.endedAtMs - r.startedAtMs) / (BUCKET_MINUTES * MINUTE)));
      const previousKeyUse = Array.from({ length: buckets }, () => 0);
      for (const o of outcomes) {
        if (o.clientId !== r.clientId || !o.ok || o.keyRole !== 'previous' || o.atMs < r.startedAtMs || o.atMs > r.endedAtMs) continue;
        previousKeyUse[Math.min(buckets - 1, Math.floor((o.atMs - r.startedAtMs) / (BUCKET_MINUTES * MINUTE)))] += 1;
      }
      return {
        clientId: r.clientId,
        mode: r.mode,
        status: r.result.status,
        ...(r.result.error ? { error: `${r.result.error}: ${r.result.cause ?? ''}` } : {}),
        startedAtMinute: minuteOf(r.startedAtMs),
        endedAtMinute: minuteOf(r.endedAtMs),
        reminders: decisions.filter((d) => d.decision === 'remind').length,
        retiredAtDeadline: decisions.some((d) => d.decision === 'retire' && d.deadlineReached === true),
        previousKeyUse,
      };
    });

  const timeline: { atMinute: number; current: number; previous: number; failed: number }[] = [];
  const totalBuckets = Math.ceil((input.endMs - startMs) / (BUCKET_MINUTES * MINUTE)) + 1;
  for (let i = 0; i < totalBuckets; i++) timeline.push({ atMinute: i * BUCKET_MINUTES, current: 0, previous: 0, failed: 0 });
  for (const o of outcomes) {
    const bucket = timeline[Math.min(totalBuckets - 1, Math.floor((o.atMs - startMs) / (BUCKET_MINUTES * MINUTE)))];
    if (!o.ok) bucket.failed += 1;
    else if (o.keyRole === 'previous') bucket.previous += 1;
    else bucket.current += 1;
  }
  const failed = outcomes.filter((o) => !o.ok).length;
  return {
    options,
    wallSeconds: Math.round(input.wallMs / 100) / 10,
    simulatedMinutes: minuteOf(input.endMs),
    requests: { total: outcomes.length, ok: outcomes.length - failed, failed },
    failuresByReason,
    byBehaviour,
    wellBehavedFailures: byBehaviour.prompt.failures + byBehaviour.lagging.failures,
    rotations,
    remindersSent: rotations.reduce((sum, r) => sum + r.reminders, 0),
    retiredAtDeadline: rotations.filter((r) => r.retiredAtDeadline).length,
    timeline,
  };
}

const SPARK = ' ▁▂▃▄▅▆▇█';

/** A one-line bar chart of `values` (scaled to their maximum). */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => SPARK[v === 0 ? 0 : Math.max(1, Math.round((v / max) * (SPARK.length - 1)))]).join('');
}

const hhmm = (minute: number) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** The terminal summary, with a compact chart. */
export function renderSummary(report: RehearsalReport, chartPath?: string): string {
  const lines: string[] = [];
  const { requests, byBehaviour } = report;
  lines.push(
    `KeyRoll rehearsal: ${report.options.clients} clients, ${report.options.callers} callers, ${report.rotations.length} rotations over ${hhmm(report.simulatedMinutes)} simulated (${report.wallSeconds} s wall)`,
  );
  lines.push('');
  lines.push(`requests            ${requests.total} (${requests.ok} ok, ${requests.failed} refused)`);
  lines.push(
    `failures by reason  ${
      Object.entries(report.failuresByReason)
        .map(([r, n]) => `${r} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  for (const [behaviour, figures] of Object.entries(byBehaviour)) {
    lines.push(`  ${behaviour.padEnd(8)} callers ${figures.callers}, requests ${figures.requests}, failures ${figures.failures}`);
  }
  lines.push(`well-behaved failures ${report.wellBehavedFailures}${report.wellBehavedFailures === 0 ? ' (as required)' : '  <-- MUST BE 0'}`);
  lines.push(`reminders sent      ${report.remindersSent} (key.expiring)`);
  lines.push(`retired at deadline ${report.retiredAtDeadline} (old key still in use at the hard deadline)`);
  lines.push('');
  lines.push(`rotations (old-key use per ${BUCKET_MINUTES} min after the start):`);
  for (const r of report.rotations) {
    const status = r.status === 'SUCCEEDED' ? 'ok' : `FAILED ${r.error ?? ''}`;
    lines.push(
      `  ${hhmm(r.startedAtMinute)} ${r.clientId} ${r.mode.padEnd(9)} ${status.padEnd(4)} reminders ${r.reminders}${r.retiredAtDeadline ? ', retired at deadline' : ''}  old key |${sparkline(r.previousKeyUse)}| ${r.previousKeyUse.join(' ')}`,
    );
  }
  lines.push('');
  lines.push(`timeline (${BUCKET_MINUTES}-min buckets)`);
  lines.push(`  current key  |${sparkline(report.timeline.map((b) => b.current))}|`);
  lines.push(`  previous key |${sparkline(report.timeline.map((b) => b.previous))}|`);
  lines.push(`  refused      |${sparkline(report.timeline.map((b) => b.failed))}|`);
  if (chartPath) lines.push(`chart: ${chartPath}`);
  return lines.join('\n');
}

/** The timeline as an SVG: stacked bars per bucket (current, previous, refused) and rotation markers. */
export function renderSvg(report: RehearsalReport): string {
  const width = 960;
  const height = 360;
  const margin = { left: 50, right: 20, top: 40, bottom: 50 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const buckets = report.timeline;
  const max = Math.max(1, ...buckets.map((b) => b.current + b.previous + b.failed));
  const barW = plotW / buckets.length;
  const y = (v: number) => (v / max) * plotH;
  const x = (minute: number) => margin.left + (minute / (buckets.length * BUCKET_MINUTES)) * plotW;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<title>KeyRoll rehearsal timeline</title><rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${margin.left}" y="20" font-size="14">Requests per ${BUCKET_MINUTES} simulated minutes — ${report.requests.total} requests, ${report.wellBehavedFailures} well-behaved failures</text>`);
  buckets.forEach((b, i) => {
    let top = margin.top + plotH;
    const bx = (margin.left + i * barW).toFixed(1);
    for (const [value, color] of [
      [b.current, '#2e7d32'],
      [b.previous, '#f9a825'],
      [b.failed, '#c62828'],
    ] as const) {
      if (value === 0) continue;
      top -= y(value);
      parts.push(`<rect x="${bx}" y="${top.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${y(value).toFixed(1)}" fill="${color}"/>`);
    }
  });
  for (const r of report.rotations) {
    const rx = x(r.startedAtMinute).toFixed(1);
    parts.push(`<line x1="${rx}" y1="${margin.top}" x2="${rx}" y2="${margin.top + plotH}" stroke="${r.mode === 'emergency' ? '#c62828' : '#1565c0'}" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${rx}" y="${margin.top - 4}" fill="#1565c0" font-size="9">${r.clientId}${r.mode === 'emergency' ? ' (emergency)' : ''}</text>`);
  }
  parts.push(`<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${width - margin.right}" y2="${margin.top + plotH}" stroke="black"/>`);
  for (let minute = 0; minute <= buckets.length * BUCKET_MINUTES; minute += 60) {
    parts.push(`<text x="${x(minute).toFixed(1)}" y="${margin.top + plotH + 15}" text-anchor="middle">${hhmm(minute)}</text>`);
  }
  parts.push(`<text x="${margin.left - 8}" y="${margin.top + 4}" text-anchor="end">${max}</text><text x="${margin.left - 8}" y="${margin.top + plotH}" text-anchor="end">0</text>`);
  const legend = [
    ['#2e7d32', 'accepted, current key'],
    ['#f9a825', 'accepted, previous key'],
    ['#c62828', 'refused'],
    ['#1565c0', 'rotation start'],
  ] as const;
  legend.forEach(([color, label], i) => {
    const lx = margin.left + i * 200;
    parts.push(`<rect x="${lx}" y="${height - 18}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${height - 9}">${label}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
