/**
 * The consumer test's project: the workspace packages built and packed as `npm publish` would
 * pack them, installed from their tarballs into a fresh project outside the repository, with
 * every other dependency from the registry as a user gets it.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The fields of a package.json the test reads. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly workspaces?: readonly string[];
  readonly engines?: { readonly node?: string };
  readonly exports?: unknown;
  readonly bin?: Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

/** What `npm pack --json` reports for one package. */
export interface Packed {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
  /** Bytes of the .tgz. */
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly { readonly path: string }[];
}

/** A JSON file's content, for the caller to type. */
export function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/**
 * The environment of every child: the test's own, minus what an outer `npm test` passes down
 * (npm_* settings such as the package and lifecycle would steer the inner npm), minus AWS and
 * KeyRoll settings (jest's global setup points the SDK at moto), plus `extra`.
 */
export function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|AWS_|KEYROLL_|INIT_CWD$)/i.test(name) || keep.has(name.toLowerCase())));
  return { ...env, NPM_CONFIG_UPDATE_NOTIFIER: 'false', NPM_CONFIG_FUND: 'false', NPM_CONFIG_AUDIT: 'false', CDK_DISABLE_VERSION_CHECK: 'true', ...extra };
}

/** Runs `command`, returning its result; a spawn failure (no such command) throws. */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? childEnv(), encoding: 'utf8', timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return result;
}

/** Runs `command` and throws with its output unless it exits 0. */
export function runOk(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): string {
  const result = run(command, args, options);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The workspace packages (root package.json `workspaces`, `dir/*` patterns), so a new package is picked up without editing the test. */
export function workspacePackages(): { readonly dir: string; readonly manifest: Manifest }[] {
  const patterns = (readJson(path.join(REPO_ROOT, 'package.json')) as Manifest).workspaces ?? [];
  return patterns.flatMap((pattern) => {
    if (!/^[\w.-]+\/\*$/.test(pattern)) throw new Error(`The consumer test reads workspace patterns of the form dir/*; got ${pattern}.`);
    const parent = path.join(REPO_ROOT, pattern.slice(0, -2));
    return fs
      .readdirSync(parent)
      .map((name) => path.join(parent, name))
      .filter((dir) => fs.existsSync(path.join(dir, 'package.json')))
      .map((dir) => ({ dir, manifest: readJson(path.join(dir, 'package.json')) as Manifest }));
  });
}

/** The version the root lock file installs of `name` (so the npm cache answers for it). */
export function lockedVersion(name: string): string {
  const lock = readJson(path.join(REPO_ROOT, 'package-lock.json')) as { packages: Record<string, { version?: string }> };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json.`);
  return version;
}

/**
 * How many packages installing `name` brings along (its dependencies, theirs, …, as the
 * consumer's lock file resolves them; peers are the user's own and not counted).
 */
export function installedClosure(projectDir: string, name: string): number {
  const lock = readJson(path.join(projectDir, 'package-lock.json')) as { packages: Record<string, Manifest> };
  const seen = new Set<string>();
  const visit = (location: string): void => {
    const entry = lock.packages[location];
    if (!entry) return;
    for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      // Node's resolution: the nearest node_modules/<dep> from `location` upwards.
      let base = location;
      let found: string | undefined;
      for (;;) {
        const candidate = `${base}/node_modules/${dep}`;
        if (lock.packages[candidate]) {
          found = candidate;
          break;
        }
        const up = base.lastIndexOf('/node_modules/');
        if (up < 0) {
          found = lock.packages[`node_modules/${dep}`] ? `node_modules/${dep}` : undefined;
          break;
        }
        base = base.slice(0, up);
      }
      if (found && !seen.has(found)) {
        seen.add(found);
        visit(found);
      }
    }
  };
  visit(`node_modules/${name}`);
  return seen.size;
}

/** Every installed package anywhere in `nodeModules` (nested node_modules included) whose name `matches`. */
export function findInstalled(nodeModules: string, matches: (name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      const packages = entry.startsWith('@') ? fs.readdirSync(path.join(dir, entry)).map((scoped) => `${entry}/${scoped}`) : [entry];
      for (const pkg of packages) {
        if (matches(pkg)) found.push(path.join(dir, pkg));
        walk(path.join(dir, pkg, 'node_modules'));
      }
    }
  };
  walk(nodeModules);
  return found;
}
