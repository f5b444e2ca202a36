/**
 * cfn-lint (v1) over the synthesized KeyRoll template: schema, property values, ARNs,
 * intrinsic functions and best-practice warnings, checked the way CloudFormation would
 * see the template. Bundling is skipped; asset locations are placeholders either way.
 */
import { spawnSync } from 'node:child_process';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

const INSTALL_HINT = 'Install it with `pip install cfn-lint` (v1.x; `pipx install cfn-lint` works too) so that `cfn-lint` is on PATH.';

/**
 * Checks left out, each for a reason:
 * - W3005 (DependsOn already enforced by a Ref/GetAtt): CDK itself adds `DependsOn: [<role>,
 *   <role default policy>]` to every Lambda function and state machine alongside the GetAtt
 *   on the role. Redundant, harmless, and not ours to change.
 */
const IGNORED_CHECKS = ['W3005'];

function cfnLint(args: string[]) {
  return spawnSync('cfn-lint', args, { encoding: 'utf8', timeout: 120_000 });
}

let templatePaths: string[];

afterAll(removeTempDirs);

beforeAll(() => {
  const app = newTestApp();
  new KeyRollStack(app, 'Test', { env: TEST_ENV });
  templatePaths = app.synth().stacks.map((stack) => stack.templateFullPath);
});

test('cfn-lint is installed', () => {
  const version = cfnLint(['--version']);
  if (version.error) {
    const code = (version.error as NodeJS.ErrnoException).code;
    throw new Error(`cfn-lint could not be run (${code === 'ENOENT' ? 'not found on PATH' : version.error.message}). ${INSTALL_HINT}`);
  }
  expect(version.status).toBe(0);
  const match = /cfn-lint (\d+)\.(\d+)\.(\d+)/.exec(`${version.stdout}${version.stderr}`);
  if (!match) throw new Error(`Unexpected \`cfn-lint --version\` output: ${version.stdout}${version.stderr}. ${INSTALL_HINT}`);
  expect(Number(match[1])).toBeGreaterThanOrEqual(1);
});

test('the synthesized template passes cfn-lint with no errors, warnings or informational findings', () => {
  expect(templatePaths).toHaveLength(1);
  const result = cfnLint(['--regions', 'us-east-1', '--ignore-checks', ...IGNORED_CHECKS, '--', ...templatePaths]);
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    throw new Error(`cfn-lint could not be run (${code === 'ENOENT' ? 'not found on PATH' : result.error.message}). ${INSTALL_HINT}`);
  }
  const output = `${result.stdout}${result.stderr}`.trim();
  // On failure the whole cfn-lint output is in the assertion message.
  expect({ exitCode: result.status, output }).toEqual({ exitCode: 0, output: '' });
});
