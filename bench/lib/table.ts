/** Plain-text tables for the console report. */

export type Align = 'left' | 'right';

/** Renders rows under a header, numbers right-aligned by default. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => ((align[c] ?? (c === 0 ? 'left' : 'right')) === 'left' ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Nanoseconds as microseconds with two decimals. */
export const us = (ns: number): string => (ns / 1000).toFixed(2);
/** Operations per second with thousands separators. */
export const opsPerSec = (n: number): string => Math.round(n).toLocaleString('en-US');
/** Bytes as KiB with one decimal, plus the exact count. */
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB (${bytes.toLocaleString('en-US')} B)`;
export const ms = (value: number): string => value.toFixed(1);
