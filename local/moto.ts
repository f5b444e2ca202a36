/**
 * Starts and stops a moto server (https://docs.getmoto.org/en/latest/docs/server_mode.html)
 * for the tests (test/support/global-setup.ts) and the local rehearsal.
 *
 * Resolution of the moto executable (first that works wins):
 *   (a) env MOTO_SERVER (a path, or a command name looked up on PATH). If it is set but
 *       unusable we fail straight away instead of silently falling back (and possibly
 *       pip-installing), because the user asked for that exact executable.
 *   (b) `moto_server` on PATH (probed with `--help`, so a stale pyenv shim doesn't count)
 *   (c) `python3 -m moto.server` if `python3 -c "import moto.server"` works
 *   (d) project-local venv `.venv/moto/bin/moto_server`
 *   (e) create that venv and `pip install 'moto[server]==5.2.1'` into it
 *
 * moto is pinned exactly: local/moto-patches/sitecustomize.py patches moto 5.2.1 and makes the
 * interpreter exit (status 78, a `KeyRoll moto patches:` line) when moto is of another version or
 * shape. Every probe runs with the patches loaded, so a candidate of another version is refused
 * (MotoPatchError, with the fix) rather than run unpatched.
 *
 * With KEYROLL_EXTERNAL_ENDPOINT=1 and AWS_ENDPOINT_URL set, nothing is started: the
 * harness uses that endpoint (LocalStack or an already-running moto).
 *
 * The endpoint handed out is a proxy that passes one request at a time to moto
 * (./serializing-proxy.ts): moto's conditional writes are not atomic under concurrent
 * requests, AWS's are, and nothing else makes them so. KEYROLL_MOTO_CONCURRENT=1 hands out
 * moto itself (to show the race).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { createLocalCa, LOCAL_CA_ENV, type LocalCa } from './local-ca';
import { startSerializingProxy } from './serializing-proxy';

/** The moto version local/moto-patches/sitecustomize.py is written for (its MOTO_VERSION). */
export const MOTO_VERSION = '5.2.1';
export const MOTO_REQUIREMENT = `moto[server]==${MOTO_VERSION}`;
export const PROJECT_ROOT = path.resolve(__dirname, '..');
export const VENV_RELATIVE_DIR = path.join('.venv', 'moto');

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;
const PROBE_TIMEOUT_MS = 30_000;
const MAX_PORT_ATTEMPTS = 3;
const KEEP_LOG_FILES = 10;
const EXIT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface MotoHandle {
  /** Where SDK clients go: the serialising proxy in front of moto (or moto itself, or the external endpoint). */
  endpoint: string;
  stop(): Promise<void>;
  /** Informational extras. */
  readonly external: boolean;
  readonly source?: string;
  readonly pid?: number;
  readonly logFile?: string;
  readonly startupMs?: number;
  /** moto's own address, behind the proxy. */
  readonly motoEndpoint?: string;
  /** The CA moto trusts for https webhooks (not for an external endpoint). */
  readonly localCa?: LocalCa;
}

export interface MotoCommand {
  command: string;
  /** Arguments placed before `-H <host> -p <port>`. */
  args: string[];
  /** Which resolution step produced it, for messages. */
  source: string;
}

export interface ProbeResult {
  ok: boolean;
  /** Exit code / signal / spawn error plus trimmed output, for error messages. */
  detail: string;
  /** Everything the command wrote (stdout and stderr), when it ran. */
  output?: string;
}

/** Everything the resolver touches outside itself, injectable for tests. */
export interface ResolveDeps {
  env: NodeJS.ProcessEnv;
  projectRoot: string;
  /** Run a command to completion; never throws. */
  probe(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProbeResult>;
  /** Absolute path of an executable `name` on `pathVar`, or undefined. */
  findOnPath(name: string, pathVar: string | undefined): string | undefined;
  isExecutable(file: string): boolean;
  /** Create `venvDir` with `python` and pip-install moto into it. Throws on failure. */
  createVenv(python: string, venvDir: string, deps: Pick<ResolveDeps, 'env' | 'log'>): Promise<void>;
  log(message: string): void;
}

export class MotoUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MotoUnavailableError';
  }
}

/** The moto found is not the version (or shape) KeyRoll's patches are written for: refused rather than run unpatched. */
export class MotoPatchError extends MotoUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'MotoPatchError';
  }
}

/** Directory of the Python patches applied to moto at start (sitecustomize.py, see its docstring). */
export const MOTO_PATCHES_DIR = path.join(PROJECT_ROOT, 'local', 'moto-patches');
/** Exit status and stderr prefix of an interpreter whose moto the patches refused (sitecustomize.py SHAPE_EXIT_STATUS, MARKER). */
export const MOTO_PATCH_EXIT_STATUS = 78;
const MOTO_PATCH_MARKER = 'KeyRoll moto patches:';

/** `env` with the patches first on PYTHONPATH: how every moto of ours runs, probes included. */
export function withMotoPatches(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, PYTHONPATH: [MOTO_PATCHES_DIR, env.PYTHONPATH].filter(Boolean).join(path.delimiter) };
}

/** The patches' refusal line(s) in a moto's output, if it has any. */
export function motoPatchRefusal(output: string): string | undefined {
  const lines = output.split('\n').filter((line) => line.startsWith(MOTO_PATCH_MARKER));
  return lines.length > 0 ? lines.join('\n') : undefined;
}

// ---------------------------------------------------------------------------
// default dependencies

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  if (!pathVar) return undefined;
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function tail(text: string, maxChars = 1500): string {
  const t = text.trim();
  return t.length > maxChars ? `...${t.slice(-maxChars)}` : t;
}

function probe(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let output = '';
    let settled = false;
    const done = (result: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    let child: ChildProcess;
    try {
      child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ ok: false, detail: `could not spawn ${command}: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ ok: false, detail: `${command} ${args.join(' ')} timed out after ${PROBE_TIMEOUT_MS} ms` });
    }, PROBE_TIMEOUT_MS);
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', (err) => done({ ok: false, detail: `could not run ${command}: ${err.message}` }));
    child.on('close', (code, signal) => {
      if (code === 0) done({ ok: true, detail: '', output });
      else
        done({
          ok: false,
          detail: `\`${[command, ...args].join(' ')}\` exited with ${signal ?? `code ${code}`}${output.trim() ? `: ${tail(output, 600)}` : ''}`,
          output,
        });
    });
  });
}

const shellQuote = (argv: string[]): string => argv.map((a) => (/[\s'"<>[\]]/.test(a) ? `'${a}'` : a)).join(' ');

function runVisible(command: string, args: string[], env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<void> {
  const shown = shellQuote([command, ...args]);
  log(`$ ${shown}`);
  return new Promise((resolve, reject) => {
    // Child output goes to our stderr so the user sees pip's progress without mixing it
    // into jest's stdout reporter stream.
    const child = spawn(command, args, { env, stdio: ['ignore', 2, 2] });
    child.on('error', (err) => reject(new Error(`could not run ${command}: ${err.message}`)));
    child.on('close', (code, signal) => (code === 0 ? resolve() : reject(new Error(`\`${shown}\` exited with ${signal ?? `code ${code}`} (its output is above)`))));
  });
}

async function createVenv(python: string, venvDir: string, deps: Pick<ResolveDeps, 'env' | 'log'>): Promise<void> {
  deps.log(`moto not found; creating a project-local venv at ${venvDir} and installing ${MOTO_REQUIREMENT} (one-off, needs network)`);
  await runVisible(python, ['-m', 'venv', venvDir], deps.env, deps.log);
  await runVisible(path.join(venvDir, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', MOTO_REQUIREMENT], deps.env, deps.log);
}

export const defaultResolveDeps: ResolveDeps = {
  env: process.env,
  projectRoot: PROJECT_ROOT,
  probe,
  findOnPath,
  isExecutable,
  createVenv,
  log: (message) => process.stderr.write(`[moto] ${message}\n`),
};

// ---------------------------------------------------------------------------
// resolution

function remedy(projectRoot: string): string {
  return [
    'To run the AWS-backed tests, do one of:',
    `  - install moto's server: \`python3 -m pip install '${MOTO_REQUIREMENT}'\` (so \`moto_server\` is on PATH or \`python3 -m moto.server\` works),`,
    `    or let the harness do it by making \`python3 -m venv\` + pip work (it installs into ${path.join(projectRoot, VENV_RELATIVE_DIR)});`,
    `  - set MOTO_SERVER to the full path of a working \`moto_server\` of moto ${MOTO_VERSION};`,
    '  - point at LocalStack or an already-running moto: AWS_ENDPOINT_URL=http://127.0.0.1:<port> KEYROLL_EXTERNAL_ENDPOINT=1.',
  ].join('\n');
}

/**
 * Work out how to launch moto. Never starts the server itself; may create the venv (step e).
 * Throws MotoUnavailableError listing what was tried and how to fix it.
 */
export async function resolveMotoCommand(overrides: Partial<ResolveDeps> = {}): Promise<MotoCommand> {
  const deps: ResolveDeps = { ...defaultResolveDeps, ...overrides };
  const { env, projectRoot } = deps;
  const patchedEnv = withMotoPatches(env);
  const failures: string[] = [];
  /** Candidates the patches refused (another moto version or shape): the run must not fall back to running them unpatched. */
  const refused: string[] = [];
  const failed = (what: string, r: ProbeResult) => {
    const refusal = motoPatchRefusal(r.output ?? r.detail);
    if (refusal) refused.push(`${what}: ${refusal}`);
    failures.push(`${what}: ${refusal ?? r.detail}`);
  };

  // (a) explicit MOTO_SERVER
  const explicit = env.MOTO_SERVER?.trim();
  if (explicit) {
    const file = explicit.includes(path.sep) ? path.resolve(explicit) : deps.findOnPath(explicit, env.PATH);
    let problem: string;
    if (!file) problem = `MOTO_SERVER=${explicit}: not found on PATH`;
    else if (!deps.isExecutable(file)) problem = `MOTO_SERVER=${explicit}: ${file} does not exist or is not an executable file`;
    else {
      const r = await deps.probe(file, ['--help'], patchedEnv);
      if (r.ok) return { command: file, args: [], source: `MOTO_SERVER (${file})` };
      const refusal = motoPatchRefusal(r.output ?? r.detail);
      if (refusal) throw new MotoPatchError(`Cannot start moto: MOTO_SERVER=${explicit} refused.\n${refusal}\nFix or unset MOTO_SERVER.\n${remedy(projectRoot)}`);
      problem = `MOTO_SERVER=${explicit}: ${r.detail}`;
    }
    throw new MotoUnavailableError(`Cannot start moto: ${problem}\nFix or unset MOTO_SERVER.\n${remedy(projectRoot)}`);
  }

  // (b) moto_server on PATH
  const onPath = deps.findOnPath('moto_server', env.PATH);
  if (onPath) {
    const r = await deps.probe(onPath, ['--help'], patchedEnv);
    if (r.ok) return { command: onPath, args: [], source: `PATH (${onPath})` };
    failed(`moto_server on PATH (${onPath})`, r);
  } else {
    failures.push('moto_server: not found on PATH');
  }

  // (c) python3 -m moto.server
  const python = deps.findOnPath('python3', env.PATH);
  if (python) {
    const r = await deps.probe(python, ['-c', 'import moto.server'], patchedEnv);
    if (r.ok) return { command: python, args: ['-m', 'moto.server'], source: `${python} -m moto.server` };
    failed(`python3 -m moto.server (${python})`, r);
  } else {
    failures.push('python3: not found on PATH');
  }

  // (d) project-local venv
  const venvDir = path.join(projectRoot, VENV_RELATIVE_DIR);
  const venvMoto = path.join(venvDir, 'bin', 'moto_server');
  if (deps.isExecutable(venvMoto)) {
    const r = await deps.probe(venvMoto, ['--help'], patchedEnv);
    if (r.ok) return { command: venvMoto, args: [], source: `venv (${venvMoto})` };
    failed(venvMoto, r);
  } else {
    failures.push(`${venvMoto}: not present`);
  }

  // (e) create the venv (pip installs the pinned version, over a venv of another one)
  if (python) {
    try {
      await deps.createVenv(python, venvDir, deps);
      if (!deps.isExecutable(venvMoto)) throw new Error(`${venvMoto} still missing after pip install`);
      const r = await deps.probe(venvMoto, ['--help'], patchedEnv);
      if (!r.ok) throw new Error(motoPatchRefusal(r.output ?? r.detail) ?? r.detail);
      deps.log(`installed moto into ${venvDir}`);
      return { command: venvMoto, args: [], source: `venv, freshly created (${venvMoto})` };
    } catch (err) {
      failures.push(`creating ${venvDir} with pip install '${MOTO_REQUIREMENT}' failed: ${(err as Error).message}`);
    }
  } else {
    failures.push(`creating ${venvDir}: skipped, no python3 on PATH`);
  }

  const tried = `Tried:\n${failures.map((f) => `  - ${f}`).join('\n')}\n${remedy(projectRoot)}`;
  if (refused.length > 0) {
    throw new MotoPatchError(`Cannot start moto: KeyRoll needs moto ${MOTO_VERSION} exactly (its patches are written for it) and refused:\n${refused.map((r) => `  - ${r}`).join('\n')}\n${tried}`);
  }
  throw new MotoUnavailableError(`Cannot start moto: no usable moto server found.\n${tried}`);
}

// ---------------------------------------------------------------------------
// server lifecycle

export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error(`unexpected address ${String(addr)}`));
        return;
      }
      srv.close((err) => (err ? reject(err) : resolve(addr.port)));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `url` answers any HTTP response; rejects on timeout or when `isDead()` reports a reason. */
export async function waitForHttp(url: string, timeoutMs: number, isDead: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: string;
  for (;;) {
    const dead = isDead();
    if (dead) throw new Error(dead);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer().catch(() => undefined);
      const deadAfter = isDead();
      if (deadAfter) throw new Error(deadAfter);
      return;
    } catch (err) {
      lastError = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms (last error: ${lastError})`);
    await sleep(100);
  }
}

function readTail(file: string): string {
  try {
    return tail(readFileSync(file, 'utf8'));
  } catch {
    return '(no log)';
  }
}

function pruneOldLogs(dir: string): void {
  try {
    const logs = readdirSync(dir)
      .filter((f) => /^moto-\d+\.log$/.test(f))
      .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of logs.slice(KEEP_LOG_FILES)) unlinkSync(path.join(dir, f));
  } catch {
    // housekeeping only
  }
}

/** Keeps the last KEEP_LOG_FILES CAs of earlier runs (each start makes one). */
function pruneOldCas(dir: string): void {
  try {
    const cas = readdirSync(dir)
      .filter((f) => f.startsWith('local-ca-'))
      .map((f) => ({ f, t: statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of cas.slice(KEEP_LOG_FILES)) rmSync(path.join(dir, f), { recursive: true, force: true });
  } catch {
    // housekeeping only
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function externalEndpoint(endpoint: string): Promise<MotoHandle> {
  try {
    await waitForHttp(endpoint, READY_TIMEOUT_MS);
  } catch (err) {
    throw new MotoUnavailableError(`KEYROLL_EXTERNAL_ENDPOINT=1 but AWS_ENDPOINT_URL=${endpoint} is not answering: ${(err as Error).message}`);
  }
  return { endpoint, external: true, source: 'external (AWS_ENDPOINT_URL)', stop: () => Promise.resolve() };
}

/** What startMoto reads from outside, injectable for tests. */
export interface StartMotoOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Overrides for the resolution of the moto executable. */
  resolve?: Partial<ResolveDeps>;
}

/** Starts moto with KeyRoll's patches behind the serialising proxy (or returns the external endpoint); MotoPatchError if the patches refuse it. */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoHandle> {
  const env = options.env ?? process.env;
  if (env.KEYROLL_EXTERNAL_ENDPOINT === '1') {
    if (!env.AWS_ENDPOINT_URL) {
      throw new MotoUnavailableError('KEYROLL_EXTERNAL_ENDPOINT=1 is set but AWS_ENDPOINT_URL is not; set it to your LocalStack/moto URL.');
    }
    return externalEndpoint(env.AWS_ENDPOINT_URL.replace(/\/+$/, ''));
  }

  const cmd = await resolveMotoCommand({ env, ...options.resolve });
  const logDir = path.join(PROJECT_ROOT, '.cache');
  mkdirSync(logDir, { recursive: true });
  pruneOldLogs(logDir);
  pruneOldCas(logDir);
  const localCa = createLocalCa(logDir);
  process.env[LOCAL_CA_ENV] = localCa.dir;

  let lastFailure = '';
  for (let attempt = 1; attempt <= MAX_PORT_ATTEMPTS; attempt++) {
    const port = await findFreePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const logFile = path.join(logDir, `moto-${port}.log`);
    const logFd = openSync(logFile, 'a');
    const t0 = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, [...cmd.args, '-H', '127.0.0.1', '-p', String(port)], {
        cwd: PROJECT_ROOT,
        // With the patches (local/moto-patches/sitecustomize.py): moto as strict as AWS, or not started at all.
        // REQUESTS_CA_BUNDLE: the only CA moto's `requests` trusts is the run's own (https webhooks).
        env: { ...withMotoPatches(env), PYTHONUNBUFFERED: '1', REQUESTS_CA_BUNDLE: localCa.certFile },
        // Same process group as jest, so a Ctrl-C in the terminal also reaches moto.
        stdio: ['ignore', logFd, logFd],
      });
    } finally {
      closeSync(logFd);
    }
    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    // Don't let a forgotten handle keep jest alive; the exit hook below cleans up instead.
    child.unref();
    // If jest dies without running globalTeardown (process.exit, or a signal sent to the jest
    // process alone, e.g. `kill <pid>` or a CI timeout), take moto down with it.
    const killOnExit = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const onSignal = (signal: NodeJS.Signals) => {
      killOnExit();
      removeHooks();
      // Only re-raise if nobody else handles it, so we don't change jest's own signal handling.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    const removeHooks = () => {
      process.off('exit', killOnExit);
      for (const sig of EXIT_SIGNALS) process.off(sig, onSignal);
    };
    process.once('exit', killOnExit);
    for (const sig of EXIT_SIGNALS) process.once(sig, onSignal);

    const isDead = () => {
      if (spawnError) return `could not start ${cmd.command}: ${spawnError.message}`;
      if (child.exitCode !== null || child.signalCode !== null) return `moto exited early (${child.signalCode ?? `code ${child.exitCode}`})`;
      return undefined;
    };

    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        if (!(await waitForExit(child, 0))) {
          child.kill('SIGTERM');
          if (!(await waitForExit(child, STOP_GRACE_MS))) {
            child.kill('SIGKILL');
            await waitForExit(child, STOP_GRACE_MS);
          }
        }
        removeHooks();
      })());

    try {
      await waitForHttp(`${endpoint}/moto-api/`, READY_TIMEOUT_MS, isDead);
    } catch (err) {
      await stop();
      const log = readTail(logFile);
      lastFailure = `${(err as Error).message}\n--- ${logFile} ---\n${log}`;
      if (/address already in use/i.test(log) && attempt < MAX_PORT_ATTEMPTS) continue;
      const refusal = motoPatchRefusal(log);
      if (refusal) throw new MotoPatchError(`moto (${cmd.source}) refused to start with KeyRoll's patches:\n${refusal}\n--- ${logFile} ---\n${log}\n\n${remedy(PROJECT_ROOT)}`);
      throw new MotoUnavailableError(`moto (${cmd.source}) did not come up on ${endpoint}: ${lastFailure}\n\n${remedy(PROJECT_ROOT)}`);
    }
    const base = { stop, external: false, source: cmd.source, pid: child.pid, logFile, startupMs: Date.now() - t0, motoEndpoint: endpoint, localCa };
    if (env.KEYROLL_MOTO_CONCURRENT === '1') return { ...base, endpoint };
    let proxy;
    try {
      proxy = await startSerializingProxy(endpoint);
    } catch (err) {
      await stop();
      throw err;
    }
    let stoppedBoth: Promise<void> | undefined;
    const stopBoth = (): Promise<void> =>
      (stoppedBoth ??= (async () => {
        await proxy.close();
        await stop();
      })());
    return { ...base, endpoint: proxy.endpoint, stop: stopBoth };
  }
  throw new MotoUnavailableError(`moto did not come up: ${lastFailure}`);
}

/**
 * Points every SDK client of this process at the emulator, and makes sure nothing can route
 * a call to real AWS or elsewhere: per-service endpoint variables beat AWS_ENDPOINT_URL,
 * AWS_PROFILE disables environment credentials, and the shared config/credentials files may
 * carry endpoint_url, region or keys.
 */
export function pointSdkAtEmulator(endpoint: string): void {
  const env = process.env;
  for (const key of Object.keys(env)) {
    if (key.startsWith('AWS_ENDPOINT_URL_')) delete env[key];
  }
  delete env.AWS_PROFILE;
  delete env.AWS_DEFAULT_PROFILE;
  delete env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS;
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_SECURITY_TOKEN;
  env.AWS_CONFIG_FILE = '/nonexistent/keyroll-emulator/aws-config';
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/keyroll-emulator/aws-credentials';
  env.AWS_ENDPOINT_URL = endpoint;
  env.AWS_REGION = 'us-east-1';
  env.AWS_DEFAULT_REGION = 'us-east-1';
  env.AWS_ACCESS_KEY_ID = 'testing';
  env.AWS_SECRET_ACCESS_KEY = 'testing';
  env.AWS_EC2_METADATA_DISABLED = 'true';
}
