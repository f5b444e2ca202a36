/**
 * lib/lambda-bundle.ts: each handler is bundled in the synth process into an asset of its own
 * (CDK keeps a process-wide cache of staged assets, keyed on the asset's options, so two
 * handlers must never share one), and a handler file that does not exist fails at construction.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { bundledHandlerCode, LAMBDA_BUILD_OPTIONS } from '../../lib/lambda-bundle';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

afterAll(removeTempDirs);

const HANDLERS = ['lambdas/handlers/example-whoami.ts', 'lambdas/handlers/scheduled-start.ts'];

describe('bundled handler code', () => {
  it('gives each handler its own bundle, one minified index.js, hashed on its content', () => {
    // Bundling on for every stack (the shared test app turns it off).
    const app = newTestApp({ context: { 'aws:cdk:bundling-stacks': ['**'] } });
    const stack = new Stack(app, 'Bundles', { env: TEST_ENV });
    HANDLERS.forEach((entry, i) => {
      new lambda.Function(stack, `Fn${i}`, { runtime: lambda.Runtime.NODEJS_24_X, handler: 'index.handler', code: bundledHandlerCode(entry) });
    });
    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const assets = Object.entries(manifest.files).map(([hash, { source }]) => ({ hash, path: source.path }));

    expect(assets.map((asset) => asset.path).filter((p) => p.startsWith('asset.'))).toHaveLength(HANDLERS.length);
    const bundles = assets.filter((asset) => asset.path.startsWith('asset.'));
    expect(new Set(bundles.map((asset) => asset.hash)).size).toBe(HANDLERS.length);
    const sources = bundles.map((asset) => {
      const dir = path.join(assembly.directory, asset.path);
      expect(fs.readdirSync(dir)).toEqual(['index.js']);
      return fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
    });
    expect(sources[0]).not.toEqual(sources[1]);
    // CommonJS, minified (an unminified bundle marks each module with a `// <path>` comment).
    for (const source of sources) {
      expect(source).toMatch(/module\.exports/);
      expect(source).not.toMatch(/\/\/ lambdas\/handlers\//);
    }
    expect(LAMBDA_BUILD_OPTIONS.external).toEqual(['@aws-sdk/*']);
  });

  it('fails at construction on a handler file that does not exist, even with bundling skipped', () => {
    expect(() => bundledHandlerCode('lambdas/handlers/no-such-handler.ts')).toThrow(/No handler file lambdas\/handlers\/no-such-handler\.ts/);
  });
});
