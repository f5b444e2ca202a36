/**
 * What lib/lambda-bundle.ts becomes inside @keyroll/cdk (packages/cdk/build.ts swaps it in):
 * the package ships every handler prebuilt (lib/prebuilt-handler-code.ts), so it never bundles
 * from source and never loads esbuild. Reaching this means the package lost a prebuilt handler.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';

/** The package has no prebuilt bundle for a handler its constructs use. */
export class PrebuiltHandlerMissing extends Error {
  override readonly name = 'PrebuiltHandlerMissing';
}

/** Stands in for lib/lambda-bundle.ts's function of the same name; always throws. */
export function bundledHandlerCode(entry: string): lambda.Code {
  throw new PrebuiltHandlerMissing(`@keyroll/cdk has no prebuilt Lambda code for ${entry} (expected dist/lambda/<handler>/index.js); reinstall the package or report the bug.`);
}
