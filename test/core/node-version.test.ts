/**
 * The tools refuse an older Node with the fix (lib/node-version.ts); the suite itself must be
 * running on the Node that `npm ci` installs, the Lambdas' runtime (Node.js 24).
 */
import { assertSupportedNode, SUPPORTED_NODE_MAJOR, UnsupportedNodeVersion } from '../../lib/node-version';

describe('assertSupportedNode', () => {
  it('runs this suite on the Lambdas\u2019 Node major or later', () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(SUPPORTED_NODE_MAJOR);
    expect(() => assertSupportedNode()).not.toThrow();
  });

  it.each(['20.20.2', '22.12.0', '23.11.1', 'garbage', ''])('refuses Node %p with a named error that says how to run', (version) => {
    expect(() => assertSupportedNode(version)).toThrow(UnsupportedNodeVersion);
    expect(() => assertSupportedNode(version)).toThrow(/npm ci/);
  });

  it.each(['24.0.0', '24.21.0', '26.1.0'])('accepts Node %p', (version) => {
    expect(() => assertSupportedNode(version)).not.toThrow();
  });
});
