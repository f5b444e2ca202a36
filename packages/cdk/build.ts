/**
 * Builds @keyroll/cdk into packages/cdk/dist/ (`npm run build` here, or `npm run build:packages`):
 *   - lambda/<handler>/index.js: each Lambda handler bundled as a checkout's synth bundles it
 *     (LAMBDA_BUILD_OPTIONS), which the constructs use instead of bundling (lib/prebuilt-handler-code.ts);
 *   - index.js: lib/index.ts as one CommonJS file for Node (aws-cdk-lib is CommonJS), with
 *     aws-cdk-lib and constructs left to the user's app (peer dependencies) and the rest bundled;
 *   - types/: tsc's declarations of lib/index.ts and of the files they import;
 *   - THIRD-PARTY-NOTICES.txt: the licences of the packages bundled into the above.
 * It refuses to finish if the entry would load esbuild or any package but the peers.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { build, type Metafile, type Plugin } from 'esbuild';
import * as ts from 'typescript';
import { LAMBDA_BUILD_OPTIONS } from '../../lib/lambda-bundle';
import { prebuiltHandlerDir } from '../../lib/prebuilt-handler-code';
import { bundledInputs, importedPackages, packageNameOf, PROJECT_ROOT, readManifest, refuseIf, thirdPartyNotices } from '../build-support';

const PACKAGE_DIR = __dirname;
const DIST = path.join(PACKAGE_DIR, 'dist');
const TYPES = path.join(DIST, 'types');
const HANDLERS_DIR = path.join(PROJECT_ROOT, 'lambdas', 'handlers');
/** Node 20 is the oldest aws-cdk-lib supports and the consumer test synthesizes on (package.json engines). */
const TARGET = 'node20';

/** The handler files: the entry modules that export `handler` (helpers such as entry.ts do not). */
function handlerFiles(): string[] {
  return readdirSync(HANDLERS_DIR)
    .filter((file) => file.endsWith('.ts'))
    .filter((file) => /^export (async function|function|const) handler\b/m.test(readFileSync(path.join(HANDLERS_DIR, file), 'utf8')))
    .sort();
}

/** Each handler into dist/lambda/<handler>/index.js, with the options of a checkout's synth. */
async function buildHandlers(): Promise<Metafile[]> {
  return Promise.all(
    handlerFiles().map(async (file) => {
      const result = await build({
        ...LAMBDA_BUILD_OPTIONS,
        entryPoints: [path.join('lambdas', 'handlers', file)],
        outfile: path.join(prebuiltHandlerDir(DIST, file), 'index.js'),
        absWorkingDir: PROJECT_ROOT,
        metafile: true,
        logLevel: 'warning',
      });
      return result.metafile;
    }),
  );
}

/** lib/lambda-bundle.ts (esbuild, bundling from source) becomes prebuilt-only.ts, which never loads esbuild. */
const prebuiltOnly: Plugin = {
  name: 'keyroll-prebuilt-only',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\/lambda-bundle$/ }, () => ({ path: path.join(PACKAGE_DIR, 'prebuilt-only.ts') }));
  },
};

/** lib/index.ts into dist/index.js. */
async function buildEntry(peers: readonly string[]): Promise<Metafile> {
  const result = await build({
    entryPoints: [path.join('lib', 'index.ts')],
    outfile: path.join(DIST, 'index.js'),
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: TARGET,
    external: peers.flatMap((peer) => [peer, `${peer}/*`]),
    plugins: [prebuiltOnly],
    metafile: true,
    logLevel: 'warning',
  });
  const problems = [
    ...importedPackages(result.metafile)
      .filter((name) => !peers.includes(name))
      .map((name) => `dist/index.js requires ${name}, which is not a peer dependency`),
    ...bundledInputs(result.metafile)
      .filter((input) => /(^|\/)(esbuild|@esbuild|@aws-lambda-powertools)\//.test(input) || /^(lib\/lambda-bundle|local\/|bin\/)/.test(input))
      .map((input) => `dist/index.js bundles ${input}, which a consumer's synth must not load`),
  ];
  refuseIf(problems, 'The construct library would load what it must not');
  return result.metafile;
}

/**
 * Declarations of lib/index.ts and of every file its declarations import, into dist/types/,
 * importing no package but the peers. Each file is declared on its own (tsc's
 * transpileDeclaration, isolatedDeclarations' rules: an export whose type tsc would have to
 * infer across files must state it), which takes well under a second where a type-checking
 * emit over aws-cdk-lib's types took ten seconds of CPU.
 */
function buildDeclarations(peers: readonly string[]): string {
  const declarations = new Map<string, string>();
  const problems: string[] = [];
  const declare = (source: string): void => {
    const target = path.join(TYPES, path.relative(PROJECT_ROOT, source)).replace(/\.ts$/, '.d.ts');
    if (declarations.has(target)) return;
    const relative = path.relative(PROJECT_ROOT, source);
    const result = ts.transpileDeclaration(readFileSync(source, 'utf8'), { fileName: source, reportDiagnostics: true, compilerOptions: { strict: true, declaration: true } });
    for (const d of result.diagnostics ?? []) {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      problems.push(`${relative}:${line}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
    }
    declarations.set(target, result.outputText);
    for (const { fileName: name } of ts.preProcessFile(result.outputText, true, true).importedFiles) {
      if (name.startsWith('.')) {
        const base = path.resolve(path.dirname(source), name.replace(/\.js$/, ''));
        const imported = [`${base}.ts`, path.join(base, 'index.ts')].find((file) => existsSync(file));
        if (imported) declare(imported);
        else problems.push(`${relative} declares an import of ${name}, which is not a .ts file`);
      } else if (!isBuiltin(name) && !peers.includes(packageNameOf(name))) {
        problems.push(`${relative} declares an import of ${name}, which is not a peer dependency`);
      }
    }
  };
  declare(path.join(PROJECT_ROOT, 'lib', 'index.ts'));
  refuseIf(problems, 'The declarations would not resolve for a consumer');
  for (const [file, text] of declarations) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return path.relative(PACKAGE_DIR, path.join(TYPES, 'lib', 'index.d.ts'));
}

async function main(): Promise<void> {
  const manifest = readManifest(PACKAGE_DIR);
  const peers = Object.keys(manifest.peerDependencies ?? {});
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  const [handlers, entry] = await Promise.all([buildHandlers(), buildEntry(peers)]);
  const types = buildDeclarations(peers);
  writeFileSync(path.join(DIST, 'THIRD-PARTY-NOTICES.txt'), thirdPartyNotices([...handlers, entry]));
  process.stdout.write(`${manifest.name}: ${handlers.length} prebuilt handlers, dist/index.js, ${types}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exit(1);
});
