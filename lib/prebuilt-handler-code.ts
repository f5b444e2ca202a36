/**
 * Lambda code the @keyroll/cdk package ships prebuilt (packages/cdk/build.ts bundles each
 * handler with LAMBDA_BUILD_OPTIONS into `dist/lambda/<handler>/index.js`, next to the
 * package's bundled entry), so that a consumer's synth needs neither esbuild nor this
 * repository's sources. A checkout has no such directory and bundles from source instead.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The directory, beside the package's entry, that holds one directory per handler. */
export const PREBUILT_LAMBDA_DIR = 'lambda';

/** Where the prebuilt bundle of `handlerFile` (e.g. `authorizer.ts`) lives under `root`. */
export function prebuiltHandlerDir(root: string, handlerFile: string): string {
  return path.join(root, PREBUILT_LAMBDA_DIR, path.basename(handlerFile, '.ts'));
}

/**
 * The prebuilt code of `handlerFile` (handler `index.handler`) when this module runs from the
 * package, else undefined. `__dirname` is the package's `dist/` there and `lib/` in a checkout.
 */
export function prebuiltHandlerCode(handlerFile: string): lambda.Code | undefined {
  const dir = prebuiltHandlerDir(__dirname, handlerFile);
  return existsSync(path.join(dir, 'index.js')) ? lambda.Code.fromAsset(dir) : undefined;
}
