/**
 * KeyRoll's moto patches (local/moto-patches/sitecustomize.py) are written for moto 5.2.1 and
 * fail loudly when moto is of another version or shape: the interpreter exits with status 78 and a
 * line naming the patch, moto_server does not start, and the launcher (local/moto.ts) refuses
 * with MotoPatchError carrying that line, instead of running moto unpatched.
 *
 * A changed moto is made from the installed one: a stub `moto` package first on PYTHONPATH runs the
 * real moto's __init__ over the real directory, then reports another version or changes one function.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { MOTO_PATCH_EXIT_STATUS, MOTO_PATCHES_DIR, MOTO_REQUIREMENT, MOTO_VERSION, MotoPatchError, resolveMotoCommand, startMoto, withMotoPatches } from '../../local/moto';

jest.setTimeout(60_000);

const baseEnv: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: '' };
delete baseEnv.MOTO_SERVER;
delete baseEnv.KEYROLL_EXTERNAL_ENDPOINT;
delete baseEnv.KEYROLL_MOTO_SKIP;

/** The installed moto's directory, read without the patches. */
const realMoto = (() => {
  const found = spawnSync('python3', ['-c', 'import moto, os; print(os.path.dirname(moto.__file__))'], { env: baseEnv, encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`python3 cannot import moto: ${found.stderr}`);
  return found.stdout.trim();
})();

let tmp: string;
beforeEach(() => (tmp = mkdtempSync(path.join(tmpdir(), 'keyroll-moto-shape-'))));
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

/** A directory holding a `moto` package that is the installed one, seen as `version`, after `change` (Python) ran. */
function changedMoto(version: string, change = ''): string {
  const dir = path.join(tmp, 'stub');
  mkdirSync(path.join(dir, 'moto'), { recursive: true });
  writeFileSync(
    path.join(dir, 'moto', '__init__.py'),
    [
      `__path__ = [${JSON.stringify(realMoto)}]`,
      `__file__ = ${JSON.stringify(path.join(realMoto, '__init__.py'))}`,
      'with open(__file__) as _f:',
      "    exec(compile(_f.read(), __file__, 'exec'))",
      `__version__ = ${JSON.stringify(version)}`,
      change,
      '',
    ].join('\n'),
  );
  return dir;
}

/** Runs Python with the patches loaded (as the launcher does), `extra` after them on PYTHONPATH. */
function pythonWithPatches(code: string, extra?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('python3', ['-c', code], { env: withMotoPatches({ ...baseEnv, PYTHONPATH: extra ?? '' }), encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('the moto pin', () => {
  it('is one exact version, the one the patches check for', () => {
    expect(MOTO_REQUIREMENT).toBe(`moto[server]==${MOTO_VERSION}`);
    const patches = readFileSync(path.join(MOTO_PATCHES_DIR, 'sitecustomize.py'), 'utf8');
    expect(patches).toContain(`MOTO_VERSION = "${MOTO_VERSION}"`);
    expect(patches).toContain(`SHAPE_EXIT_STATUS = ${MOTO_PATCH_EXIT_STATUS}`);
  });

  it('the installed moto has the shape the patches expect: they apply', () => {
    const run = pythonWithPatches('import moto.dynamodb.responses as r, moto.secretsmanager.models as m; print(r.TRANSACTION_MAX_ITEMS, type(m.FakeSecret.default_version_id).__name__)');
    expect(run).toMatchObject({ status: 0, stdout: '100 property\n' });
    const sns = pythonWithPatches("import moto.sns.models as m, moto.sns.urls as u; print(m.Subscription.publish.__qualname__, len([p for p in u.url_paths if 'sns_' in p]))");
    expect(sns).toMatchObject({ status: 0, stdout: '_sns_sqs_queue_account.<locals>.apply.<locals>.publish 3\n' });
  });
});

describe('a moto of another shape fails loudly', () => {
  it('another version: the interpreter exits 78 naming both versions and the fix', () => {
    const run = pythonWithPatches('import moto.server', changedMoto('5.3.0'));
    expect(run.status).toBe(MOTO_PATCH_EXIT_STATUS);
    expect(run.stderr).toContain('KeyRoll moto patches: version: moto 5.3.0 is installed');
    expect(run.stderr).toContain(`written for moto ${MOTO_VERSION} exactly`);
    expect(run.stderr).toContain(`pip install '${MOTO_REQUIREMENT}'`);
  });

  it.each([
    [
      'a parameter renamed',
      'import moto.secretsmanager.models as m\n' + 'def changed(self, secret_id, version_stage, remove_from, move_to): pass\n' + 'm.SecretsManagerBackend.update_secret_version_stage = changed',
      'secrets-label-cas: moto.secretsmanager.models:SecretsManagerBackend.update_secret_version_stage takes (self, secret_id, version_stage, remove_from, move_to)',
    ],
    ['a method gone', 'import moto.secretsmanager.models as m\ndel m.FakeSecret.reset_default_version', 'secrets-current-label: moto.secretsmanager.models:FakeSecret.reset_default_version is missing'],
    [
      'an SNS function that no longer confirms at once',
      'import moto.sns.models as m\n' + 'm.SNSBackend.subscribe = lambda self, topic_arn, endpoint, protocol: None',
      'sns-subscription-confirmation: moto.sns.models:SNSBackend.subscribe no longer contains `"PendingConfirmation": False`',
    ],
    ['a constant changed', 'import moto.dynamodb.responses as r\nr.TRANSACTION_MAX_ITEMS = 100', 'transact-get-100-actions: moto.dynamodb.responses:TRANSACTION_MAX_ITEMS is 100, the patch expects 25'],
    [
      'a function that no longer does what the patch speeds up',
      'import moto.dynamodb.models.table as t\nt.Table.query = lambda self, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward, ' +
        'projection_expressions, index_name=None, consistent_read=False, filter_expression=None, hash_key_conditions=None, range_key_conditions=None, **filter_kwargs: None',
      'query-prefilter: moto.dynamodb.models.table:Table.query no longer contains `self.all_items()`',
    ],
  ])('%s: the interpreter exits 78 naming the patch and what differs, and patches nothing', (_, change, line) => {
    const run = pythonWithPatches(
      'import moto.dynamodb.responses as r; print(r.TRANSACTION_MAX_ITEMS)', // not reached: the patches exit first
      changedMoto(MOTO_VERSION, change),
    );
    expect(run.status).toBe(MOTO_PATCH_EXIT_STATUS);
    expect(run.stderr).toContain(`KeyRoll moto patches: ${line}`);
    expect(run.stdout).toBe('');
  });
});

describe('the launcher refuses a moto the patches refuse', () => {
  const noVenv = async () => {
    throw new Error('no network in this test');
  };

  it('on PATH: MotoPatchError naming the candidate, the version and the fix, after the pinned install failed', async () => {
    const env = { ...baseEnv, PYTHONPATH: changedMoto('5.3.0') };
    const error = (await resolveMotoCommand({ env, projectRoot: tmp, createVenv: noVenv, log: () => undefined }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(MotoPatchError);
    expect(error.name).toBe('MotoPatchError');
    expect(error.message).toContain(`KeyRoll needs moto ${MOTO_VERSION} exactly`);
    expect(error.message).toMatch(/moto_server on PATH \(.*\): KeyRoll moto patches: version: moto 5\.3\.0 is installed/);
    expect(error.message).toContain(`pip install '${MOTO_REQUIREMENT}' failed: no network in this test`);
  });

  it('named by MOTO_SERVER: MotoPatchError at once', async () => {
    const env = { ...baseEnv, PYTHONPATH: changedMoto('5.3.0'), MOTO_SERVER: 'moto_server' };
    const createVenv = jest.fn(noVenv);
    const error = (await resolveMotoCommand({ env, projectRoot: tmp, createVenv, log: () => undefined }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(MotoPatchError);
    expect(error.message).toContain('MOTO_SERVER=moto_server refused');
    expect(error.message).toContain('moto 5.3.0 is installed');
    expect(createVenv).not.toHaveBeenCalled();
  });

  it('when moto_server itself exits on the patches, startMoto reports their line as MotoPatchError', async () => {
    // The probes pass (faked), so only the server start meets the changed moto.
    const env = { ...baseEnv, PYTHONPATH: changedMoto(MOTO_VERSION, 'import moto.backends as b\ndel b.list_of_moto_modules') };
    const error = (await startMoto({ env, resolve: { probe: async () => ({ ok: true, detail: '' }) } }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(MotoPatchError);
    expect(error.message).toContain("refused to start with KeyRoll's patches");
    expect(error.message).toContain('KeyRoll moto patches: module-list-once: moto.backends:list_of_moto_modules is missing');
  });
});
