/**
 * `npm run keyroll:local-env`: a local stand-in for a deployed KeyRoll stack, so a person can
 * rehearse the incident playbook (docs/runbook.md) with the real `keyroll` commands.
 *
 * Starts moto (or, with KEYROLL_EXTERNAL_ENDPOINT=1, uses AWS_ENDPOINT_URL), provisions what
 * the stack outputs describe — the table (its schema from the synthesized template), the
 * client and ops topics, a Scheduler schedule group, the schedules' SQS dead-letter queue, a
 * KMS key, and a state machine with the synthesized definition (moto answers the Step
 * Functions calls but does not run it: `rotate --local` runs executions in-process) — writes
 * the outputs file `cdk deploy --outputs-file` would, and prints the environment to export.
 * The role and scheduled-start function ARNs are placeholders: nothing invokes them locally.
 *
 * moto lives as long as this process: leave it running and use another terminal.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { pointSdkAtEmulator, PROJECT_ROOT, startMoto } from './moto';
import { resolveWorkflow, tableDefinition, type SynthesizedKeyRoll } from './synthesized-workflow';
import { synth as synthesizedOnce } from './local-rotation';
import type { CliStackOutputs } from '../operator/cli/stack-discovery';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';

/** What was provisioned: the stack name and its outputs, as `cdk deploy --outputs-file` writes them. */
export interface LocalEnvironment {
  readonly stackName: string;
  readonly outputs: CliStackOutputs & Record<string, string>;
}

/**
 * Creates the resources of one local KeyRoll "stack" in the emulator that the SDK points at
 * (AWS_ENDPOINT_URL). Names carry `runId`, so environments can share one emulator.
 */
export async function provisionLocalEnvironment(options: { runId?: string; stackName?: string; synth?: SynthesizedKeyRoll } = {}): Promise<LocalEnvironment> {
  const runId = options.runId ?? randomUUID().slice(0, 8);
  const synth = options.synth ?? synthesizedOnce();
  const base = `keyroll-local-${runId}`;
  const [dynamo, sns, sqs, scheduler, kms, sfn] = [new DynamoDBClient({}), new SNSClient({}), new SQSClient({}), new SchedulerClient({}), new KMSClient({}), new SFNClient({})];
  try {
    const tableName = base;
    await dynamo.send(new CreateTableCommand(tableDefinition(synth, tableName) as never));
    const [clientTopic, opsTopic] = await Promise.all([sns.send(new CreateTopicCommand({ Name: `${base}-clients` })), sns.send(new CreateTopicCommand({ Name: `${base}-ops` }))]);
    const scheduleGroupName = base;
    await scheduler.send(new CreateScheduleGroupCommand({ Name: scheduleGroupName }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${base}-schedules-dlq` }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: `KeyRoll local environment ${runId}: encrypts client secrets` }));
    const workflow = resolveWorkflow(synth, { tableName, clientTopicArn: clientTopic.TopicArn!, opsTopicArn: opsTopic.TopicArn! });
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: `KeyRollRotation-${runId}`,
        definition: JSON.stringify(workflow.definition),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/${base}-state-machine`,
      }),
    );
    const outputs = {
      StateMachineArn: stateMachineArn!,
      TableName: tableName,
      ClientTopicArn: clientTopic.TopicArn!,
      OpsTopicArn: opsTopic.TopicArn!,
      KeyArn: KeyMetadata!.Arn!,
      SecretNamePrefix: `keyroll-local/${runId}/clients/`,
      KeyPrefix: String(synth.outputs.KeyPrefix.Value),
      MinOverlapSeconds: String(synth.outputs.MinOverlapSeconds.Value),
      MaxOverlapSeconds: String(synth.outputs.MaxOverlapSeconds.Value),
      // Locally every step runs inside the CLI process that started the rotation: once that process
      // has exited, nothing of it can still write, so there is no window to wait out.
      ZombieWindowSeconds: '0',
      ScheduleGroupName: scheduleGroupName,
      SchedulerRoleArn: `arn:aws:iam::${ACCOUNT}:role/${base}-scheduler`,
      ScheduleDeadLetterQueueArn: Attributes!.QueueArn!,
      ScheduledStartFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${base}-scheduled-start`,
    };
    return { stackName: options.stackName ?? 'KeyRoll', outputs };
  } finally {
    for (const client of [dynamo, sns, sqs, scheduler, kms, sfn]) client.destroy();
  }
}

/** Writes `{"<stackName>": outputs}` to `file`. */
export function writeOutputsFile(file: string, environment: LocalEnvironment): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ [environment.stackName]: environment.outputs }, null, 2)}\n`);
}

/** The shell lines that point the `keyroll` CLI at the environment. */
export function exportLines(endpoint: string, outputsFile: string): string[] {
  return [
    `export AWS_ENDPOINT_URL=${endpoint}`,
    `export AWS_REGION=${REGION}`,
    `export AWS_DEFAULT_REGION=${REGION}`,
    'export AWS_ACCESS_KEY_ID=testing',
    'export AWS_SECRET_ACCESS_KEY=testing',
    `export KEYROLL_OUTPUTS_FILE=${outputsFile}`,
    'export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true',
  ];
}

async function main(): Promise<void> {
  const program = new Command('keyroll:local-env')
    .description('Start an emulated KeyRoll stack (moto) for rehearsing the runbook with the keyroll CLI. Keep it running; use another terminal.')
    .option('--out <file>', 'where to write the outputs file', path.join(PROJECT_ROOT, '.cache', 'local-outputs.json'))
    .option('--stack-name <name>', 'stack name in the outputs file', 'KeyRoll')
    .parse();
  const { out, stackName } = program.opts<{ out: string; stackName: string }>();
  const outputsFile = path.resolve(out);
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  process.stderr.write('Starting the emulated AWS (moto)...\n');
  const moto = await startMoto();
  pointSdkAtEmulator(moto.endpoint);
  process.stderr.write(`moto: ${moto.endpoint} (${moto.source ?? 'external'}${moto.logFile ? `, log ${moto.logFile}` : ''})\nProvisioning the stack's resources (synthesizing the template first)...\n`);
  const environment = await provisionLocalEnvironment({ stackName });
  writeOutputsFile(outputsFile, environment);
  const lines = exportLines(moto.endpoint, outputsFile);
  const envFile = path.join(path.dirname(outputsFile), 'local-env.sh');
  writeFileSync(envFile, `${lines.join('\n')}\n`);

  process.stdout.write(
    [
      `KeyRoll local environment ready: stack '${stackName}' outputs in ${outputsFile}`,
      '',
      `In another terminal (or: source ${envFile}):`,
      ...lines.map((line) => `  ${line}`),
      '',
      'Then rehearse the incident playbook (docs/runbook.md), e.g.:',
      '  npm run -s keyroll -- clients add acme-payments --scopes orders:read --interval-days 30 --overlap 24h --max-overlap 7d --timezone Europe/Paris --window 02:00-04:00',
      '  npm run -s keyroll -- status acme-payments',
      '  npm run -s keyroll -- rotate acme-payments --emergency --local --reason "rehearsal: key leaked"',
      '  npm run -s keyroll -- audit acme-payments',
      '',
      moto.external ? 'Using an external endpoint: nothing to keep running.' : 'moto runs until you stop this with Ctrl-C.',
      '',
    ].join('\n'),
  );
  if (moto.external) return;
  // Signal handlers do not keep Node alive, and moto's child process is unref'd: a timer does.
  const keepAlive = setInterval(() => undefined, 60_000);
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => resolve());
  });
  clearInterval(keepAlive);
  process.stderr.write('Stopping moto...\n');
  await moto.stop();
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: Error) => {
      process.stderr.write(`keyroll:local-env failed: ${error.name}: ${error.message}\n`);
      process.exit(3);
    },
  );
}
