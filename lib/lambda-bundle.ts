/**
 * How a KeyRoll handler becomes Lambda code: esbuild, called through its API in the synth
 * process, bundles the handler into one minified CommonJS `index.js` without the AWS SDK.
 * The bench and the bundle-size test build with the same options ({@link LAMBDA_BUILD_OPTIONS}).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, DockerImage, type BundlingOptions, type ILocalBundling } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, type BuildOptions } from 'esbuild';

/** The repository root: the working directory of every build, so bundles do not depend on where the repo lives. */
export const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The esbuild options of every KeyRoll function (Node.js 24; arm64 does not change the JS output). */
export const LAMBDA_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: true,
  sourcemap: false,
  // The Node.js 24 runtime ships AWS SDK v3; bundling it again only grows the package.
  external: ['@aws-sdk/*'],
} as const satisfies BuildOptions;

/**
 * Bundles in this process. NodejsFunction ran `npx --no-install esbuild` once per function,
 * and starting npx (a Node process loading npm) cost more CPU than the twelve builds together.
 * The asset's JSON form (`entry`) keys CDK's process-wide asset cache, so it must name the handler.
 */
class InProcessEsbuild implements ILocalBundling {
  /** @param entry the handler, relative to {@link PROJECT_ROOT} */
  constructor(readonly entry: string) {}

  tryBundle(outputDir: string): boolean {
    // A failed build throws (esbuild prints the errors), and CDK reports the asset; never a fall-back to Docker.
    buildSync({
      ...LAMBDA_BUILD_OPTIONS,
      entryPoints: [this.entry],
      outfile: path.join(outputDir, 'index.js'),
      absWorkingDir: PROJECT_ROOT,
      logLevel: 'warning',
    });
    return true;
  }
}

/**
 * The code of a function whose handler is `index.handler`: `entry` bundled at synth, the asset
 * hashed on the bundle (so a change anywhere in its imports, and only there, makes a new asset).
 * Stacks excluded from bundling (`aws:cdk:bundling-stacks`) get CDK's placeholder, as before.
 * @param entry the handler file, relative to {@link PROJECT_ROOT}
 */
export function bundledHandlerCode(entry: string): lambda.Code {
  // Checked here because a stack that skips bundling would otherwise synthesize without noticing.
  if (!existsSync(path.join(PROJECT_ROOT, entry))) throw new Error(`No handler file ${entry} under ${PROJECT_ROOT}.`);
  const bundling: BundlingOptions = {
    // Never pulled: local bundling either succeeds or throws, so CDK never falls back to Docker.
    image: DockerImage.fromRegistry('unused-local-esbuild'),
    local: new InProcessEsbuild(entry),
  };
  return lambda.Code.fromAsset(PROJECT_ROOT, { assetHashType: AssetHashType.OUTPUT, bundling });
}
