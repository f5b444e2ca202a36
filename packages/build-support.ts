/**
 * What the package builds (packages/<name>/build.ts) share: the repository root, its manifest,
 * and reading an esbuild metafile for what a bundle imports and what it bundled, so that each
 * build can refuse to write a package whose code would need something its manifest does not
 * declare (or something a user must never load, such as esbuild or aws-cdk-lib in the CLI).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import type { Metafile } from 'esbuild';

/** The repository root: every build runs with it as esbuild's working directory. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The fields of a package.json the builds read. */
export interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly license?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

/** A package build found something that must not ship; the message says what and where. */
export class PackageBuildError extends Error {
  override readonly name = 'PackageBuildError';
}

/** Reads the package.json in `dir`. */
export function readManifest(dir: string): PackageManifest {
  return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageManifest;
}

/** The package a bare specifier names: `@aws-sdk/client-sfn/dist` → `@aws-sdk/client-sfn`, `aws-cdk-lib/aws-iam` → `aws-cdk-lib`. */
export function packageNameOf(specifier: string): string {
  const parts = specifier.split('/');
  return parts.slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
}

/** The packages (not Node's built-in modules) a bundle leaves to be required at run time, sorted. */
export function importedPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !isBuiltin(imported.path)) names.add(packageNameOf(imported.path));
    }
  }
  return [...names].sort();
}

/**
 * The source files that put code into a bundle, relative to {@link PROJECT_ROOT} (node_modules
 * paths may lead through a symlink). esbuild reads more (metafile.inputs): a module whose code
 * tree-shaking removed entirely contributes no bytes and is not loaded by the output.
 */
export function bundledInputs(metafile: Metafile): string[] {
  const inputs = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) if (bytesInOutput > 0) inputs.add(input);
  }
  return [...inputs];
}

/** The node_modules package directory an input file belongs to, or undefined for the repository's own code. */
function packageDirOf(input: string): string | undefined {
  const parts = input.split('/');
  const nm = parts.lastIndexOf('node_modules');
  if (nm < 0) return undefined;
  return parts.slice(0, nm + (parts[nm + 1]?.startsWith('@') ? 3 : 2)).join('/');
}

/**
 * The notices of the third-party packages bundled into `metafiles`' outputs (name, version,
 * licence and the package's own licence text), which their licences ask a redistribution to keep.
 */
export function thirdPartyNotices(metafiles: readonly Metafile[]): string {
  const dirs = new Set<string>();
  for (const input of metafiles.flatMap(bundledInputs)) {
    const dir = packageDirOf(input);
    if (dir) dirs.add(dir);
  }
  const sections = [...dirs].map((dir) => {
    const absolute = path.resolve(PROJECT_ROOT, dir);
    const manifest = readManifest(absolute);
    const licenceFile = readdirSync(absolute).find((file) => /^(licen[cs]e|copying)(\.|$)/i.test(file));
    const text = licenceFile ? readFileSync(path.join(absolute, licenceFile), 'utf8').trim() : `(no licence file; package.json says ${manifest.license ?? 'nothing'})`;
    return { key: `${manifest.name}@${manifest.version}`, text: `${manifest.name}@${manifest.version} (${manifest.license ?? 'unknown licence'})\n\n${text}\n` };
  });
  const unique = new Map(sections.map((section) => [section.key, section.text]));
  const body = [...unique].sort(([a], [b]) => a.localeCompare(b)).map(([, text]) => text);
  return `This package bundles code from the following packages.\n\n${body.join('\n---\n\n')}`;
}

/** Throws PackageBuildError listing `problems`, if any. */
export function refuseIf(problems: readonly string[], what: string): void {
  if (problems.length > 0) throw new PackageBuildError(`${what}:\n  - ${problems.join('\n  - ')}`);
}

/** The dependency ranges `names` have in the root package.json, which the packages' manifests must repeat. */
export function rootRanges(names: readonly string[]): Record<string, string | undefined> {
  const root = readManifest(PROJECT_ROOT);
  return Object.fromEntries(names.map((name) => [name, root.dependencies?.[name] ?? root.devDependencies?.[name]]));
}
