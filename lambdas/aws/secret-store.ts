/**
 * Secrets Manager adapter: one secret per client, staging labels exactly as in native
 * rotation (AWSPENDING → AWSCURRENT, the old current → AWSPREVIOUS). The rotation id is
 * the ClientRequestToken, so the version id of a new key is the rotation id.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { RotationStateConflictError } from '../core/errors';
import { parseSecretValue, serializeSecretValue, type SecretValue } from '../core/secret-value';
import { classifyTransient } from './transient';

/** The staging labels of the Secrets Manager rotation protocol. */
export const Stage = {
  PENDING: 'AWSPENDING',
  CURRENT: 'AWSCURRENT',
  PREVIOUS: 'AWSPREVIOUS',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** Version id → staging labels, as DescribeSecret reports them. */
export type VersionStages = Readonly<Record<string, readonly string[]>>;

/** Options for creating a client's secret. */
export interface CreateClientSecretOptions {
  readonly name: string;
  readonly value: SecretValue;
  /** Becomes the first version id. 32-64 characters. */
  readonly clientRequestToken: string;
  /** KMS key (id, ARN or alias) that encrypts the secret. */
  readonly kmsKeyId?: string;
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** Reads and moves the versions of client secrets. */
export class SecretStore {
  constructor(private readonly client: SecretsManagerClient) {}

  /** Creates a client's secret with its first key as AWSCURRENT; returns false if it already exists. */
  async createClientSecret(options: CreateClientSecretOptions): Promise<boolean> {
    try {
      await classifyTransient(() =>
        this.client.send(
          new CreateSecretCommand({
            Name: options.name,
            SecretString: serializeSecretValue(options.value),
            ClientRequestToken: options.clientRequestToken,
            KmsKeyId: options.kmsKeyId,
            Description: options.description,
            Tags: Object.entries(options.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ResourceExistsException) return false;
      throw error;
    }
  }

  /** The version ids of the secret with their staging labels. */
  async versionStages(secretId: string): Promise<VersionStages> {
    const described = await classifyTransient(() => this.client.send(new DescribeSecretCommand({ SecretId: secretId })));
    return described.VersionIdsToStages ?? {};
  }

  /** The value of one version, or undefined if that version does not exist. */
  async readVersion(secretId: string, versionId: string): Promise<SecretValue | undefined> {
    try {
      const result = await classifyTransient(() =>
        this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId })),
      );
      return parseSecretValue(result.SecretString);
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** The value that carries `stage`, with its version id, or undefined when no version has it. */
  async readStage(secretId: string, stage: Stage): Promise<{ versionId: string; value: SecretValue } | undefined> {
    try {
      const result = await classifyTransient(() =>
        this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage })),
      );
      return { versionId: result.VersionId!, value: parseSecretValue(result.SecretString) };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** Stores a new version labelled AWSPENDING whose version id is `rotationId`. */
  async putPending(secretId: string, rotationId: string, value: SecretValue): Promise<void> {
    await classifyTransient(() =>
      this.client.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: rotationId,
          SecretString: serializeSecretValue(value),
          VersionStages: [Stage.PENDING],
        }),
      ),
    );
  }

  /**
   * Moves `stage` onto `toVersionId`. For AWSCURRENT, Secrets Manager itself moves
   * AWSPREVIOUS onto the version that loses AWSCURRENT.
   */
  async moveStage(secretId: string, stage: Stage, toVersionId: string, fromVersionId: string | undefined): Promise<void> {
    await classifyTransient(() =>
      this.client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: stage,
          MoveToVersionId: toVersionId,
          RemoveFromVersionId: fromVersionId,
        }),
      ),
    );
  }

  /** Removes `stage` from `fromVersionId`; a no-op when that version no longer carries it. */
  async removeStage(secretId: string, stage: Stage, fromVersionId: string): Promise<void> {
    const stages = await this.versionStages(secretId);
    if (!stages[fromVersionId]?.includes(stage)) return;
    await classifyTransient(() =>
      this.client.send(
        new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: stage, RemoveFromVersionId: fromVersionId }),
      ),
    );
  }
}

/** The version that carries `stage`, if any. */
export function versionWithStage(stages: VersionStages, stage: Stage): string | undefined {
  return Object.entries(stages).find(([, labels]) => labels.includes(stage))?.[0];
}

/** The AWSCURRENT version; a secret without one violates invariant 1. */
export function requireCurrentVersion(secretId: string, stages: VersionStages): string {
  const current = versionWithStage(stages, Stage.CURRENT);
  if (!current) throw new RotationStateConflictError(`Secret ${secretId} has no AWSCURRENT version.`);
  return current;
}
