/**
 * The authorizer's bundle, built as the stack builds it (bench/lib/bundle.ts mirrors
 * lib/keyroll-function.ts): no AWS SDK package in it or required from the runtime (the lean
 * DynamoDB client replaced the SDK to meet the 50 ms module-init goal; one stray import of
 * KeyRepository or the SDK clients would bring ≈ 80 ms back), within the 150 KiB goal, and
 * loadable by a bare `node` with nothing to resolve packages from.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleAuthorizer } from '../../bench/lib/bundle';

describe('the authorizer bundle', () => {
  let bundle: Awaited<ReturnType<typeof bundleAuthorizer>>;
  beforeAll(async () => {
    bundle = await bundleAuthorizer();
  });

  it('contains and requires no AWS SDK package, and stays within 150 KiB', () => {
    expect(bundle.externals).toEqual([]);
    expect(bundle.composition.map((part) => part.source).filter((source) => /^@(aws-sdk|smithy)\//.test(source))).toEqual([]);
    expect(bundle.bytes).toBeLessThanOrEqual(150 * 1024);
  });

  it('loads in a bare node process (no NODE_PATH, no node_modules) and exports the handler', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'keyroll-authorizer-'));
    try {
      writeFileSync(path.join(dir, 'index.js'), bundle.code);
      const child = spawnSync(process.execPath, ['-e', "if (typeof require('./index.js').handler !== 'function') process.exit(3)"], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', TABLE_NAME: 'keyroll', KEY_PREFIX: 'kr', AWS_REGION: 'us-east-1', AWS_URL_SUFFIX: 'amazonaws.com' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(child.stderr).toBe('');
      expect(child.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
