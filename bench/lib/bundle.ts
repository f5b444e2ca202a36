/**
 * Bundles the authorizer the way the stack does: with the options every KeyRoll function is
 * built with (LAMBDA_BUILD_OPTIONS in lib/lambda-bundle.ts, the authorizer included, see
 * lib/keyroll-auth.ts), so the size is the size of what would be deployed.
 */
import { isBuiltin } from 'node:module';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, version as esbuildVersion, type BuildOptions, type Metafile } from 'esbuild';
import { LAMBDA_BUILD_OPTIONS } from '../../lib/lambda-bundle';

export { LAMBDA_BUILD_OPTIONS };
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');
export const AUTHORIZER_ENTRY = path.join(PROJECT_ROOT, 'lambdas', 'handlers', 'authorizer.ts');
/**
 * The alternative measured beside the deployed bundle: the authorizer as it was before the lean
 * DynamoDB client, on the AWS SDK's document client (bench/entries/authorizer-sdk-path.ts),
 * bundled with the same options, so its @aws-sdk imports load from the runtime as they did.
 */
export const SDK_PATH_ENTRY = path.join(PROJECT_ROOT, 'bench', 'entries', 'authorizer-sdk-path.ts');

/** The bundle and what it is made of. */
export interface BundleResult {
  readonly code: Uint8Array;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Bytes in the output per source package (node_modules package or lambdas/<dir>), largest first. */
  readonly composition: readonly { readonly source: string; readonly bytes: number }[];
  /** Packages left to the runtime (Node's built-in modules aside), in the order the bundle first requires them. */
  readonly externals: readonly string[];
  /** Node's built-in modules the bundle requires (as `node:<name>`), in the order it first requires them. */
  readonly builtins: readonly string[];
  readonly esbuildVersion: string;
  readonly options: BuildOptions;
}

/** Groups an input path into a package name (or lambdas/<dir>) for the composition table. */
function sourceOf(input: string): string {
  const parts = input.split('/');
  const nm = parts.lastIndexOf('node_modules');
  if (nm >= 0) return parts.slice(nm + 1, parts[nm + 1]?.startsWith('@') ? nm + 3 : nm + 2).join('/');
  return parts.slice(0, 2).join('/');
}

function composition(meta: Metafile): BundleResult['composition'] {
  const bySource = new Map<string, number>();
  for (const output of Object.values(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const source = sourceOf(input);
      bySource.set(source, (bySource.get(source) ?? 0) + bytesInOutput);
    }
  }
  return [...bySource].map(([source, bytes]) => ({ source, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** The bundle's external imports: packages (`builtin` false) or Node's own modules (`builtin` true, whether written `node:crypto` or `crypto`). */
function externals(meta: Metafile, builtin: boolean): string[] {
  const seen = new Set<string>();
  for (const output of Object.values(meta.outputs)) {
    for (const imported of output.imports) {
      if (!imported.external || isBuiltin(imported.path) !== builtin) continue;
      seen.add(builtin && !imported.path.startsWith('node:') ? `node:${imported.path}` : imported.path);
    }
  }
  return [...seen];
}

/** Bundles the authorizer (or another `entry`) in memory, by default as the stack does. */
export async function bundleAuthorizer(options: BuildOptions = LAMBDA_BUILD_OPTIONS, entry: string = AUTHORIZER_ENTRY): Promise<BundleResult> {
  const result = await build({
    ...options,
    entryPoints: [entry],
    outfile: 'index.js',
    absWorkingDir: PROJECT_ROOT,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const file = result.outputFiles.find((f) => f.path.endsWith('index.js'));
  if (!file) throw new Error('esbuild produced no index.js.');
  return {
    code: file.contents,
    bytes: file.contents.byteLength,
    // The CDK CLI zips assets with deflate at zlib's default level (6), so gzip at that
    // level approximates the function's share of the deployment zip (headers aside).
    gzipBytes: gzipSync(file.contents, { level: 6 }).byteLength,
    composition: composition(result.metafile),
    externals: externals(result.metafile, false),
    builtins: externals(result.metafile, true),
    esbuildVersion,
    options,
  };
}

/**
 * The environment of a fresh `node` running a bundled handler against a loopback stand-in on
 * `port`, as Lambda would give it: fixed fake credentials, no shared config files (the Lambda
 * environment has none, and the SDK must not look for them), metrics and logs off. `extra`
 * adds the handler's own variables.
 */
export function standInLambdaEnvironment(port: number | string, dir: string, extra: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_PATH: path.join(PROJECT_ROOT, 'node_modules'),
    ...extra,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_SESSION_TOKEN: 'bench-token',
    AWS_CONFIG_FILE: path.join(dir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
}
