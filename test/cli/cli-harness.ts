/**
 * Runs the `keyroll` CLI in-process (run(argv, io)) against a local environment in the
 * shared moto server, and keeps everything it printed so a test file can check at the end
 * that no plaintext key ever reached the output.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ListSchedulesCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { GetSecretValueCommand, ListSecretsCommand, ListSecretVersionIdsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ManualClock, type Clock } from '../../lambdas/core/clock';
import { registerIamWorld } from '../support/iam-guard';
import { provisionLocalEnvironment, writeOutputsFile, type LocalEnvironment } from '../../local/local-environment';
import { run } from '../../operator/cli/program';
import { localRotation } from '../../local/local-rotation';
import type { LocalDelivery } from '../../operator/cli/context';
import { scanTable } from '../support/fixtures';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The parsed stdout of a --json run. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- T is the caller's view of the parsed JSON (a checked cast)
export function json<T = Record<string, unknown>>(result: CliResult): T {
  return JSON.parse(result.stdout) as T;
}

export const secretsManager = new SecretsManagerClient({});
export const sfn = new SFNClient({});
const scheduler = new SchedulerClient({});

/** A local KeyRoll environment in moto and a CLI pointed at it. */
export class CliWorld {
  /** Every stdout and stderr text any run printed. */
  readonly transcript: string[] = [];

  private constructor(
    readonly environment: LocalEnvironment,
    readonly outputsFile: string,
    readonly env: NodeJS.ProcessEnv,
    /** How the CLI projects delivery settings here (the local environment has no delivery function). */
    private readonly localDelivery?: LocalDelivery,
  ) {}

  static async create(options: { actor?: string; localDelivery?: LocalDelivery } = {}): Promise<CliWorld> {
    const environment = await provisionLocalEnvironment({ runId: randomUUID().slice(0, 8) });
    // The local environment stands in for the stack: its rotations are judged against the template's IAM.
    const { TableName, SecretNamePrefix, ClientTopicArn, OpsTopicArn, StateMachineArn } = environment.outputs;
    registerIamWorld({ tableName: TableName, secretNamePrefix: SecretNamePrefix, clientTopicArn: ClientTopicArn, opsTopicArn: OpsTopicArn, rotationStateMachineArn: StateMachineArn });
    const outputsFile = path.join(mkdtempSync(path.join(tmpdir(), 'keyroll-cli-')), 'outputs.json');
    writeOutputsFile(outputsFile, environment);
    const env: NodeJS.ProcessEnv = { ...process.env, KEYROLL_OUTPUTS_FILE: outputsFile, KEYROLL_ACTOR: options.actor ?? 'test-operator' };
    delete env.KEYROLL_LOCAL;
    return new CliWorld(environment, outputsFile, env, options.localDelivery);
  }

  get outputs(): LocalEnvironment['outputs'] {
    return this.environment.outputs;
  }

  /** Runs `keyroll <argv>` in-process. */
  async cli(...argv: string[]): Promise<CliResult> {
    return this.cliWith({}, ...argv);
  }

  /** Runs `keyroll <argv>` with extra environment variables. */
  async cliWith(extraEnv: NodeJS.ProcessEnv, ...argv: string[]): Promise<CliResult> {
    return this.runCli(argv, extraEnv);
  }

  /** Runs `keyroll <argv>` with the CLI's clock fixed at `nowMs` (extra environment variables too). */
  async cliAt(nowMs: number, extraEnv: NodeJS.ProcessEnv, ...argv: string[]): Promise<CliResult> {
    return this.runCli(argv, extraEnv, undefined, new ManualClock(nowMs));
  }

  /** Runs `keyroll <argv>` with `stdin` as its standard input. */
  async cliStdin(stdin: string, ...argv: string[]): Promise<CliResult> {
    return this.runCli(argv, {}, stdin);
  }

  private async runCli(argv: string[], extraEnv: NodeJS.ProcessEnv, stdin?: string, clock?: Clock): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const code = await run(
      argv,
      {
        stdout: (text) => (stdout += text),
        stderr: (text) => (stderr += text),
        env: { ...this.env, ...extraEnv },
        ...(stdin !== undefined ? { readStdin: async () => stdin } : {}),
      },
      { localRotation, ...(this.localDelivery ? { localDelivery: this.localDelivery } : {}), ...(clock ? { clock } : {}) },
    );
    this.transcript.push(stdout, stderr);
    return { code, stdout, stderr };
  }

  /** Onboards a client with a valid weekly policy; returns its id. */
  async addClient(clientId = `client-${randomUUID().slice(0, 8)}`): Promise<string> {
    const result = await this.cli(
      'clients',
      'add',
      clientId,
      '--scopes',
      'orders:read,orders:write',
      '--interval-days',
      '7',
      '--overlap',
      '24h',
      '--max-overlap',
      '2d',
      '--timezone',
      'Europe/Paris',
      '--window',
      '02:00-04:00',
      '--reason',
      'test onboarding',
    );
    if (result.code !== 0) throw new Error(`clients add failed (${result.code}): ${result.stderr}`);
    return clientId;
  }

  /** The plaintext key a secret holds at `stage` (tests only: the CLI never reads it). */
  async keyAt(clientId: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<string> {
    const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: `${this.outputs.SecretNamePrefix}${clientId}`, VersionStage: stage }));
    return (JSON.parse(out.SecretString!) as { apiKey: string }).apiKey;
  }

  /** Every plaintext key in this environment's secrets, every version. */
  async allPlaintextKeys(): Promise<string[]> {
    const keys: string[] = [];
    for (const secret of await this.secrets()) {
      const { Versions } = await secretsManager.send(new ListSecretVersionIdsCommand({ SecretId: secret, IncludeDeprecated: true }));
      for (const version of Versions ?? []) {
        const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: secret, VersionId: version.VersionId }));
        keys.push((JSON.parse(out.SecretString!) as { apiKey: string }).apiKey);
      }
    }
    return keys;
  }

  /** Everything a command could change: table items, secret versions and labels, schedules, executions. */
  async snapshot(): Promise<string> {
    const items = (await scanTable(this.outputs.TableName)).map((item) => JSON.stringify(item)).sort();
    const secrets: Record<string, unknown> = {};
    for (const secret of await this.secrets()) {
      const { Versions } = await secretsManager.send(new ListSecretVersionIdsCommand({ SecretId: secret, IncludeDeprecated: true }));
      secrets[secret] = (Versions ?? []).map((v) => [v.VersionId, [...(v.VersionStages ?? [])].sort()]).sort();
    }
    const { Schedules } = await scheduler.send(new ListSchedulesCommand({ GroupName: this.outputs.ScheduleGroupName }));
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: this.outputs.StateMachineArn }));
    return JSON.stringify({
      items,
      secrets,
      schedules: (Schedules ?? []).map((s) => s.Name).sort(),
      executions: (executions ?? []).map((e) => `${e.name}:${e.status}`).sort(),
    });
  }

  /** Names of the executions of the environment's state machine. */
  async executionNames(): Promise<string[]> {
    const { executions } = await sfn.send(new ListExecutionsCommand({ stateMachineArn: this.outputs.StateMachineArn }));
    return (executions ?? []).map((e) => e.name!).sort();
  }

  private async secrets(): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await secretsManager.send(new ListSecretsCommand({ NextToken: token, Filters: [{ Key: 'name', Values: [this.outputs.SecretNamePrefix] }] }));
      names.push(...(page.SecretList ?? []).map((s) => s.Name!).filter((name) => name.startsWith(this.outputs.SecretNamePrefix)));
      token = page.NextToken;
    } while (token);
    return names;
  }
}

/** A queue subscribed to a topic (raw delivery off), to read what was published. */
export async function subscribeQueue(topicArn: string): Promise<{ drain(): Promise<{ message: Record<string, unknown>; raw: string; attributes: Record<string, string> }[]> }> {
  const sqs = new SQSClient({});
  const sns = new SNSClient({});
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `keyroll-cli-${randomUUID().slice(0, 8)}` }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
  return {
    async drain() {
      const out: { message: Record<string, unknown>; raw: string; attributes: Record<string, string> }[] = [];
      for (;;) {
        const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!Messages?.length) break;
        for (const m of Messages) {
          const envelope = JSON.parse(m.Body!) as { Message: string; MessageAttributes?: Record<string, { Value: string }> };
          out.push({
            raw: envelope.Message,
            message: JSON.parse(envelope.Message) as Record<string, unknown>,
            attributes: Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value])),
          });
        }
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
      }
      return out;
    },
  };
}

/** Writes an outputs file with `content` (for the discovery tests). */
export function outputsFileWith(content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'keyroll-cli-')), 'outputs.json');
  writeFileSync(file, content);
  return file;
}

/** The KeyRoll key shape anywhere in a text. */
export const KEY_SHAPE = /\b[a-z][a-z0-9]{1,15}_[0-9A-Za-z]{49}\b/;
