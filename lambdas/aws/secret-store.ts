/**
 * Secrets Manager adapter: one secret per client, staging labels exactly as in native
 * rotation (AWSPENDING → AWSCURRENT, the old current → AWSPREVIOUS). The rotation id is
 * the ClientRequestToken, so the version id of a new key is the rotation id.
 */
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { RotationStateConflictError } from '../core/errors';
import { parseSecretValue, serializeSecretValue, type SecretValue } from '../core/secret-value';
import { nextLabelChange, Stage, type LabelTarget } from './label-projection';
import { denyNativeRotation, nativeRotationEnabled, secretVersionExists } from './secret-rotation-guard';
import { classifyTransient } from './transient';

export { Stage, versionWithStage, type LabelTarget } from './label-projection';

/**
 * The label a fence version is created with. PutSecretValue without VersionStages would make
 * the new version AWSCURRENT ("If you don't include VersionStages, then Secrets Manager
 * automatically moves the staging label AWSCURRENT to this version",
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html), so
 * a fence gets a label of its own, removed right after: an unlabelled version is not listed,
 * and Secrets Manager "does not remove versions created less than 24 hours ago", far longer
 * than a stopped step can still write (docs/design.md, "Fencing").
 */
export const FENCE_LABEL = 'KEYROLL_FENCE';

/** What a fence version holds: no key, and it says why. */
const FENCE_VALUE = JSON.stringify({ keyroll: 'fence', note: 'a rotation that was taken over; never a key' });

/** True for the value of a fence version (never a key). */
export function isFenceValue(secretString: string | undefined): boolean {
  return secretString === FENCE_VALUE;
}

/** Label changes one projection may need (three labels) plus races lost to late writes. */
const MAX_LABEL_CHANGES = 12;

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

  /** True when the secret has a version `versionId`, labelled or not (metadata only, no value read). */
  versionExists(secretId: string, versionId: string): Promise<boolean> {
    return secretVersionExists(this.client, secretId, versionId);
  }

  /** True when Secrets Manager's own rotation is turned on for the secret. */
  nativeRotationEnabled(secretId: string): Promise<boolean> {
    return nativeRotationEnabled(this.client, secretId);
  }

  /** Attaches the resource policy that denies secretsmanager:RotateSecret to everyone. */
  denyNativeRotation(secretId: string): Promise<void> {
    return denyNativeRotation(this.client, secretId);
  }

  /** The version ids of the secret with their staging labels. */
  async versionStages(secretId: string): Promise<VersionStages> {
    const described = await classifyTransient(() => this.client.send(new DescribeSecretCommand({ SecretId: secretId })));
    return described.VersionIdsToStages ?? {};
  }

  /**
   * The value of one version, or undefined if that version does not exist. Reads by VersionId,
   * which also finds a version without staging labels (DescribeSecret does not list those).
   *
   * @throws RotationStateConflictError when the version is a fence (see {@link fenceVersion}).
   */
  async readVersion(secretId: string, versionId: string): Promise<SecretValue | undefined> {
    let secretString: string | undefined;
    try {
      const result = await classifyTransient(() => this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: versionId })));
      secretString = result.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
    if (isFenceValue(secretString)) {
      throw new RotationStateConflictError(`Version ${versionId} of ${secretId} is fenced: its rotation was taken over and may not write it.`);
    }
    return parseSecretValue(secretString);
  }

  /** The value that carries `stage`, with its version id, or undefined when no version has it. */
  async readStage(secretId: string, stage: Stage): Promise<{ versionId: string; value: SecretValue } | undefined> {
    try {
      const result = await classifyTransient(() => this.client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage })));
      return { versionId: result.VersionId!, value: parseSecretValue(result.SecretString) };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /**
   * Stores a new version labelled AWSPENDING whose version id is `rotationId`, and returns the
   * value that version holds. When the version already exists (a retry whose first attempt
   * landed, or a concurrent writer), Secrets Manager refuses different data with
   * ResourceExistsException: the existing version is read back and its value returned.
   *
   * @throws RotationStateConflictError when the existing version is a fence.
   */
  async putPending(secretId: string, rotationId: string, value: SecretValue): Promise<SecretValue> {
    try {
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
      return value;
    } catch (error) {
      if (!(error instanceof ResourceExistsException)) throw error;
      const existing = await this.readVersion(secretId, rotationId);
      if (!existing) throw error;
      return existing;
    }
  }

  /**
   * Makes sure version `versionId` exists, so that a late PutSecretValue of the rotation that
   * owned that id (a stopped execution's step still running) can no longer create it: Secrets
   * Manager refuses different data under an existing ClientRequestToken, and a repeat with the
   * same data "succeeds but does nothing" (API_PutSecretValue). An existing version (real or
   * fence) is left as it is. A fence is never read as a key ({@link readVersion}).
   */
  async fenceVersion(secretId: string, versionId: string): Promise<void> {
    try {
      await classifyTransient(() => this.client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: versionId, SecretString: FENCE_VALUE, VersionStages: [FENCE_LABEL] })));
    } catch (error) {
      if (!(error instanceof ResourceExistsException)) throw error;
    }
    await this.removeStage(secretId, FENCE_LABEL, versionId);
  }

  /**
   * Moves the staging labels until they are where `target` says (the table's versions), one
   * compare-and-set at a time. Each round reads the labels first and only then asks `target`,
   * which reads the table again and throws once the caller no longer holds the client's lock
   * (see targetUnderLock in rotation/table-labels.ts): a move is authorised after the read it
   * is computed from. A late move that lands before the new lock holder's next change is undone
   * by it; one that lands after fails its own compare-and-set.
   */
  async projectLabels(secretId: string, target: () => Promise<LabelTarget>): Promise<void> {
    for (let change = 1; ; change++) {
      const stages = await this.versionStages(secretId);
      const next = nextLabelChange(stages, await target());
      if (!next) return;
      if (change > MAX_LABEL_CHANGES) {
        throw new RotationStateConflictError(`The labels of ${secretId} keep changing under KeyRoll (${next.stage}); giving up after ${MAX_LABEL_CHANGES} changes.`);
      }
      try {
        await classifyTransient(() => this.client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: next.stage, MoveToVersionId: next.to, RemoveFromVersionId: next.from })));
      } catch (error) {
        // The label moved since the read (its compare-and-set failed): read again.
        if (!(error instanceof InvalidParameterException)) throw error;
      }
    }
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

  /** Removes `stage` from `fromVersionId`; a no-op when that version does not carry it (or no longer does). */
  async removeStage(secretId: string, stage: Stage | typeof FENCE_LABEL, fromVersionId: string): Promise<void> {
    const stages = await this.versionStages(secretId);
    if (!stages[fromVersionId]?.includes(stage)) return;
    try {
      await classifyTransient(() => this.client.send(new UpdateSecretVersionStageCommand({ SecretId: secretId, VersionStage: stage, RemoveFromVersionId: fromVersionId })));
    } catch (error) {
      // Refused because the label moved away in between: what was asked is already true.
      if (!(error instanceof InvalidParameterException) || (await this.versionStages(secretId))[fromVersionId]?.includes(stage)) throw error;
    }
  }
}
