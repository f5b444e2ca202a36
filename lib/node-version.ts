/**
 * KeyRoll's tools run on the Node that its Lambdas run (Node.js 24): `npm ci` installs that
 * Node in node_modules/.bin (the `node` devDependency), and npm scripts and npx put that
 * directory first on PATH. Run directly with an older system Node, an entry point stops here
 * with the fix instead of failing later in a dependency (aws-local-stepfunctions needs
 * Node ≥ 22, the AWS SDK's 2027 releases too).
 */

/** The oldest Node major the tests, synth, rehearsal and CLI run on: the Lambdas' runtime. */
export const SUPPORTED_NODE_MAJOR = 24;

/** The running Node is older than SUPPORTED_NODE_MAJOR. */
export class UnsupportedNodeVersion extends Error {
  override readonly name = 'UnsupportedNodeVersion';
  constructor(readonly version: string) {
    super(
      `KeyRoll runs on Node ${SUPPORTED_NODE_MAJOR} or later (the Lambdas' runtime); this is Node ${version}. ` +
        `Install Node ${SUPPORTED_NODE_MAJOR} or later; in a KeyRoll checkout, run it through npm (npm test, npm run synth, ` +
        `npm run rehearse, npm run keyroll) or npx, which use the Node ${SUPPORTED_NODE_MAJOR} that \`npm ci\` installs in node_modules/.bin.`,
    );
  }
}

/** Throws UnsupportedNodeVersion unless `version` (default: this process's) is at least SUPPORTED_NODE_MAJOR. */
export function assertSupportedNode(version: string = process.versions.node): void {
  const major = Number(version.split('.')[0]);
  if (!(major >= SUPPORTED_NODE_MAJOR)) throw new UnsupportedNodeVersion(version);
}
