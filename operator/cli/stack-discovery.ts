/**
 * Where the CLI finds the deployment: the stack outputs, from `--outputs-file` (what
 * `cdk deploy --outputs-file` writes: `{"<StackName>": {"OutputKey": "value"}}`), from
 * $KEYROLL_OUTPUTS_FILE, or from CloudFormation DescribeStacks on `--stack` (default KeyRoll).
 * The endpoint comes from the SDK's own configuration, so AWS_ENDPOINT_URL points it at moto.
 */
import { readFileSync } from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import type { KeyRollStackOutputs } from '../ops/ops-deps';
import { EnvironmentError } from './errors';

/** The outputs the operator API needs (operator/ops/ops-deps.ts), all strings. */
export const REQUIRED_OUTPUTS = [
  'TableName',
  'StateMachineArn',
  'KeyPrefix',
  'SecretNamePrefix',
  'KeyArn',
  'MinOverlapSeconds',
  'MaxOverlapSeconds',
  'ScheduleGroupName',
  'SchedulerRoleArn',
  'ScheduleDeadLetterQueueArn',
  'ScheduledStartFunctionArn',
] as const satisfies readonly (keyof KeyRollStackOutputs)[];

/** What the CLI reads from the outputs: the operator API's, plus a few it uses itself when present. */
export interface CliStackOutputs extends KeyRollStackOutputs {
  /** The fleet rotation state machine (`rotate-fleet`); absent from stacks older than it. */
  readonly FleetStateMachineArn?: string;
  /** Needed by `rotate --local` (the ops topic of the failure path). */
  readonly OpsTopicArn?: string;
  /** The construct's defaultOverlap in seconds; `rotate --local` uses it (else 24 h). */
  readonly DefaultOverlapSeconds?: string;
}

/** Where the outputs came from, for messages and --json. */
export interface DiscoveredStack {
  readonly stackName: string;
  readonly source: string;
  readonly outputs: CliStackOutputs;
}

/** How to find the stack. */
export interface DiscoveryOptions {
  /** `--stack`, when given on the command line (a file with one stack needs none). */
  readonly stack?: string;
  readonly outputsFile?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly env: NodeJS.ProcessEnv;
}

export const DEFAULT_STACK_NAME = 'KeyRoll';

/** Finds the stack's outputs. @throws EnvironmentError naming what is missing and how to fix it. */
export async function discoverStack(options: DiscoveryOptions): Promise<DiscoveredStack> {
  const file = options.outputsFile ?? (options.env.KEYROLL_OUTPUTS_FILE || undefined);
  const wanted = options.stack ?? (options.env.KEYROLL_STACK || undefined);
  if (file) return fromFile(file, wanted, options.outputsFile ? '--outputs-file' : 'KEYROLL_OUTPUTS_FILE');
  return fromCloudFormation(wanted ?? DEFAULT_STACK_NAME, options);
}

function fromFile(file: string, wanted: string | undefined, via: string): DiscoveredStack {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new EnvironmentError(`Cannot read the outputs file ${file} (${via}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new EnvironmentError(`The outputs file ${file} is not JSON; expected what \`cdk deploy --outputs-file\` writes: {"<StackName>": {"OutputKey": "value"}}.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EnvironmentError(`The outputs file ${file} must be a JSON object {"<StackName>": {"OutputKey": "value"}}.`);
  }
  const stacks = parsed as Record<string, unknown>;
  const names = Object.keys(stacks);
  let stackName: string;
  if (wanted) {
    if (!(wanted in stacks)) throw new EnvironmentError(`The outputs file ${file} has no stack '${wanted}' (it has: ${names.join(', ') || 'none'}).`);
    stackName = wanted;
  } else if (names.length === 1) {
    stackName = names[0]!;
  } else if (DEFAULT_STACK_NAME in stacks) {
    stackName = DEFAULT_STACK_NAME;
  } else {
    throw new EnvironmentError(`The outputs file ${file} has ${names.length} stacks (${names.join(', ') || 'none'}); name one with --stack.`);
  }
  const raw = stacks[stackName];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new EnvironmentError(`Stack '${stackName}' in ${file} must map output names to values.`);
  const outputs = Object.fromEntries(
    Object.entries(raw)
      .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
      .map(([key, value]) => [key, String(value)]),
  );
  return { stackName, source: `outputs file ${file}`, outputs: checkOutputs(outputs, `stack '${stackName}' in ${file}`) };
}

async function fromCloudFormation(stackName: string, options: DiscoveryOptions): Promise<DiscoveredStack> {
  const cloudFormation = new CloudFormationClient({ ...(options.region ? { region: options.region } : {}), ...(options.profile ? { profile: options.profile } : {}) });
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks?.[0];
    if (!stack) throw new EnvironmentError(`CloudFormation returned no stack named '${stackName}'.`);
    if (stack.StackStatus?.endsWith('_FAILED') || stack.StackStatus === 'DELETE_COMPLETE') {
      throw new EnvironmentError(`Stack '${stackName}' is in state ${stack.StackStatus}; deploy it again (npx cdk deploy).`);
    }
    const outputs = Object.fromEntries((stack.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue !== undefined).map((o) => [o.OutputKey!, o.OutputValue!]));
    return { stackName, source: `CloudFormation stack ${stackName}`, outputs: checkOutputs(outputs, `stack '${stackName}'`) };
  } catch (error) {
    if ((error as Error).name === 'ValidationError' && /does not exist/i.test((error as Error).message)) {
      throw new EnvironmentError(`Stack '${stackName}' not found in this account/region. Deploy it (npx cdk deploy), pass --stack <name> or --region, or use --outputs-file <cdk-outputs.json>.`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    cloudFormation.destroy();
  }
}

function checkOutputs(outputs: Record<string, string>, where: string): CliStackOutputs {
  const missing = REQUIRED_OUTPUTS.filter((name) => !outputs[name]);
  if (missing.length) {
    throw new EnvironmentError(`The outputs of ${where} lack ${missing.join(', ')}: the CLI needs a stack version that exports them (update the stack with npx cdk deploy).`);
  }
  return outputs as unknown as CliStackOutputs;
}
