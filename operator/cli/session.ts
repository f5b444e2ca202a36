/**
 * One CLI run's connection to a deployment: the stack outputs (found once), the SDK clients
 * (built once, with the run's region/profile, and destroyed at the end), the operator API's
 * dependencies, and who the caller is for the audit trail.
 */
import { userInfo } from 'node:os';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createOpsDeps, type OpsDeps } from '../ops';
import type { Clock } from '../../lambdas/core/clock';
import { checkText } from './arguments';
import { EnvironmentError } from './errors';
import { discoverStack, type DiscoveredStack } from './stack-discovery';
import type { LocalDelivery } from './context';
import { LambdaDeliveryProjector } from './lambda-delivery-projector';

/** The options every command accepts. */
export interface GlobalOptions {
  readonly json?: boolean;
  readonly stack?: string;
  readonly outputsFile?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly actor?: string;
}

/** The SDK clients of a session. */
export interface SessionClients {
  readonly dynamoDb: DynamoDBDocumentClient;
  readonly secretsManager: SecretsManagerClient;
  readonly scheduler: SchedulerClient;
  readonly stepFunctions: SFNClient;
  readonly sns: SNSClient;
}

/** Longest actor the audit trail keeps (lambdas/core/input-schema.ts). */
const MAX_ACTOR = 128;

/** A run's lazily opened connection to the deployment. */
export class Session {
  private stack?: DiscoveredStack;
  private sdk?: SessionClients & { raw: DynamoDBClient };
  private deps?: OpsDeps;
  private cloudWatchClient?: CloudWatchClient;
  private lambdaClient?: LambdaClient;

  constructor(
    readonly options: GlobalOptions,
    readonly env: NodeJS.ProcessEnv,
    /** For tests; the wall clock otherwise. */
    private readonly clock?: Clock,
    /** The in-process delivery projection for an emulator without a delivery function. */
    private readonly localDelivery?: LocalDelivery,
  ) {}

  /** The discovered stack (outputs file or DescribeStacks). */
  async discover(): Promise<DiscoveredStack> {
    return (this.stack ??= await discoverStack({ ...this.options, env: this.env }));
  }

  /** Client config shared by every SDK client of the session. */
  get clientConfig(): { region?: string; profile?: string } {
    return { ...(this.options.region ? { region: this.options.region } : {}), ...(this.options.profile ? { profile: this.options.profile } : {}) };
  }

  clients(): SessionClients {
    if (!this.sdk) {
      const config = this.clientConfig;
      const raw = new DynamoDBClient(config);
      this.sdk = {
        raw,
        dynamoDb: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
        secretsManager: new SecretsManagerClient(config),
        scheduler: new SchedulerClient(config),
        stepFunctions: new SFNClient(config),
        sns: new SNSClient(config),
      };
    }
    return this.sdk;
  }

  /**
   * CloudWatch, for the alarms and auth metrics `status` shows beside the table's truth: one
   * retry and bounded waits, so an endpoint that does not answer delays a status by seconds,
   * not by the SDK's default socket timeout.
   */
  cloudWatch(): CloudWatchClient {
    return (this.cloudWatchClient ??= new CloudWatchClient({ ...this.clientConfig, maxAttempts: 2, requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } }));
  }

  /** The operator API wired to the stack. */
  async opsDeps(): Promise<OpsDeps> {
    if (!this.deps) {
      const { outputs, source } = await this.discover();
      let deps: OpsDeps;
      try {
        deps = createOpsDeps(this.clients(), outputs, this.clock ? { clock: this.clock } : {});
      } catch (error) {
        // A malformed output (e.g. a non-numeric overlap bound, a state machine ARN that is not one).
        throw new EnvironmentError(`The stack outputs from ${source} are not usable: ${(error as Error).message}`, { cause: error });
      }
      this.deps = { ...deps, ...this.deliveryProjector(outputs.DeliveryFunctionName, deps) };
    }
    return this.deps;
  }

  /**
   * How delivery settings reach AWS: the stack's delivery function; with none, against an
   * emulator, the projection in this process where the build has it; else none (delivery
   * settings are then refused with DeliveryUnavailable).
   */
  private deliveryProjector(functionName: string | undefined, deps: OpsDeps): Pick<OpsDeps, 'delivery'> {
    if (functionName) return { delivery: new LambdaDeliveryProjector(this.lambda(), functionName) };
    if (this.localDelivery && this.env.AWS_ENDPOINT_URL) return { delivery: this.localDelivery.projector(deps) };
    return {};
  }

  /** Lambda, to invoke the delivery function (the caller needs lambda:InvokeFunction on it). */
  private lambda(): LambdaClient {
    return (this.lambdaClient ??= new LambdaClient(this.clientConfig));
  }

  /**
   * Who the audit trail names: --actor, else $KEYROLL_ACTOR, else the caller's AWS identity
   * (STS GetCallerIdentity), else the local user name.
   */
  async actor(): Promise<string> {
    // `--actor ""` is refused, not skipped in favour of the environment.
    if (this.options.actor !== undefined) return checkText(this.options.actor, '--actor', MAX_ACTOR);
    const fromEnv = this.env.KEYROLL_ACTOR;
    if (fromEnv) return checkText(fromEnv, 'KEYROLL_ACTOR', MAX_ACTOR);
    const sts = new STSClient({ ...this.clientConfig, maxAttempts: 1 });
    try {
      const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
      if (Arn) return shortenArn(Arn);
    } catch {
      // No identity to be had (no credentials, no STS at the endpoint): fall back to the user name.
    } finally {
      sts.destroy();
    }
    return localUser(this.env);
  }

  /** Releases the SDK clients' sockets. */
  close(): void {
    this.cloudWatchClient?.destroy();
    this.cloudWatchClient = undefined;
    this.lambdaClient?.destroy();
    this.lambdaClient = undefined;
    if (!this.sdk) return;
    for (const client of [this.sdk.raw, this.sdk.secretsManager, this.sdk.scheduler, this.sdk.stepFunctions, this.sdk.sns]) client.destroy();
    this.sdk = undefined;
  }
}

/** An identity ARN within the audit trail's 128 characters (the resource part if the ARN is longer). */
export function shortenArn(arn: string): string {
  if (arn.length <= MAX_ACTOR) return arn;
  const resource = arn.split(':').slice(5).join(':');
  return resource.slice(0, MAX_ACTOR);
}

function localUser(env: NodeJS.ProcessEnv): string {
  let name = env.USER || env.USERNAME;
  if (!name) {
    try {
      name = userInfo().username;
    } catch {
      name = 'unknown';
    }
  }
  return `local:${name}`.slice(0, MAX_ACTOR);
}
