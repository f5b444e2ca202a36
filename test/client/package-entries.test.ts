/**
 * The dependency promise of `@keyroll/client` (packages/client): the main entry imports no AWS
 * SDK client, `/secrets-manager` only `@aws-sdk/client-secrets-manager`, `/sqs` only
 * `@aws-sdk/client-sqs`, `/pickup` and `/webhook` nothing at all (pickup carries jose inside
 * it), and the subpath entries carry no copy of the main entry's code. Each
 * entry is bundled exactly as build.ts bundles it (in memory) and its metafile is read; then
 * package.json is checked against the same entry list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { bundleOptions, bundleProblems, bundleReport, ENTRIES, FORMATS, MAIN_ENTRY, PACKAGE_DIR, type BundleReport, type Format, type PackageEntry } from '../../packages/client/entries';

async function reportOf(entry: PackageEntry, format: Format): Promise<BundleReport> {
  const { metafile } = await build({ ...bundleOptions(entry, format), write: false, logLevel: 'silent' });
  return bundleReport(metafile);
}

/** What each entry may import from npm, stated here rather than read from entries.ts. */
const EXPECTED_PACKAGES: Record<string, string[]> = {
  index: [],
  'secrets-manager': ['@aws-sdk/client-secrets-manager'],
  sqs: ['@aws-sdk/client-sqs'],
  pickup: [],
  webhook: [],
};

/** npm packages each entry carries inside it, stated here rather than read from entries.ts. */
const EXPECTED_BUNDLED: Record<string, string[]> = { index: [], 'secrets-manager': [], sqs: [], pickup: ['jose'], webhook: [] };

/** The npm packages whose files a bundle carries. */
function carriedPackages(report: BundleReport): string[] {
  return [...new Set(report.inputs.filter((input) => input.includes('node_modules/')).map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)![1]))].sort();
}

describe.each(FORMATS)('@keyroll/client entries ($format)', (format) => {
  let main: BundleReport;
  beforeAll(async () => {
    main = await reportOf(MAIN_ENTRY, format);
  });

  it('the main entry imports no npm package at all, so no AWS SDK client', () => {
    expect(main.packages).toEqual([]);
    expect(main.siblings).toEqual([]);
    expect(main.inputs.every((input) => input.startsWith('client/') || input.startsWith('lambdas/core/'))).toBe(true);
  });

  it.each(ENTRIES.filter((entry) => entry !== MAIN_ENTRY))('$subpath imports only its own SDK client and the built main entry', async (entry) => {
    const report = await reportOf(entry, format);
    expect(report.packages).toEqual(EXPECTED_PACKAGES[entry.name]);
    expect(report.siblings).toEqual([`./index.${format.extension}`]);
    expect(carriedPackages(report)).toEqual(EXPECTED_BUNDLED[entry.name]);
    expect(bundleProblems(entry, format, report, main)).toEqual([]);
  });

  it('pickup and webhook, the entries for consumers outside AWS, import no AWS SDK client or any npm package', async () => {
    for (const name of ['pickup', 'webhook']) {
      const entry = ENTRIES.find((e) => e.name === name)!;
      const report = await reportOf(entry, format);
      expect({ name, packages: report.packages }).toEqual({ name, packages: [] });
      expect(report.inputs.filter((input) => input.includes('@aws-sdk') || input.includes('@smithy'))).toEqual([]);
    }
  });

  it('the checker flags an entry that declares a bundled package it does not bundle', async () => {
    const webhook = ENTRIES.find((e) => e.name === 'webhook')!;
    const claiming: PackageEntry = { ...webhook, bundled: ['jose'] };
    const report = await reportOf(claiming, format);
    expect(bundleProblems(claiming, format, report, main)).toContainEqual(expect.stringContaining('does not bundle jose'));
  });

  it('the checker itself flags an SDK import in the main entry and a subpath entry that bypasses ./index', async () => {
    const pollerAsMain: PackageEntry = { ...MAIN_ENTRY, source: 'client/poller.ts' };
    const asMain = await reportOf(pollerAsMain, format);
    expect(bundleProblems(MAIN_ENTRY, format, asMain, main)).toContainEqual(expect.stringContaining('imports @aws-sdk/client-sqs, which is not one of its peers (none)'));

    const bypassing: PackageEntry = { name: 'bypass', subpath: './bypass', source: 'client/authenticated-fetch.ts', peers: [] };
    const copied = await reportOf(bypassing, format);
    expect(bundleProblems(bypassing, format, copied, main)).toContainEqual(expect.stringContaining('carries client/errors.ts, which the main entry already has'));
  });
});

describe('packages/client/package.json', () => {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as {
    name: string;
    dependencies?: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
    exports: Record<string, unknown>;
  };

  it('exports exactly the entries, each with types, import and require', () => {
    expect(manifest.name).toBe('@keyroll/client');
    expect(Object.keys(manifest.exports).sort()).toEqual([...ENTRIES.map((entry) => entry.subpath), './package.json'].sort());
    for (const entry of ENTRIES) {
      expect(manifest.exports[entry.subpath]).toEqual({
        import: { types: `./dist/types/client/${entry.name}.d.mts`, default: `./dist/${entry.name}.mjs` },
        require: { types: `./dist/types/client/${entry.name}.d.cts`, default: `./dist/${entry.name}.cjs` },
      });
      expect(entry.source).toBe(`client/${entry.name}.ts`);
    }
  });

  it('has no dependencies; the SDK clients are optional peers, one per entry that needs it', () => {
    expect(manifest.dependencies).toBeUndefined();
    const peers = ENTRIES.flatMap((entry) => entry.peers).sort();
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(peers);
    for (const peer of peers) expect(manifest.peerDependenciesMeta[peer]).toEqual({ optional: true });
  });
});
