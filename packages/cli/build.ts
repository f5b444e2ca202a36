/**
 * Builds @keyroll/cli into packages/cli/dist/keyroll.js (`npm run build` here, or
 * `npm run build:packages`): operator/keyroll.ts and the repository code it imports as one
 * CommonJS file with its shebang, every package left to `dependencies`. It refuses to finish
 * unless the packages the bundle requires are exactly the manifest's dependencies, at the
 * root package.json's ranges, and unless the bundle leaves out the CDK, esbuild and the
 * checkout-only code (local/, bin/: the emulator and `rotate --local`).
 */
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { bundledInputs, importedPackages, PROJECT_ROOT, readManifest, refuseIf, rootRanges } from '../build-support';

const PACKAGE_DIR = __dirname;
const OUTFILE = path.join(PACKAGE_DIR, 'dist', 'keyroll.js');
/** What an operator's machine must never load through the CLI. */
const FORBIDDEN_PACKAGES = ['aws-cdk-lib', 'constructs', 'esbuild'];
const FORBIDDEN_INPUTS = /^(local|bin|test|bench)\//;

async function main(): Promise<void> {
  const manifest = readManifest(PACKAGE_DIR);
  const declared = Object.keys(manifest.dependencies ?? {}).sort();
  rmSync(path.dirname(OUTFILE), { recursive: true, force: true });
  const result = await build({
    entryPoints: [path.join('operator', 'keyroll.ts')],
    outfile: OUTFILE,
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // The CLI stops on an older Node (lib/node-version.ts), so it is built for the one it runs on.
    target: 'node24',
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
  });
  const imported = importedPackages(result.metafile);
  const ranges = rootRanges(declared);
  refuseIf(
    [
      ...imported.filter((name) => FORBIDDEN_PACKAGES.includes(name)).map((name) => `the bundle requires ${name}, which the CLI must never load`),
      ...imported.filter((name) => !declared.includes(name)).map((name) => `the bundle requires ${name}, which package.json does not declare`),
      ...declared.filter((name) => !imported.includes(name)).map((name) => `package.json declares ${name}, which the bundle does not require`),
      ...declared.filter((name) => manifest.dependencies![name] !== ranges[name]).map((name) => `package.json wants ${name}@${manifest.dependencies![name]}, the root package.json ${ranges[name] ?? 'nothing'}`),
      ...bundledInputs(result.metafile)
        .filter((input) => FORBIDDEN_INPUTS.test(input))
        .map((input) => `the bundle contains ${input}, which only a checkout has`),
    ],
    'The CLI bundle and its manifest disagree',
  );
  if (!readFileSync(OUTFILE, 'utf8').startsWith('#!/usr/bin/env node\n')) refuseIf(['dist/keyroll.js does not start with its shebang'], 'The CLI would not run as a bin');
  chmodSync(OUTFILE, 0o755);
  process.stdout.write(`${manifest.name}: dist/keyroll.js requires ${imported.length} packages, all declared\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exit(1);
});
