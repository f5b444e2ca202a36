/**
 * KeyRoll as a user installs it (issue 18): every workspace package is built and packed, the
 * tarballs are installed into a fresh project outside the repository (their peers, such as
 * aws-cdk-lib, at the root lock's versions, everything else from the registry), and then:
 *   - a user's CDK app (test/package/user-app.js) embeds `KeyRoll` and attaches its authorizer
 *     to an existing RestApi method and HttpApi route, and synthesizes with plain node;
 *   - `npx keyroll` answers --help, and a JSON error without a stack;
 *   - @keyroll/client's every `exports` entry loads from CommonJS and from ESM alike;
 *   - esbuild is nowhere in the install, and each tarball is within its size ceiling.
 * Where the machine has a Node older than this one (a system /usr/bin/node) that a package's
 * `engines` admit, the synth and the client imports run on it too.
 * One build, one pack, one install, one validated synth: about 33 s of CPU (install 10, build 9,
 * synth 8 of which CloudFormation validation 5, the rest 6), 85-180 s of wall time alone on a
 * busy 2-core machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childEnv, findInstalled, installedClosure, lockedVersion, readJson, REPO_ROOT, run, runOk, workspacePackages, type Manifest, type Packed } from './consumer-project';
import { enginesAdmit, olderSystemNodes } from './node-versions';

/** Ceilings on the packed tarballs (bytes); a new package must state one here. */
const PACKED_CEILINGS: Readonly<Record<string, number>> = {
  // Twelve prebuilt Lambda bundles (≈ 50-75 KB each, minified) and the construct library: 264 KB packed at 0.1.0.
  '@keyroll/cdk': 350 * 1024,
  // One bundle of the operator code, its packages left to dependencies: 52 KB packed at 0.1.0.
  '@keyroll/cli': 80 * 1024,
  // Five entries in two formats, unminified, with types. 107 KiB packed with issue 19's entries: the
  // pickup entry bundles jose (44 KB of each format's output, ≈ 12 KB gzipped each) so that a
  // consumer outside AWS installs no dependency; the SNS verification and webhook add ≈ 6 KB.
  '@keyroll/client': 128 * 1024,
};

const SETUP_TIMEOUT_MS = 480_000;

interface Installed {
  readonly manifest: Manifest;
  readonly packed: Packed;
}

let work: string;
let project: string;
const installed = new Map<string, Installed>();

interface Synthesized {
  readonly outdir: string;
  readonly template: any;
  readonly assets: any;
}

/**
 * Synthesizes the user's app with `node` into `outdir`: the stack's template and the assembly's
 * asset manifest. `validate` false skips aws-cdk-lib's built-in CloudFormation validation, which
 * a user's synth runs by default and which costs 5 of the synth's 6 s of CPU.
 */
function synth(node: string, outdir: string, validate = true): Synthesized {
  runOk(node, ['user-app.js'], { cwd: project, env: childEnv({ CDK_OUTDIR: outdir, ...(validate ? {} : { CDK_VALIDATION: 'false' }) }) });
  return { outdir, template: readJson(path.join(outdir, 'Orders.template.json')), assets: readJson(path.join(outdir, 'Orders.assets.json')) };
}

let synthesized: Synthesized | undefined;
/** The synth on this test's Node, run once. */
function synthOnce(): Synthesized {
  synthesized ??= synth(process.execPath, path.join(work, 'cdk.out'));
  return synthesized;
}

function resourcesOfType(template: any, type: string): [string, any][] {
  return Object.entries(template.Resources as Record<string, any>).filter(([, resource]) => resource.Type === type);
}

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'keyroll-consumer-'));
  project = path.join(work, 'project');
  const tarballs = path.join(work, 'tarballs');
  fs.mkdirSync(project);
  fs.mkdirSync(tarballs);

  runOk('npm', ['run', 'build:packages'], { cwd: REPO_ROOT });
  // --ignore-scripts: the packages were just built; their prepack would build them again.
  const packed = JSON.parse(runOk('npm', ['pack', '--workspaces', '--json', '--ignore-scripts', '--pack-destination', tarballs], { cwd: REPO_ROOT })) as Packed[];
  for (const { dir, manifest } of workspacePackages()) {
    const pack = packed.find((p) => p.name === manifest.name);
    if (!pack) throw new Error(`npm pack did not pack ${manifest.name} (${dir}).`);
    installed.set(manifest.name, { manifest, packed: pack });
  }

  // The packages' peers, optional ones included (@keyroll/client's subpath entries load them), at the versions
  // the repository's lock installs, so the npm cache (filled by `npm ci`) answers for the largest downloads.
  const peers = [...new Set([...installed.values()].flatMap(({ manifest }) => Object.keys(manifest.peerDependencies ?? {})))].sort();
  const dependencies = Object.fromEntries([
    ...[...installed.values()].map(({ manifest, packed: pack }) => [manifest.name, `file:${path.join(tarballs, pack.filename)}`]),
    ...peers.map((peer) => [peer, lockedVersion(peer)]),
  ]);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'keyroll-consumer', version: '1.0.0', private: true, dependencies }, null, 2));
  fs.copyFileSync(path.join(__dirname, 'user-app.js'), path.join(project, 'user-app.js'));
  runOk('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: project });
}, SETUP_TIMEOUT_MS);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the packed packages, installed into a fresh project', () => {
  it('are the workspace packages, each within its size ceiling (table of sizes and dependencies printed)', () => {
    const names = [...installed.keys()].sort();
    expect(names).toEqual(expect.arrayContaining(['@keyroll/cdk', '@keyroll/cli', '@keyroll/client']));
    const rows = names.map((name) => {
      const { manifest, packed } = installed.get(name)!;
      return {
        package: name,
        'packed KiB': +(packed.size / 1024).toFixed(1),
        'unpacked KiB': +(packed.unpackedSize / 1024).toFixed(1),
        files: packed.entryCount,
        dependencies: Object.keys(manifest.dependencies ?? {}).length,
        peers: Object.keys(manifest.peerDependencies ?? {}).length,
        'installed with it': installedClosure(project, name),
        ceiling: PACKED_CEILINGS[name] === undefined ? 'none stated' : `${PACKED_CEILINGS[name] / 1024} KiB`,
      };
    });
    const columns = Object.keys(rows[0]);
    const cells = [columns, ...rows.map((row) => columns.map((column) => String(row[column as keyof typeof row])))];
    const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
    console.log(cells.map((line) => line.map((cell, i) => cell.padEnd(widths[i])).join('  ')).join('\n'));
    // Every package says which Node it runs on, in a form the older-Node runs below can read.
    for (const name of names) expect(() => enginesAdmit(installed.get(name)!.manifest.engines?.node, '0.0.0')).not.toThrow();
    // `files` ships the build and nothing else (no build script, no sources); npm adds the manifest and README.
    for (const name of names) {
      const stray = installed
        .get(name)!
        .packed.files.map((file) => file.path)
        .filter((file) => !/^(dist\/|package\.json$|README\.md$|LICEN[CS]E)/.test(file));
      expect({ name, stray }).toEqual({ name, stray: [] });
      // Each declares Apache-2.0 and ships the licence text (npm packs a package directory's LICENSE).
      expect({ name, license: installed.get(name)!.packed.files.some((file) => file.path === 'LICENSE') }).toEqual({ name, license: true });
    }
    const over = names.filter((name) => !(installed.get(name)!.packed.size <= (PACKED_CEILINGS[name] ?? -1)));
    expect(over).toEqual([]);
  });

  it('install no esbuild: the Lambda code ships prebuilt', () => {
    expect(findInstalled(path.join(project, 'node_modules'), (name) => name === 'esbuild' || name.startsWith('@esbuild/'))).toEqual([]);
  });
});

describe("a user's CDK app with KeyRoll attached to its existing APIs", () => {
  let template: any;
  let assets: any;
  let outdir: string;
  beforeAll(() => {
    ({ template, assets, outdir } = synthOnce());
  });

  it('attaches a REQUEST authorizer with API Gateway caching off to the RestApi method', () => {
    const authorizers = resourcesOfType(template, 'AWS::ApiGateway::Authorizer');
    expect(authorizers).toHaveLength(1);
    const [id, authorizer] = authorizers[0];
    expect(authorizer.Properties).toMatchObject({ Type: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    const methods = resourcesOfType(template, 'AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod === 'GET');
    expect(methods.map(([, m]) => m.Properties)).toEqual([expect.objectContaining({ AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: id } })]);
  });

  it('attaches a Lambda authorizer with API Gateway caching off to the HttpApi route', () => {
    const authorizers = resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    const [id, authorizer] = authorizers[0];
    expect(authorizer.Properties).toMatchObject({ AuthorizerType: 'REQUEST', AuthorizerResultTtlInSeconds: 0 });
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties)).toEqual([expect.objectContaining({ RouteKey: 'GET /orders', AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: id } })]);
  });

  it('points both authorizers at one function, the KeyRoll authorizer', () => {
    const functionIds = resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id);
    const invoked = (type: string) => resourcesOfType(template, type).map(([, authorizer]) => functionIds.filter((id) => JSON.stringify(authorizer.Properties.AuthorizerUri).includes(`"${id}"`)));
    const rest = invoked('AWS::ApiGateway::Authorizer');
    expect(rest).toEqual([[expect.stringMatching(/^KeyRollAuthAuthorizerFunction/)]]);
    expect(invoked('AWS::ApiGatewayV2::Authorizer')).toEqual(rest);
  });

  it('lets API Gateway invoke the authorizer only as those two authorizers (SourceArn names each)', () => {
    const [authorizerFunction] = resourcesOfType(template, 'AWS::Lambda::Function')
      .map(([id]) => id)
      .filter((id) => id.startsWith('KeyRollAuthAuthorizerFunction'));
    const grants = resourcesOfType(template, 'AWS::Lambda::Permission')
      .map(([, permission]) => permission.Properties)
      .filter((properties) => properties.Principal === 'apigateway.amazonaws.com' && JSON.stringify(properties.FunctionName).includes(`"${authorizerFunction}"`));
    const authorizerIds = [...resourcesOfType(template, 'AWS::ApiGateway::Authorizer'), ...resourcesOfType(template, 'AWS::ApiGatewayV2::Authorizer')].map(([id]) => id);
    // One grant per authorizer, each naming its API and `/authorizers/<that authorizer>`: never the whole API or account.
    expect(grants).toHaveLength(authorizerIds.length);
    for (const id of authorizerIds) {
      const named = grants.filter((grant) => JSON.stringify(grant.SourceArn).includes(`/authorizers/",{"Ref":"${id}"}`));
      expect({ id, grants: named.length }).toEqual({ id, grants: 1 });
    }
  });

  it('gives every Lambda function a code asset in the cloud assembly with its index.js', () => {
    const functions = resourcesOfType(template, 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(10);
    const files = assets.files as Record<string, { source: { path: string; packaging?: string } }>;
    for (const [id, fn] of functions) {
      const hash = String(fn.Properties.Code.S3Key).replace(/\.zip$/, '');
      const source = files[hash]?.source;
      expect({ id, packaging: source?.packaging }).toEqual({ id, packaging: 'zip' });
      const dir = path.join(outdir, source.path);
      expect({ id, handler: fn.Properties.Handler, hasIndexJs: fs.existsSync(path.join(dir, 'index.js')) }).toEqual({ id, handler: 'index.handler', hasIndexJs: true });
    }
  });
});

// --yes=false: were the bin not installed, npx must fail rather than fetch some other `keyroll` from the registry.
describe('npx keyroll', () => {
  it('prints its usage with --help and exits 0', () => {
    const result = run('npx', ['--yes=false', 'keyroll', '--help'], { cwd: project });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: keyroll /);
  });

  it('answers --json with a JSON error on stdout when there is no stack to find', () => {
    const home = path.join(work, 'home');
    fs.mkdirSync(home, { recursive: true });
    // No AWS configuration at all: the CLI must say so in JSON, not hang on a network call.
    const env = childEnv({ AWS_CONFIG_FILE: path.join(home, 'none'), AWS_SHARED_CREDENTIALS_FILE: path.join(home, 'none'), AWS_EC2_METADATA_DISABLED: 'true' });
    const result = run('npx', ['--yes=false', 'keyroll', '--json', 'clients', 'list'], { cwd: project, env, timeoutMs: 60_000 });
    expect(result.status).not.toBe(0);
    const output = JSON.parse(result.stdout) as { error?: { name?: unknown; message?: unknown } };
    expect(output.error).toEqual(expect.objectContaining({ name: expect.any(String), message: expect.any(String) }));
  });
});

/**
 * Loads each subpath of @keyroll/client's `exports` with require and with import in one node
 * process in the consumer, and prints the export names each gives (CommonJS' interop names aside).
 */
const CLIENT_IMPORTS = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const interop = new Set(['default', '__esModule', 'module.exports']);
const names = (module) => Object.keys(module).filter((name) => !interop.has(name)).sort();
const result = {};
for (const subpath of JSON.parse(process.argv[2])) {
  const specifier = subpath === '.' ? '@keyroll/client' : '@keyroll/client/' + subpath.slice(2);
  result[subpath] = { require: names(require(specifier)), import: names(await import(specifier)) };
}
process.stdout.write(JSON.stringify(result));
`;

/** The JavaScript subpaths of a package's `exports` (not ./package.json, not patterns). */
function exportedSubpaths(exports: unknown): string[] {
  if (typeof exports === 'string' || !exports || typeof exports !== 'object') return ['.'];
  const keys = Object.keys(exports);
  if (!keys.every((key) => key.startsWith('.'))) return ['.'];
  return keys.filter((key) => key !== './package.json' && !key.includes('*'));
}

function clientImports(node: string): Record<string, { require: string[]; import: string[] }> {
  const script = path.join(project, 'client-imports.mjs');
  fs.writeFileSync(script, CLIENT_IMPORTS);
  const subpaths = exportedSubpaths((readJson(path.join(project, 'node_modules', '@keyroll', 'client', 'package.json')) as Manifest).exports);
  return JSON.parse(runOk(node, [script, JSON.stringify(subpaths)], { cwd: project })) as Record<string, { require: string[]; import: string[] }>;
}

function expectSameExports(loaded: Record<string, { require: string[]; import: string[] }>): void {
  expect(Object.keys(loaded)).toContain('.');
  for (const [subpath, names] of Object.entries(loaded)) {
    expect({ subpath, count: names.import.length > 0 }).toEqual({ subpath, count: true });
    expect({ subpath, names: names.require }).toEqual({ subpath, names: names.import });
  }
}

const hasClient = workspacePackages().some(({ manifest }) => manifest.name === '@keyroll/client');

(hasClient ? describe : describe.skip)('@keyroll/client', () => {
  it('loads every exports entry from CommonJS and from ESM, with the same export names', () => {
    expectSameExports(clientImports(process.execPath));
  });
});

const engines = (name: string) => workspacePackages().find(({ manifest }) => manifest.name === name)?.manifest.engines?.node;
// The oldest Node here that @keyroll/cdk's engines admit (a Node 18 on PATH must not hide a Node 20).
const olderNode = olderSystemNodes().find((node) => engines('@keyroll/cdk') !== undefined && enginesAdmit(engines('@keyroll/cdk'), node.version));
const runsOnOlder = (name: string) => olderNode !== undefined && engines(name) !== undefined && enginesAdmit(engines(name), olderNode.version);
if (!olderNode) console.warn('consumer test: no system Node older than this one admitted by @keyroll/cdk engines; the engines claims are not checked on an older Node in this run.');

(olderNode ? describe : describe.skip)(`on the system's older Node (${olderNode ? `${olderNode.path} ${olderNode.version}` : 'none here'})`, () => {
  (runsOnOlder('@keyroll/cdk') ? it : it.skip)('synthesizes the same template, as @keyroll/cdk engines say it does', () => {
    // Validated once already, on this Node: the same template is what this run proves.
    const older = synth(olderNode!.path, path.join(work, 'cdk.out.older'), false);
    expect(older.template).toEqual(synthOnce().template);
  });

  (hasClient && runsOnOlder('@keyroll/client') ? it : it.skip)('loads every @keyroll/client entry the same way, as its engines say it does', () => {
    expectSameExports(clientImports(olderNode!.path));
  });
});
