/**
 * What the operator API needs, and how a CLI builds it from the stack outputs and its own SDK
 * clients. Nothing here reads the environment: the caller injects clients, configuration and
 * the clock.
 */
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { systemClock, type Clock } from '../../lambdas/core/clock';
import { partitionOf, type Partition } from '../../lambdas/core/delivery-request';
import type { PolicyBounds } from '../../lambdas/core/rotation-policy';
import type { OverlapBounds } from '../../lambdas/core/rotation-request';
import type { ProvisioningSettings } from '../../lambdas/aws/client-provisioning';
import { ClientNotifier } from '../../lambdas/aws/client-notifier';
import { ClientSchedules, type ScheduleRetry } from '../../lambdas/aws/client-schedules';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { RotationExecutions } from '../../lambdas/aws/rotation-executions';
import { SecretStore } from '../../lambdas/aws/secret-store';
import type { DeliveryProjector } from '../../lambdas/aws/delivery/delivery-projector';

/** The deployment's policy the operator API checks requests against. */
export interface OpsSettings extends ProvisioningSettings {
  /** The construct's minOverlap/maxOverlap (stack outputs MinOverlapSeconds/MaxOverlapSeconds). */
  readonly overlapBounds: OverlapBounds;
  /**
   * How long after a lock holder's execution ended it may still write (stack output
   * ZombieWindowSeconds; lambdas/core/zombie-window.ts). @default DEFAULT_ZOMBIE_WINDOW_SECONDS
   */
  readonly zombieWindowSeconds?: number;
}

/** Everything an operation may use, injected. */
export interface OpsDeps {
  readonly keys: KeyRepository;
  readonly secrets: SecretStore;
  readonly schedules: ClientSchedules;
  readonly executions: RotationExecutions;
  /** Absent: kill switch and rollback notices are not published (the CLI may publish them itself). */
  readonly notifier?: ClientNotifier;
  readonly clock: Clock;
  readonly settings: OpsSettings;
  /** Reconciles a client's secret policy, KMS grants and subscriptions to its record. Absent: delivery settings cannot be changed. */
  readonly delivery?: DeliveryProjector;
}

/** The stack outputs the operator API needs (names as in the stack's CfnOutputs). */
export interface KeyRollStackOutputs {
  readonly TableName: string;
  readonly StateMachineArn: string;
  readonly KeyPrefix: string;
  readonly SecretNamePrefix: string;
  /** The KMS key that encrypts client secrets. */
  readonly KeyArn: string;
  readonly ClientTopicArn?: string;
  readonly MinOverlapSeconds: string;
  readonly MaxOverlapSeconds: string;
  readonly ScheduleGroupName: string;
  readonly SchedulerRoleArn: string;
  readonly ScheduleDeadLetterQueueArn: string;
  readonly ScheduledStartFunctionArn: string;
  /** Absent on stacks deployed before it existed: the default window applies. */
  readonly ZombieWindowSeconds?: string;
  /** The delivery function (projects readers, grants and subscriptions). Absent on stacks deployed before it existed. */
  readonly DeliveryFunctionName?: string;
  /** The key pickup endpoint, `https://…/pickup`. Absent when pickup is off. */
  readonly PickupUrl?: string;
}

/** The SDK clients an operator session uses (built once by the caller, with its credentials and region). */
export interface OpsClients {
  /** A document client with `removeUndefinedValues: true`. */
  readonly dynamoDb: DynamoDBDocumentClient;
  readonly secretsManager: SecretsManagerClient;
  readonly scheduler: SchedulerClient;
  readonly stepFunctions: SFNClient;
  /** Needed to publish kill-switch and rollback notices to the client topic. */
  readonly sns?: SNSClient;
}

/** Options of {@link createOpsDeps}. */
export interface CreateOpsDepsOptions {
  /** @default the wall clock */
  readonly clock?: Clock;
  /** @default DEFAULT_SCHEDULE_RETRY */
  readonly scheduleRetry?: ScheduleRetry;
  /** How delivery settings reach AWS (the CLI: a Lambda invoke of DeliveryFunctionName). Absent: they cannot be changed. */
  readonly delivery?: DeliveryProjector;
}

/**
 * Wires the operator API to a deployed stack.
 *
 * @throws RangeError when an output is missing or malformed (e.g. a non-numeric overlap bound).
 */
export function createOpsDeps(clients: OpsClients, outputs: KeyRollStackOutputs, options: CreateOpsDepsOptions = {}): OpsDeps {
  // The zombie window may be 0 (a local environment, where no step outlives the CLI process that ran it).
  const seconds = (name: 'MinOverlapSeconds' | 'MaxOverlapSeconds' | 'ZombieWindowSeconds') => {
    const value = Number(outputs[name]);
    const least = name === 'ZombieWindowSeconds' ? 0 : 1;
    if (!Number.isInteger(value) || value < least) throw new RangeError(`Stack output ${name} must be a whole number of seconds, at least ${least}.`);
    return value;
  };
  return {
    keys: new KeyRepository(clients.dynamoDb, outputs.TableName),
    secrets: new SecretStore(clients.secretsManager),
    schedules: new ClientSchedules(clients.scheduler, {
      groupName: outputs.ScheduleGroupName,
      targetArn: outputs.ScheduledStartFunctionArn,
      roleArn: outputs.SchedulerRoleArn,
      deadLetterArn: outputs.ScheduleDeadLetterQueueArn,
      retry: options.scheduleRetry,
    }),
    executions: new RotationExecutions(clients.stepFunctions, outputs.StateMachineArn),
    notifier: clients.sns && outputs.ClientTopicArn ? new ClientNotifier(clients.sns, outputs.ClientTopicArn) : undefined,
    clock: options.clock ?? systemClock,
    ...(options.delivery ? { delivery: options.delivery } : {}),
    settings: {
      keyPrefix: outputs.KeyPrefix,
      secretNamePrefix: outputs.SecretNamePrefix,
      kmsKeyId: outputs.KeyArn,
      overlapBounds: { minSeconds: seconds('MinOverlapSeconds'), maxSeconds: seconds('MaxOverlapSeconds') },
      ...(outputs.ZombieWindowSeconds !== undefined ? { zombieWindowSeconds: seconds('ZombieWindowSeconds') } : {}),
    },
  };
}

/** The deployment's overlap bounds as a policy check wants them. */
export function policyBounds(settings: OpsSettings): PolicyBounds {
  return { minOverlapSeconds: settings.overlapBounds.minSeconds, maxOverlapSeconds: settings.overlapBounds.maxSeconds };
}

/** The deployment's AWS partition (`aws`, `aws-cn`, `aws-us-gov`), from its state machine ARN: readers and queues must be in it. */
export function deploymentPartition(deps: OpsDeps): Partition | undefined {
  return partitionOf(deps.executions.stateMachineArn);
}

/** The deployment's account, from its state machine ARN (`arn:<partition>:states:<region>:<account>:…`). */
export function deploymentAccount(deps: OpsDeps): string | undefined {
  return /^arn:[^:]+:states:[^:]*:(\d{12}):/.exec(deps.executions.stateMachineArn)?.[1];
}

/** How delivery settings are parsed for this deployment: its partition and its own account. */
export function deliveryParseOptions(deps: OpsDeps): { partition?: Partition; account?: string } {
  const partition = deploymentPartition(deps);
  const account = deploymentAccount(deps);
  return { ...(partition ? { partition } : {}), ...(account ? { account } : {}) };
}
