/**
 * The rehearsal's report: figures (requests, failures by reason and by caller kind, old-key
 * use per rotation, reminders, deadline retirements), a terminal summary with a compact
 * chart, and an SVG timeline.
 */
import type { LocalRotationResult } from '../local-rotation-runner';
import { CALLER_BEHAVIOURS, type CallerBehaviour, type RequestOutcome } from './callers';
import { emergencyRecoveries, NO_OBSERVATIONS, pickupLatency, switchTimes, type DeliveryObservations, type EmergencyRecovery, type PickupLatency, type SwitchRecord } from './delivery-figures';
import type { RehearsalOptions } from './options';
import { layoutLabels, textWidth, type LabelLayout } from './timeline-layout';

const MINUTE = 60_000;
/** Width of the old-key-use buckets and of the timeline's bars. */
export const BUCKET_MINUTES = 15;

/** One rotation as the rehearsal saw it. */
export interface RotationRecord {
  readonly clientId: string;
  readonly mode: string;
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** Wall-clock start (emergency recovery is measured in real milliseconds). */
  readonly startedAtWallMs: number;
  readonly result: LocalRotationResult;
}

/** Figures of one kind of consumer. */
export interface KindFigures {
  readonly callers: number;
  readonly requests: number;
  readonly failures: number;
  /** Simulated minutes from each rotation of its clients to each consumer's first request with the new key (null: never). */
  readonly switchAfterMinutes: readonly (number | null)[];
}

/** Everything the rehearsal measured. */
export interface RehearsalReport {
  readonly options: RehearsalOptions;
  readonly wallSeconds: number;
  readonly simulatedMinutes: number;
  readonly requests: { readonly total: number; readonly ok: number; readonly failed: number };
  readonly failuresByReason: Record<string, number>;
  /** Per kind of consumer (the never-updating one included). */
  readonly byBehaviour: Record<CallerBehaviour, KindFigures>;
  /** Failures seen by every consumer but the never-updating one (the SDK users): must be 0. */
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
  readonly timeline: readonly TimelineBucket[];
  /** The same buckets per consumer kind (the SVG draws one strip per kind). */
  readonly timelineByKind: Partial<Record<CallerBehaviour, readonly TimelineBucket[]>>;
  /** Each consumer's switch to the new key, per rotation of its client. */
  readonly switches: readonly SwitchRecord[];
  /** How each consumer of a client rotated in emergency came back to a working key. */
  readonly emergencyRecovery: readonly EmergencyRecovery[];
  /** The pickup endpoint's latency as the outside-AWS consumers saw it (absent: none ran). */
  readonly pickupLatency?: PickupLatency;
  /** KeyRoll notices each delivered consumer received and verified, by event type (its webhook or its own queue). */
  readonly noticesReceived: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The cross-account consumer's reads of its secret, as the account boundary decided them (absent: no such consumer). */
  readonly boundaryReads?: { readonly allowed: number; readonly denied: number };
}

/** Requests of one time bucket, by the key they were accepted with. */
export interface TimelineBucket {
  readonly atMinute: number;
  readonly current: number;
  readonly previous: number;
  readonly failed: number;
}

/** How the report names and colours each kind of consumer. */
export const CONSUMER_KINDS: Readonly<Record<CallerBehaviour, { readonly label: string; readonly color: string }>> = {
  prompt: { label: 'prompt: Secrets Manager, SNS\u2192SQS notices', color: '#6a1b9a' },
  lagging: { label: 'lagging: Secrets Manager, timer only', color: '#00838f' },
  never: { label: 'never updates its key', color: '#5d4037' },
  'outside-aws': { label: 'outside AWS: key pickup, HTTPS webhook', color: '#ef6c00' },
  'cross-account': { label: 'cross-account: own account, SQS notices', color: '#283593' },
};

/** Computes the report from what the run recorded. */
export function buildReport(input: {
  options: RehearsalOptions;
  startMs: number;
  endMs: number;
  outcomes: readonly RequestOutcome[];
  rotations: readonly RotationRecord[];
  wallMs: number;
  observations?: DeliveryObservations;
  boundaryReads?: { allowed: number; denied: number };
}): RehearsalReport {
  const { options, startMs, outcomes } = input;
  const observations = input.observations ?? NO_OBSERVATIONS;
  const switches = switchTimes(outcomes, input.rotations);
  const minuteOf = (ms: number) => Math.round((ms - startMs) / MINUTE);
  const failuresByReason: Record<string, number> = {};
  for (const o of outcomes) if (!o.ok) failuresByReason[o.reason ?? 'unknown'] = (failuresByReason[o.reason ?? 'unknown'] ?? 0) + 1;
  const behaviours = CALLER_BEHAVIOURS;
  const byBehaviour = Object.fromEntries(
    behaviours.map((b) => {
      const mine = outcomes.filter((o) => o.behaviour === b);
      const figures: KindFigures = {
        callers: new Set(mine.map((o) => o.caller)).size,
        requests: mine.length,
        failures: mine.filter((o) => !o.ok).length,
        switchAfterMinutes: switches.filter((s) => s.kind === b).map((s) => s.afterMinutes),
      };
      return [b, figures];
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

  const totalBuckets = Math.ceil((input.endMs - startMs) / (BUCKET_MINUTES * MINUTE)) + 1;
  const bucketsOf = (mine: readonly RequestOutcome[]): TimelineBucket[] => {
    const buckets = Array.from({ length: totalBuckets }, (_, i) => ({ atMinute: i * BUCKET_MINUTES, current: 0, previous: 0, failed: 0 }));
    for (const o of mine) {
      const bucket = buckets[Math.min(totalBuckets - 1, Math.floor((o.atMs - startMs) / (BUCKET_MINUTES * MINUTE)))];
      if (!o.ok) bucket.failed += 1;
      else if (o.keyRole === 'previous') bucket.previous += 1;
      else bucket.current += 1;
    }
    return buckets;
  };
  const timeline = bucketsOf(outcomes);
  const timelineByKind = Object.fromEntries(behaviours.filter((b) => byBehaviour[b].requests > 0).map((b) => [b, bucketsOf(outcomes.filter((o) => o.behaviour === b))])) as RehearsalReport['timelineByKind'];
  const failed = outcomes.filter((o) => !o.ok).length;
  return {
    options,
    wallSeconds: Math.round(input.wallMs / 100) / 10,
    simulatedMinutes: minuteOf(input.endMs),
    requests: { total: outcomes.length, ok: outcomes.length - failed, failed },
    failuresByReason,
    byBehaviour,
    wellBehavedFailures: behaviours.filter((b) => b !== 'never').reduce((sum, b) => sum + byBehaviour[b].failures, 0),
    rotations,
    remindersSent: rotations.reduce((sum, r) => sum + r.reminders, 0),
    retiredAtDeadline: rotations.filter((r) => r.retiredAtDeadline).length,
    timeline,
    timelineByKind,
    switches,
    emergencyRecovery: emergencyRecoveries(outcomes, input.rotations, observations),
    ...(pickupLatency(observations) ? { pickupLatency: pickupLatency(observations) } : {}),
    noticesReceived: noticeCounts(observations),
    ...(input.boundaryReads ? { boundaryReads: input.boundaryReads } : {}),
  };
}

function noticeCounts(observations: DeliveryObservations): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const n of observations.notices) (counts[n.consumer] ??= {})[n.type] = (counts[n.consumer]?.[n.type] ?? 0) + 1;
  return counts;
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
  const clients = new Set(report.rotations.map((r) => r.clientId)).size;
  const consumers = Object.values(byBehaviour).reduce((sum, figures) => sum + figures.callers, 0);
  lines.push(`KeyRoll rehearsal: ${clients} clients, ${consumers} consumers, ${report.rotations.length} rotations over ${hhmm(report.simulatedMinutes)} simulated (${report.wallSeconds} s wall)`);
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
    if (figures.callers === 0) continue;
    const switched = figures.switchAfterMinutes.filter((m): m is number => m !== null);
    const switchText =
      behaviour === 'never' || figures.switchAfterMinutes.length === 0
        ? ''
        : `, new key used after ${switched.length ? `${Math.min(...switched)}-${Math.max(...switched)} min` : '-'}${switched.length < figures.switchAfterMinutes.length ? ` (${figures.switchAfterMinutes.length - switched.length} not switched)` : ''}`;
    lines.push(`  ${behaviour.padEnd(13)} callers ${figures.callers}, requests ${figures.requests}, failures ${figures.failures}${switchText}`);
  }
  lines.push(`well-behaved failures ${report.wellBehavedFailures}${report.wellBehavedFailures === 0 ? ' (as required)' : '  <-- MUST BE 0'}`);
  for (const e of report.emergencyRecovery) {
    const after = (what: string, value: number | undefined) => (value === undefined ? [] : [`${what} ${(value / 1000).toFixed(2)} s`]);
    const steps = [...after('notice after', e.noticeAfterMs), ...after('new key held after', e.heldAfterMs), ...after('used after', e.usedAfterMs)];
    lines.push(`emergency ${e.clientId}  ${e.consumer} (${e.kind}): ${steps.join(', ') || 'new key never used'} wall, ${e.usedAfterMinutes ?? '-'} simulated min, ${e.failuresAfter} refused`);
  }
  if (report.pickupLatency) {
    const p = report.pickupLatency;
    lines.push(`pickup latency      p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, max ${p.maxMs} ms over ${p.requests} pickups (${p.failures} refused; loopback, one process)`);
  }
  for (const [consumer, counts] of Object.entries(report.noticesReceived)) {
    lines.push(
      `notices received    ${consumer}: ${Object.entries(counts)
        .map(([type, n]) => `${type} ${n}`)
        .join(', ')}`,
    );
  }
  if (report.boundaryReads) lines.push(`account boundary    ${report.boundaryReads.allowed} cross-account reads allowed, ${report.boundaryReads.denied} denied`);
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

const KEY_COLORS = { current: '#2e7d32', previous: '#f9a825', failed: '#c62828' } as const;
const MARKER_COLORS = { scheduled: '#1565c0', emergency: '#ad1457' } as const;
/** A white outline behind a text, so lines drawn before it do not cross its letters. */
const HALO = 'stroke="#fff" stroke-width="3" paint-order="stroke"';
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The text of a rotation's label on the timeline. */
export const rotationLabel = (r: { startedAtMinute: number; clientId: string; mode: string }) => `${hhmm(r.startedAtMinute)} ${r.clientId}${r.mode === 'emergency' ? ' (emergency)' : ''}`;

/** The SVG's geometry, computed before drawing: the label lanes decide how tall the top margin is. */
export interface TimelineGeometry {
  readonly width: number;
  readonly height: number;
  readonly plot: { readonly left: number; readonly right: number; readonly top: number; readonly bottom: number };
  readonly strips: readonly { readonly kind: CallerBehaviour; readonly top: number; readonly bottom: number }[];
  readonly labels: LabelLayout;
  readonly legend: readonly { readonly x: number; readonly y: number; readonly color: string; readonly label: string }[];
  /** The x of a simulated minute. */
  readonly x: (minute: number) => number;
}

const LABEL_FONT = 10;

/** Lays the timeline out: rotation labels in lanes above the plot, then one strip per consumer kind. */
export function timelineGeometry(report: RehearsalReport): TimelineGeometry {
  const width = 960;
  const left = 50;
  const right = width - 20;
  const spanMinutes = Math.max(1, report.timeline.length) * BUCKET_MINUTES;
  const x = (minute: number) => left + (minute / spanMinutes) * (right - left);
  const titleBottom = 28;
  // Lay the labels out against a provisional bottom, then shift them under the title.
  const provisional = layoutLabels(
    report.rotations.map((r) => ({ text: rotationLabel(r), anchorX: x(r.startedAtMinute) })),
    { fontSize: LABEL_FONT, minX: 0, maxX: width, bottomY: 0 },
  );
  const top = titleBottom + provisional.lanes * provisional.laneHeight + 6;
  const labels: LabelLayout = {
    ...provisional,
    boxes: provisional.boxes.map((box) => ({ ...box, y: box.y + top - 4, baselineY: box.baselineY + top - 4 })),
  };
  const bottom = top + 200;
  const stripHeight = 44;
  const stripGap = 26;
  const kinds = Object.keys(report.timelineByKind) as CallerBehaviour[];
  let stripTop = bottom + 30;
  const strips = kinds.map((kind) => {
    const strip = { kind, top: stripTop + 16, bottom: stripTop + 16 + stripHeight };
    stripTop = strip.bottom + stripGap - 16;
    return strip;
  });
  // The legend: key colours and markers, then the consumer kinds, wrapped at the right edge.
  const items = [
    [KEY_COLORS.current, 'accepted, current key'],
    [KEY_COLORS.previous, 'accepted, previous key'],
    [KEY_COLORS.failed, 'refused'],
    [MARKER_COLORS.scheduled, 'scheduled rotation'],
    [MARKER_COLORS.emergency, 'emergency rotation'],
    ...kinds.map((kind) => [CONSUMER_KINDS[kind].color, CONSUMER_KINDS[kind].label]),
  ] as const;
  const legend: { x: number; y: number; color: string; label: string }[] = [];
  let lx = left;
  let ly = stripTop + 16 + 28;
  items.forEach(([color, label], i) => {
    // textWidth measures Helvetica; a viewer without it (DejaVu Sans) draws up to ~20% wider.
    const w = 14 + Math.ceil(textWidth(label, 11) * 1.2) + 18;
    if (lx + w > right + 18 || i === 5) {
      lx = left;
      ly += 16;
    }
    legend.push({ x: lx, y: ly, color, label });
    lx += w;
  });
  const height = ly + 12;
  return { width, height, plot: { left, right, top, bottom }, strips, labels, legend, x };
}

/**
 * The timeline as an SVG: stacked bars per bucket (current, previous, refused) for all
 * consumers, rotation markers whose labels sit in lanes with leader lines (close starts stay
 * legible), and one strip per consumer kind, labelled and coloured as in the legend.
 */
export function renderSvg(report: RehearsalReport): string {
  const g = timelineGeometry(report);
  const { plot, x } = g;
  const parts: string[] = [];
  const bars = (buckets: readonly TimelineBucket[], top: number, bottom: number) => {
    const max = Math.max(1, ...buckets.map((b) => b.current + b.previous + b.failed));
    const barW = (plot.right - plot.left) / buckets.length;
    buckets.forEach((b, i) => {
      let y = bottom;
      const bx = (plot.left + i * barW).toFixed(1);
      for (const [value, color] of [
        [b.current, KEY_COLORS.current],
        [b.previous, KEY_COLORS.previous],
        [b.failed, KEY_COLORS.failed],
      ] as const) {
        if (value === 0) continue;
        const h = (value / max) * (bottom - top);
        y -= h;
        parts.push(`<rect x="${bx}" y="${y.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`);
      }
    });
    parts.push(`<line x1="${plot.left}" y1="${bottom}" x2="${plot.right}" y2="${bottom}" stroke="black"/>`);
    return max;
  };
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${g.height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`);
  parts.push(`<title>KeyRoll rehearsal timeline</title><rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${plot.left}" y="18" font-size="14">Requests per ${BUCKET_MINUTES} simulated minutes — ${report.requests.total} requests, ${report.wellBehavedFailures} well-behaved failures</text>`);

  const max = bars(report.timeline, plot.top, plot.bottom);
  parts.push(`<text x="${plot.left - 8}" y="${plot.top + 4}" text-anchor="end">${max}</text><text x="${plot.left - 8}" y="${plot.bottom}" text-anchor="end">0</text>`);

  // Strip titles are drawn after the markers, on a white halo, so a marker line never crosses their text.
  // Rotation markers across the plot and the strips; each label in its lane, a leader line down to the marker.
  const lastBottom = g.strips.at(-1)?.bottom ?? plot.bottom;
  const labelTexts: string[] = [];
  report.rotations.forEach((r, i) => {
    const box = g.labels.boxes[i];
    const color = r.mode === 'emergency' ? MARKER_COLORS.emergency : MARKER_COLORS.scheduled;
    const mx = box.anchorX.toFixed(1);
    parts.push(`<line x1="${mx}" y1="${plot.top}" x2="${mx}" y2="${lastBottom}" stroke="${color}" stroke-dasharray="4 3"/>`);
    parts.push(`<polyline points="${mx},${plot.top} ${mx},${box.y + box.height} ${(box.x + Math.min(box.width, 6)).toFixed(1)},${box.y + box.height}" fill="none" stroke="${color}" stroke-width="0.8"/>`);
    labelTexts.push(`<text x="${box.x.toFixed(1)}" y="${box.baselineY.toFixed(1)}" fill="${color}" font-size="${LABEL_FONT}" ${HALO}>${escapeXml(box.text)}</text>`);
  });
  // After every line: a later marker's leader line runs past the lanes below it.
  parts.push(...labelTexts);

  parts.push(`<text x="${plot.left + 4}" y="${plot.top + 12}" fill="#424242" ${HALO}>all consumers</text>`);
  for (const strip of g.strips) {
    const kind = CONSUMER_KINDS[strip.kind];
    const figures = report.byBehaviour[strip.kind];
    parts.push(`<rect x="${plot.left - 10}" y="${strip.top}" width="4" height="${strip.bottom - strip.top}" fill="${kind.color}"/>`);
    parts.push(
      `<text x="${plot.left - 10}" y="${strip.top - 4}" fill="${kind.color}" ${HALO}>${escapeXml(`${kind.label} — ${figures.callers} consumer${figures.callers === 1 ? '' : 's'}, ${figures.requests} requests, ${figures.failures} refused`)}</text>`,
    );
    bars(report.timelineByKind[strip.kind] ?? [], strip.top, strip.bottom);
  }

  const axisY = lastBottom + 15;
  for (let minute = 0; minute <= report.timeline.length * BUCKET_MINUTES; minute += 60) {
    parts.push(`<text x="${x(minute).toFixed(1)}" y="${axisY}" text-anchor="middle">${hhmm(minute)}</text>`);
  }
  for (const item of g.legend) {
    parts.push(`<rect x="${item.x}" y="${item.y - 9}" width="10" height="10" fill="${item.color}"/><text x="${item.x + 14}" y="${item.y}">${escapeXml(item.label)}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
