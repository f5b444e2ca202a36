/**
 * Where the timeline's rotation labels go. Starts a few minutes apart sit a few pixels apart,
 * so labels drawn at their marker overlap; here each label gets a lane (a row above the plot)
 * where its box clears every other label's box, and a leader line runs from the label down
 * to its marker. Widths are estimated from Helvetica/Arial advance widths (the SVG asks for
 * sans-serif), rounded up, so no renderer is needed and the layout is testable.
 */

/** The characters of `chars` (ASCII only), each with the advance `units`. */
function same(chars: string, units: number): Record<string, number> {
  const widths: Record<string, number> = {};
  for (const c of chars) widths[c] = units;
  return widths;
}

/**
 * Advance widths of Helvetica in 1/1000 em for the characters labels use; anything else
 * counts as the widest (an uppercase W), so an estimate errs wide, never narrow.
 */
const ADVANCE: Record<string, number> = {
  ' ': 278,
  '(': 333,
  ')': 333,
  '-': 333,
  '.': 278,
  ',': 278,
  ':': 278,
  '/': 278,
  '+': 584,
  ...same('0123456789', 556),
  ...same('abdeghnopqu', 556),
  ...same('cksvxyz', 500),
  f: 278,
  t: 278,
  i: 222,
  j: 222,
  l: 222,
  r: 333,
  m: 833,
  w: 722,
  ...same('ABEKPSVXY', 667),
  ...same('CDHNRU', 722),
  ...same('FTZL', 611),
  G: 778,
  O: 778,
  Q: 778,
  I: 278,
  J: 500,
  M: 833,
};
const WIDEST = 944;

/** The estimated rendered width of `text` in a sans-serif font of `fontSize` px (rounded up). */
export function textWidth(text: string, fontSize: number): number {
  let units = 0;
  for (const c of text) units += ADVANCE[c] ?? WIDEST;
  return Math.ceil((units / 1000) * fontSize);
}

/** A label to place: its text and the x of the marker it belongs to. */
export interface LabelInput {
  readonly text: string;
  readonly anchorX: number;
}

/** A placed label: its box (top-left x/y, width, height), lane and text baseline. */
export interface LabelBox {
  readonly text: string;
  readonly anchorX: number;
  readonly lane: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Where the text's baseline is (x is the box's left: the text is drawn start-anchored). */
  readonly baselineY: number;
}

/** The geometry the layout works in. */
export interface LabelLayoutOptions {
  readonly fontSize: number;
  /** Left and right bounds a label box must stay within. */
  readonly minX: number;
  readonly maxX: number;
  /** The y of the bottom of lane 0 (just above the plot); further lanes stack upwards. */
  readonly bottomY: number;
  /** Horizontal room kept between two labels in one lane. */
  readonly gap?: number;
}

/** Labels placed, and how many lanes (rows) they needed. */
export interface LabelLayout {
  readonly boxes: readonly LabelBox[];
  readonly lanes: number;
  readonly laneHeight: number;
}

/**
 * Places every label in the lowest lane where its box does not come within `gap` of another
 * box in that lane (greedy interval colouring in the order of the anchors: as few lanes as
 * the densest cluster needs). A label starts at its marker, or ends there when it would run
 * past `maxX`. Boxes come back in the order of `labels`.
 */
export function layoutLabels(labels: readonly LabelInput[], options: LabelLayoutOptions): LabelLayout {
  const gap = options.gap ?? 6;
  const height = Math.ceil(options.fontSize * 1.3);
  const laneHeight = height + 2;
  const order = labels.map((label, i) => ({ label, i })).sort((a, b) => a.label.anchorX - b.label.anchorX || a.i - b.i);
  const laneRight: number[] = [];
  const boxes: LabelBox[] = new Array<LabelBox>(labels.length);
  for (const { label, i } of order) {
    const width = textWidth(label.text, options.fontSize);
    let x = label.anchorX + width > options.maxX ? label.anchorX - width : label.anchorX;
    x = Math.max(options.minX, Math.min(x, options.maxX - width));
    let lane = laneRight.findIndex((right) => right + gap <= x);
    if (lane === -1) lane = laneRight.push(-Infinity) - 1;
    // A box enters a lane only to the right of everything in it: laneRight stays the lane's maximum.
    laneRight[lane] = x + width;
    const y = options.bottomY - (lane + 1) * laneHeight;
    boxes[i] = { text: label.text, anchorX: label.anchorX, lane, x, y, width, height, baselineY: y + Math.round(options.fontSize * 1.05) };
  }
  return { boxes, lanes: laneRight.length, laneHeight };
}

/** True when two boxes share any area. */
export function boxesOverlap(a: Pick<LabelBox, 'x' | 'y' | 'width' | 'height'>, b: Pick<LabelBox, 'x' | 'y' | 'width' | 'height'>): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
