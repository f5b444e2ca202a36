/**
 * Builds `@keyroll/client` into dist/: per entry (entries.ts) an ES module (.mjs) and a CommonJS
 * module (.cjs) bundled by esbuild with every npm package external, and declarations from tsc
 * written twice, as .d.mts and .d.cts, so each format has types of its own module kind.
 * The licences of the npm packages bundled into an entry (jose, in `pickup`) go to
 * dist/THIRD-PARTY-NOTICES.txt. Fails, writing nothing further, when a bundle breaks the
 * entries' import rules.
 *
 * Run from this directory: `npm run build` (tsx build.ts).
 */
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';
import type { Metafile } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { thirdPartyNotices } from '../build-support';
import { bundleOptions, bundleProblems, bundleReport, ENTRIES, FORMATS, MAIN_ENTRY, PACKAGE_DIR, REPO_ROOT, type BundleReport } from './entries';

const DIST = resolve(PACKAGE_DIR, 'dist');
const TYPES = resolve(DIST, 'types');

/** Bundles every entry in both formats; throws with every rule a bundle breaks. Returns the metafiles. */
async function bundle(): Promise<Metafile[]> {
  const problems: string[] = [];
  const metafiles: Metafile[] = [];
  for (const format of FORMATS) {
    let main: BundleReport | undefined;
    for (const entry of ENTRIES) {
      const { metafile } = await build(bundleOptions(entry, format));
      metafiles.push(metafile);
      const report = bundleReport(metafile);
      main ??= entry === MAIN_ENTRY ? report : undefined;
      if (!main) throw new Error(`The main entry must be built first; ${entry.name} came before it.`);
      problems.push(...bundleProblems(entry, format, report, main));
    }
  }
  if (problems.length > 0) throw new Error(`The bundles break the entry rules (packages/client/entries.ts):\n${problems.join('\n')}`);
  return metafiles;
}

/**
 * A declaration file's relative imports with the extension its module kind needs: `./errors`
 * becomes `./errors.mjs` in a .d.mts (resolving to errors.d.mts) and `./errors.cjs` in a .d.cts.
 */
function withExtension(text: string, extension: 'mjs' | 'cjs'): string {
  return text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\2/g, (_match, lead: string, quote: string, path: string) => `${lead}${quote}${path}.${extension}${quote}`);
}

/** Emits the entries' declarations (and those of what they import) under dist/types. */
function declarations(): void {
  const configPath = resolve(REPO_ROOT, 'tsconfig.json');
  const read: { config?: unknown; error?: ts.Diagnostic } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO_ROOT);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    rootDir: REPO_ROOT,
    outDir: TYPES,
    // The tree's tsconfig adds jest's globals for the tests; the client's declarations may use Node's only.
    types: ['node'],
  };
  const program = ts.createProgram(
    ENTRIES.map((entry) => resolve(REPO_ROOT, entry.source)),
    options,
  );
  const written: string[] = [];
  const result = program.emit(
    undefined,
    (fileName, text) => {
      if (!fileName.endsWith('.d.ts')) throw new Error(`tsc wanted to write ${fileName}; only declarations are expected.`);
      const base = fileName.slice(0, -'.d.ts'.length);
      mkdirSync(dirname(fileName), { recursive: true });
      writeFileSync(`${base}.d.mts`, withExtension(text, 'mjs'));
      writeFileSync(`${base}.d.cts`, withExtension(text, 'cjs'));
      written.push(fileName);
    },
    undefined,
    true,
  );
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0 || result.emitSkipped) {
    const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => REPO_ROOT, getNewLine: () => '\n' };
    throw new Error(`Declarations failed:\n${ts.formatDiagnostics(diagnostics, host)}`);
  }
  if (written.length === 0) throw new Error('tsc wrote no declarations.');
}

async function main(): Promise<void> {
  rmSync(DIST, { recursive: true, force: true });
  const metafiles = await bundle();
  writeFileSync(resolve(DIST, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices(metafiles));
  declarations();
  process.stdout.write(`@keyroll/client: built ${ENTRIES.length} entries (esm, cjs, types) into ${DIST}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
