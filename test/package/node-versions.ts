/**
 * The other Nodes on this machine (a system Node older than the Node 24 npm scripts run), so
 * that the consumer test also runs a package where its `engines` say it runs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A Node executable and its major version. */
export interface NodeBinary {
  readonly path: string;
  readonly version: string;
  readonly major: number;
}

function nodeAt(file: string): NodeBinary | undefined {
  const result = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const match = /^v(\d+)\.\d+\.\d+/.exec(result.stdout ?? '');
  return match ? { path: file, version: match[0].slice(1), major: Number(match[1]) } : undefined;
}

/** The Nodes older than this process's, on PATH or in /usr/bin or /usr/local/bin, oldest first. */
export function olderSystemNodes(): NodeBinary[] {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin'];
  const files = new Set(
    dirs
      .map((dir) => path.join(dir, 'node'))
      .filter((file) => fs.existsSync(file))
      .map((file) => fs.realpathSync(file)),
  );
  const current = Number(process.versions.node.split('.')[0]);
  return [...files]
    .map(nodeAt)
    .filter((node): node is NodeBinary => node !== undefined && node.major < current)
    .sort((a, b) => compareVersions(a.version, b.version));
}

function versionParts(version: string): [number, number, number] {
  const [major = 0, minor = 0, patch = 0] = version.split('.').map(Number);
  return [major, minor, patch];
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [versionParts(a), versionParts(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/**
 * Whether a package's `engines.node` admits `version` (`20.11.1`). Only `>=N` or `>=N.M.P` is
 * understood; anything else throws, so a package cannot claim a range this test does not check.
 */
export function enginesAdmit(range: string | undefined, version: string): boolean {
  if (range === undefined) throw new Error('The package declares no engines.node.');
  const match = /^>=\s*(\d+(?:\.\d+\.\d+)?)$/.exec(range.trim());
  if (!match) throw new Error(`The consumer test understands engines.node of the form >=N or >=N.M.P; got ${range}.`);
  return compareVersions(version, match[1]) >= 0;
}
