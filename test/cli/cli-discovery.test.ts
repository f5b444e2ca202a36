/**
 * How the CLI finds the deployment (an outputs file, $KEYROLL_OUTPUTS_FILE, or CloudFormation
 * DescribeStacks in moto), the environment errors (exit 3), and bin/keyroll.ts as a process:
 * --help, and the exit codes a shell sees.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { run } from '../../operator/cli/program';
import { REQUIRED_OUTPUTS } from '../../operator/cli/stack-discovery';
import { createKeyRollTable, uniqueName } from '../support/fixtures';
import { outputsFileWith } from './cli-harness';

const ROOT = path.resolve(__dirname, '..', '..');
let outputs: Record<string, string>;

beforeAll(async () => {
  const tableName = await createKeyRollTable();
  const group = uniqueName('keyroll-group');
  await new SchedulerClient({}).send(new CreateScheduleGroupCommand({ Name: group }));
  const { stateMachineArn } = await new SFNClient({}).send(
    new CreateStateMachineCommand({ name: uniqueName('KeyRollRotation'), definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }), roleArn: 'arn:aws:iam::123456789012:role/r' }),
  );
  outputs = {
    StateMachineArn: stateMachineArn!,
    TableName: tableName,
    KeyArn: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
    SecretNamePrefix: `keyroll-discovery/${randomUUID().slice(0, 8)}/`,
    KeyPrefix: 'kr',
    MinOverlapSeconds: '60',
    MaxOverlapSeconds: '2592000',
    ScheduleGroupName: group,
    SchedulerRoleArn: 'arn:aws:iam::123456789012:role/scheduler',
    ScheduleDeadLetterQueueArn: 'arn:aws:sqs:us-east-1:123456789012:dlq',
    ScheduledStartFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:start',
  };
});

async function cli(env: NodeJS.ProcessEnv, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: { ...process.env, KEYROLL_ACTOR: 'discovery-test', KEYROLL_OUTPUTS_FILE: '', KEYROLL_STACK: '', ...env } });
  return { code, stdout, stderr };
}

describe('stack discovery', () => {
  it('without a local runner (the packaged CLI), rotate --local is refused before anything is read or started', async () => {
    const file = outputsFileWith(JSON.stringify({ KeyRoll: outputs }));
    const refused = await cli({ AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:1' }, '--json', '--outputs-file', file, 'rotate', 'some-client', '--reason', 'demo', '--local');
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { name: 'EnvironmentError' } });
    expect(refused.stderr).toContain('needs a KeyRoll checkout');
  });

  it('reads the outputs file cdk deploy --outputs-file writes (flag or KEYROLL_OUTPUTS_FILE)', async () => {
    const file = outputsFileWith(JSON.stringify({ KeyRoll: outputs }));
    const id = uniqueName('disc');
    const added = await cli({}, '--outputs-file', file, 'clients', 'add', id, '--scopes', 'a', '--interval-days', '7', '--max-overlap', '1d', '--timezone', 'UTC', '--window', '02:00-03:00');
    expect(added.code).toBe(0);
    const listed = await cli({ KEYROLL_OUTPUTS_FILE: file }, '--json', 'clients', 'list');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).clients.map((c: { clientId: string }) => c.clientId)).toContain(id);
  });

  it('picks the stack by --stack when the file has several, and says which are there', async () => {
    const file = outputsFileWith(JSON.stringify({ Other: { Foo: 'bar' }, Prod: outputs }));
    const ambiguous = await cli({}, '--outputs-file', file, 'clients', 'list');
    expect(ambiguous).toMatchObject({ code: 3, stdout: '' });
    expect(ambiguous.stderr).toContain('has 2 stacks (Other, Prod); name one with --stack');
    expect((await cli({}, '--outputs-file', file, '--stack', 'Prod', 'clients', 'list')).code).toBe(0);
    const missing = await cli({}, '--outputs-file', file, '--stack', 'Staging', 'clients', 'list');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("has no stack 'Staging' (it has: Other, Prod)");
    const other = await cli({}, '--outputs-file', file, '--stack', 'Other', 'clients', 'list');
    expect(other.code).toBe(3);
    expect(other.stderr).toContain(`lack ${REQUIRED_OUTPUTS.join(', ')}`);
  });

  it('exit 3 for an unreadable, malformed or unusable outputs file', async () => {
    const cases: [string, RegExp][] = [
      [path.join(ROOT, '.cache', 'no-such-outputs.json'), /Cannot read the outputs file .*ENOENT/],
      [outputsFileWith('{not json'), /is not JSON; expected what `cdk deploy --outputs-file` writes/],
      [outputsFileWith('[]'), /must be a JSON object/],
      [outputsFileWith(JSON.stringify({ KeyRoll: { ...outputs, MaxOverlapSeconds: 'thirty days' } })), /not usable: Stack output MaxOverlapSeconds must be a whole number of seconds, at least 1/],
      [outputsFileWith(JSON.stringify({ KeyRoll: { ...outputs, StateMachineArn: 'not-an-arn' } })), /not usable: RotationExecutions needs the rotation state machine ARN/],
    ];
    for (const [file, message] of cases) {
      const result = await cli({}, '--outputs-file', file, 'status', 'someone');
      expect({ file, code: result.code }).toEqual({ file, code: 3 });
      expect(result.stderr).toMatch(message);
    }
    const json = await cli({}, '--json', '--outputs-file', cases[0][0], 'status', 'someone');
    expect(JSON.parse(json.stdout)).toEqual({ error: { name: 'EnvironmentError', message: expect.stringContaining('Cannot read the outputs file'), exitCode: 3 } });
  });

  it('reads the outputs of a CloudFormation stack (DescribeStacks), and exit 3 when there is none', async () => {
    const stackName = uniqueName('KeyRollCli');
    await new CloudFormationClient({}).send(
      new CreateStackCommand({
        StackName: stackName,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
        }),
      }),
    );
    const id = uniqueName('cfn');
    expect((await cli({}, '--stack', stackName, 'clients', 'add', id, '--scopes', 'a', '--interval-days', '7', '--max-overlap', '1d', '--timezone', 'UTC', '--window', '02:00-03:00')).code).toBe(0);
    const status = await cli({ KEYROLL_STACK: stackName }, '--json', 'status', id);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).client.clientId).toBe(id);

    const missing = await cli({}, '--stack', 'NoSuchKeyRoll', 'status', id);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("Stack 'NoSuchKeyRoll' not found in this account/region. Deploy it (npx cdk deploy), pass --stack <name> or --region, or use --outputs-file");
    // The default stack name is KeyRoll.
    const byDefault = await cli({}, 'status', id);
    expect(byDefault.code).toBe(3);
    expect(byDefault.stderr).toContain("Stack 'KeyRoll' not found");
  });

  it('exit 3 when the endpoint does not answer', async () => {
    const file = outputsFileWith(JSON.stringify({ KeyRoll: outputs }));
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
    try {
      const result = await cli({}, '--outputs-file', file, 'status', 'someone');
      expect(result.code).toBe(3);
      expect(result.stderr).toContain('Cannot reach the AWS endpoint (ECONNREFUSED)');
    } finally {
      process.env.AWS_ENDPOINT_URL = saved;
    }
  });
});

describe('bin/keyroll.ts as a process', () => {
  function spawnCli(argv: string[], env: NodeJS.ProcessEnv = process.env, input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'bin', 'keyroll.ts'), ...argv], { cwd: ROOT, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      if (input !== undefined) child.stdin!.end(input);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('--help, usage errors, environment errors and no credentials give the documented exit codes', async () => {
    const file = outputsFileWith(JSON.stringify({ KeyRoll: outputs }));
    const noCredentials: NodeJS.ProcessEnv = { ...process.env, KEYROLL_OUTPUTS_FILE: file, KEYROLL_ACTOR: 'x', AWS_EC2_METADATA_DISABLED: 'true' };
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ])
      delete noCredentials[name];
    const [help, rotateHelp, usage, environment, credentials, piped] = await Promise.all([
      spawnCli(['--help']),
      spawnCli(['rotate', '--help']),
      spawnCli(['rotate', 'acme']),
      spawnCli(['--outputs-file', '/nonexistent/outputs.json', 'status', 'acme']),
      spawnCli(['status', 'acme'], noCredentials),
      spawnCli(['--outputs-file', file, 'identify'], process.env, 'kr_not-a-real-key\n'),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: keyroll \[options\] \[command\][\s\S]*clients[\s\S]*rotate[\s\S]*status[\s\S]*audit[\s\S]*revoke[\s\S]*rollback[\s\S]*Exit codes:/);
    expect(rotateHelp.code).toBe(0);
    expect(rotateHelp.stdout).toMatch(/--local\s+EMULATOR DEMOS ONLY/);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toContain("error: required option '--reason <text>' not specified");
    expect(environment.code).toBe(3);
    expect(environment.stderr).toContain('Cannot read the outputs file /nonexistent/outputs.json');
    expect(credentials.code).toBe(3);
    expect(credentials.stderr).toContain('No AWS credentials found.');
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('Standard input is not a KeyRoll key of this deployment');
    expect(piped.stderr).not.toContain('not-a-real-key');
  }, 60_000);
});
