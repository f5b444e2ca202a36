/**
 * The timeline's rotation labels: starts a few minutes apart (00:10, 00:17, 00:24 in the
 * default rehearsal) must not be drawn over one another. Checked on the layout's boxes, not
 * on pixels: no two boxes share area, each stays within the chart, and each keeps a leader
 * to its own marker.
 */
import fc from 'fast-check';
import { BUCKET_MINUTES, CONSUMER_KINDS, renderSvg, rotationLabel, timelineGeometry, type RehearsalReport } from '../../local/rehearsal/report';
import { boxesOverlap, layoutLabels, textWidth, type LabelBox } from '../../local/rehearsal/timeline-layout';

const overlapping = (boxes: readonly LabelBox[]) => {
  const pairs: [string, string][] = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (boxesOverlap(boxes[i], boxes[j])) pairs.push([boxes[i].text, boxes[j].text]);
  return pairs;
};

/** A report with only what the timeline reads: rotations at the given minutes over 7 hours. */
function reportWith(starts: readonly { minute: number; clientId: string; mode?: string }[]): RehearsalReport {
  const buckets = Array.from({ length: 29 }, (_, i) => ({ atMinute: i * BUCKET_MINUTES, current: 7, previous: 1, failed: 0 }));
  const figures = { callers: 1, requests: 29 * 8, failures: 0 };
  return {
    requests: { total: 3 * 29 * 8, ok: 3 * 29 * 8, failed: 0 },
    wellBehavedFailures: 0,
    rotations: starts.map((s) => ({
      clientId: s.clientId,
      mode: s.mode ?? 'scheduled',
      status: 'SUCCEEDED',
      startedAtMinute: s.minute,
      endedAtMinute: s.minute + 60,
      reminders: 0,
      retiredAtDeadline: false,
      previousKeyUse: [],
    })),
    timeline: buckets,
    timelineByKind: { prompt: buckets, lagging: buckets, never: buckets },
    byBehaviour: { prompt: figures, lagging: figures, never: figures },
  } as unknown as RehearsalReport;
}

test('the three close starts of the default rehearsal (00:10, 00:17, 00:24) get boxes that do not overlap', () => {
  const report = reportWith([
    { minute: 10, clientId: 'tenant-01' },
    { minute: 17, clientId: 'tenant-02' },
    { minute: 24, clientId: 'tenant-03' },
    { minute: 220, clientId: 'tenant-01', mode: 'emergency' },
    { minute: 227, clientId: 'tenant-02' },
    { minute: 234, clientId: 'tenant-03' },
  ]);
  const { labels, x, width } = timelineGeometry(report);
  // Without lanes these would collide: the starts are closer than a label is wide.
  expect(x(17) - x(10)).toBeLessThan(textWidth(rotationLabel(report.rotations[0]), 10));
  expect(overlapping(labels.boxes)).toEqual([]);
  expect(labels.lanes).toBe(3);
  for (const [i, box] of labels.boxes.entries()) {
    expect(box.text).toBe(rotationLabel(report.rotations[i]));
    expect(box.anchorX).toBeCloseTo(x(report.rotations[i].startedAtMinute));
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(width);
  }
  // The second cluster reuses the lanes of the first.
  expect(labels.boxes.slice(3).map((b) => b.lane)).toEqual([0, 1, 2]);
});

test('a label near the right edge ends at its marker instead of running off the chart', () => {
  const { boxes } = layoutLabels([{ text: '06:55 tenant-03 (emergency)', anchorX: 930 }], { fontSize: 10, minX: 0, maxX: 960, bottomY: 100 });
  expect(boxes[0].x + boxes[0].width).toBe(930);
});

test('no two label boxes overlap, whatever the starts (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ anchorX: fc.integer({ min: 50, max: 940 }), text: fc.string({ minLength: 1, maxLength: 40 }) }), { maxLength: 40 }), (labels) => {
      const { boxes, lanes, laneHeight } = layoutLabels(labels, { fontSize: 10, minX: 0, maxX: 960, bottomY: 500 });
      expect(overlapping(boxes)).toEqual([]);
      expect(new Set(boxes.map((b) => b.lane)).size).toBe(lanes);
      for (const box of boxes) expect(box.height).toBeLessThanOrEqual(laneHeight);
    }),
  );
});

test('labels that do not crowd each other share the bottom lane', () => {
  const { lanes } = layoutLabels(
    [0, 200, 400, 600].map((anchorX) => ({ text: '00:10 tenant-01', anchorX })),
    { fontSize: 10, minX: 0, maxX: 960, bottomY: 100 },
  );
  expect(lanes).toBe(1);
});

test('text width grows with the text and errs wide on unknown characters', () => {
  expect(textWidth('tenant-01', 10)).toBeGreaterThan(textWidth('tenant', 10));
  expect(textWidth('\u00e9', 10)).toBeGreaterThanOrEqual(textWidth('W', 10));
});

test('the SVG labels each consumer kind in its strip and in the legend, and draws every rotation label from its box', () => {
  const report = reportWith([
    { minute: 10, clientId: 'tenant-01' },
    { minute: 17, clientId: 'tenant-02' },
  ]);
  const svg = renderSvg(report);
  for (const kind of ['prompt', 'lagging', 'never'] as const) {
    const label = CONSUMER_KINDS[kind].label;
    // Once above its strip (with its figures), once in the legend.
    expect(svg.split(`>${label}`).length - 1).toBe(2);
  }
  for (const box of timelineGeometry(report).labels.boxes) expect(svg).toContain(`<text x="${box.x.toFixed(1)}" y="${box.baselineY.toFixed(1)}"`);
});
