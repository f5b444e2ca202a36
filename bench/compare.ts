/**
 * `npm run bench:compare -- <old.json> <new.json> [--threshold <percent>]`: the change of
 * every metric between two bench runs, regressions beyond the threshold (default 10%)
 * flagged. Exit code 0 without regressions, 1 with, 2 on bad input.
 */
import { readFileSync } from 'node:fs';
import { asComparable, compareReports, type MetricChange } from './lib/compare';
import { renderTable } from './lib/table';

const USAGE = 'usage: npm run bench:compare -- <old.json> <new.json> [--threshold <percent>]';

function fmt(value: number, unit: MetricChange['unit']): string {
  if (unit === 'ratio') return value.toFixed(3);
  if (unit === 'ms') return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

function main(argv: readonly string[]): number {
  const files: string[] = [];
  let thresholdPct = 10;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threshold') thresholdPct = Number(argv[++i]);
    else files.push(argv[i]);
  }
  if (files.length !== 2 || !Number.isFinite(thresholdPct)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const [oldFile, newFile] = files as [string, string];
  const load = (file: string) => asComparable(JSON.parse(readFileSync(file, 'utf8')), file);
  const older = load(oldFile);
  const newer = load(newFile);
  const result = compareReports(older, newer, thresholdPct);
  const sha = (r: typeof older) => (r.commit ? `${r.commit.sha.slice(0, 12)}${r.commit.dirty ? '+dirty' : ''}` : 'unknown');
  const rows = result.changes.map((c) => [
    c.id,
    fmt(c.old, c.unit),
    fmt(c.new, c.unit),
    Number.isNaN(c.deltaPct) ? '-' : `${c.deltaPct >= 0 ? '+' : ''}${c.deltaPct.toFixed(1)}%`,
    c.unit,
    [c.regression ? 'REGRESSION' : c.improvement ? 'better' : '', c.missesGoal ? 'misses goal' : ''].filter(Boolean).join(', '),
  ]);
  process.stdout.write(
    [
      `old ${oldFile} (${sha(older)})`,
      `new ${newFile} (${sha(newer)})`,
      renderTable(['metric', 'old', 'new', 'change', 'unit', `beyond ±${thresholdPct}%`], rows),
      ...(result.onlyOld.length ? [`only in old: ${result.onlyOld.join(', ')}`] : []),
      ...(result.onlyNew.length ? [`only in new: ${result.onlyNew.join(', ')}`] : []),
      `${result.regressions.length} regression(s) beyond ${thresholdPct}%.`,
      '',
    ].join('\n'),
  );
  return result.regressions.length ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`bench:compare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
