/**
 * The entry points of `@keyroll/client` and how each is bundled: one list that build.ts builds
 * from and test/client/package-entries.test.ts checks against, so the promise "an AWS SDK client
 * is needed only by the entry that uses it" is tested on the same bundles that ship.
 *
 * Each entry is one esbuild bundle per format. The subpath entries (`secrets-manager`, `sqs`)
 * take shared code only from the main entry (`client/index.ts`); the plugin below turns that
 * import into an import of the built main entry (`./index.mjs` / `./index.cjs`), so the classes
 * exist once (an `instanceof KeyUnavailableError` holds across entries) and nothing is shipped twice.
 *
 * An entry may bundle npm packages (`bundled`): `pickup` carries jose (MIT, tree-shaken to what
 * it uses), so the package keeps no dependencies and a consumer outside AWS installs nothing but
 * `@keyroll/client`; build.ts writes their licences to dist/THIRD-PARTY-NOTICES.txt.
 */
import { isBuiltin } from 'node:module';
import { relative, resolve } from 'node:path';
import type { BuildOptions, Metafile, Plugin } from 'esbuild';

/** The repository root (sources live in client/ and lambdas/core/). */
export const REPO_ROOT = resolve(__dirname, '../..');
/** This package's directory. */
export const PACKAGE_DIR = __dirname;

/** One entry point of the package. */
export interface PackageEntry {
  /** The file name in dist/ (`<name>.mjs`, `<name>.cjs`) and in dist/types/client/. */
  readonly name: string;
  /** The key in package.json `exports`. */
  readonly subpath: string;
  /** The source, relative to the repository root. */
  readonly source: string;
  /** The npm packages (all optional peer dependencies) the entry may import; nothing else outside Node's built-ins. */
  readonly peers: readonly string[];
  /** npm packages bundled into the entry (their licences go to THIRD-PARTY-NOTICES.txt). @default none */
  readonly bundled?: readonly string[];
}

/** The main entry: needs no AWS SDK. */
export const MAIN_ENTRY: PackageEntry = { name: 'index', subpath: '.', source: 'client/index.ts', peers: [] };

/** Every entry point; the main one first (the others import it). */
export const ENTRIES: readonly PackageEntry[] = [
  MAIN_ENTRY,
  { name: 'secrets-manager', subpath: './secrets-manager', source: 'client/secrets-manager.ts', peers: ['@aws-sdk/client-secrets-manager'] },
  { name: 'sqs', subpath: './sqs', source: 'client/sqs.ts', peers: ['@aws-sdk/client-sqs'] },
  { name: 'pickup', subpath: './pickup', source: 'client/pickup.ts', peers: [], bundled: ['jose'] },
  { name: 'webhook', subpath: './webhook', source: 'client/webhook.ts', peers: [] },
];

/** The two module formats shipped, with their file extensions. */
export const FORMATS = [
  { format: 'esm', extension: 'mjs' },
  { format: 'cjs', extension: 'cjs' },
] as const;
export type Format = (typeof FORMATS)[number];

/**
 * The oldest Node line the package claims, as esbuild's target. package.json `engines` says
 * >=20.12.0: the ES module imports `hash` from node:crypto (lambdas/core/api-key.ts), which Node
 * added in 20.12.0; on 20.11.1 `import '@keyroll/client'` fails to link (measured), require works.
 */
export const NODE_TARGET = 'node20';

/** Resolves `import … from './index'` in a subpath entry to the built main entry, external. */
function mainEntryAsExternal(extension: string): Plugin {
  const mainSource = resolve(REPO_ROOT, MAIN_ENTRY.source);
  return {
    name: 'keyroll-main-entry-external',
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path);
        if (target === mainSource || `${target}.ts` === mainSource || resolve(target, 'index.ts') === mainSource) {
          return { path: `./${MAIN_ENTRY.name}.${extension}`, external: true };
        }
        return undefined;
      });
    },
  };
}

/**
 * Leaves every npm package external except `bundled` ones (esbuild's `packages: 'external'`
 * has no exceptions); Node's built-ins are external on platform `node` anyway.
 */
function npmExternalExcept(bundled: readonly string[]): Plugin {
  return {
    name: 'keyroll-npm-external-except',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind === 'entry-point' || bundled.includes(packageName(args.path))) return undefined;
        return { path: args.path, external: true };
      });
    },
  };
}

/**
 * esbuild options for one entry in one format. Every npm package stays external (`packages:
 * 'external'`), so anything an entry imports from npm shows up in its metafile: the test
 * allows only the entry's `peers`. Node's built-ins are external on platform `node`.
 */
export function bundleOptions(entry: PackageEntry, format: Format): BuildOptions & { metafile: true } {
  return {
    absWorkingDir: REPO_ROOT,
    entryPoints: [resolve(REPO_ROOT, entry.source)],
    outfile: resolve(PACKAGE_DIR, 'dist', `${entry.name}.${format.extension}`),
    bundle: true,
    format: format.format,
    platform: 'node',
    target: NODE_TARGET,
    ...(entry.bundled?.length ? {} : { packages: 'external' as const }),
    plugins: [...(entry === MAIN_ENTRY ? [] : [mainEntryAsExternal(format.extension)]), ...(entry.bundled?.length ? [npmExternalExcept(entry.bundled)] : [])],
    // Unminified: a consumer's bundler minifies, and stack traces in a consumer's logs stay readable.
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  };
}

/** What one bundle is made of and what it imports at run time. */
export interface BundleReport {
  /** Source files bundled in, relative to the repository root. */
  readonly inputs: readonly string[];
  /** npm packages imported (the package name of each bare specifier). */
  readonly packages: readonly string[];
  /** Relative imports left in the output (the built main entry). */
  readonly siblings: readonly string[];
}

/** The package a bare specifier names: `@scope/name` or `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Reads a bundle's inputs and external imports from its esbuild metafile. */
export function bundleReport(metafile: Metafile): BundleReport {
  const imports = Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
  return {
    inputs: Object.keys(metafile.inputs)
      .map((input) => relative(REPO_ROOT, resolve(REPO_ROOT, input)))
      .sort(),
    packages: [...new Set(imports.filter((path) => !path.startsWith('.') && !isBuiltin(path)).map(packageName))].sort(),
    siblings: [...new Set(imports.filter((path) => path.startsWith('.')))].sort(),
  };
}

/**
 * What is wrong with an entry's bundle, one line each (empty when nothing is): an npm import
 * that is not one of the entry's peers, a declared peer it no longer imports, a declared bundled
 * package it does not bundle, a relative import
 * other than the built main entry, or (for a subpath entry) a source file the main entry's
 * bundle already carries.
 */
export function bundleProblems(entry: PackageEntry, format: Format, report: BundleReport, main: BundleReport): string[] {
  const problems: string[] = [];
  for (const name of report.packages) {
    if (!entry.peers.includes(name)) problems.push(`${entry.name}.${format.extension} imports ${name}, which is not one of its peers (${entry.peers.join(', ') || 'none'}).`);
  }
  for (const peer of entry.peers) {
    if (!report.packages.includes(peer)) problems.push(`${entry.name}.${format.extension} no longer imports its peer ${peer}: drop it from the entry.`);
  }
  for (const name of entry.bundled ?? []) {
    if (!report.inputs.some((input) => input.includes(`node_modules/${name}/`))) problems.push(`${entry.name}.${format.extension} does not bundle ${name}, which it declares bundled.`);
  }
  const allowedSiblings = entry === MAIN_ENTRY ? [] : [`./${MAIN_ENTRY.name}.${format.extension}`];
  for (const sibling of report.siblings) {
    if (!allowedSiblings.includes(sibling)) problems.push(`${entry.name}.${format.extension} imports ${sibling}; only the main entry may be imported.`);
  }
  if (entry !== MAIN_ENTRY) {
    for (const input of report.inputs) {
      if (main.inputs.includes(input)) problems.push(`${entry.name}.${format.extension} carries ${input}, which the main entry already has: import it through ./index.`);
    }
  }
  return problems;
}
