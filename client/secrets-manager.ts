/**
 * `@keyroll/client/secrets-manager`: the key from the AWSCURRENT version of the client's secret
 * in Secrets Manager, the way KeyRoll provisions it. The only module of the SDK that needs
 * `@aws-sdk/client-secrets-manager` (an optional peer dependency of the package).
 *
 * Shared code comes from the package's main entry (`./index`) and from nowhere else in the
 * package, so the built entry imports it instead of carrying a second copy
 * (packages/client/entries.ts; test/client/package-entries.test.ts holds it to that).
 */
import { GetSecretValueCommand, SecretsManagerClient, type GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { InvalidClientOptionsError, KeyProvider, parseSecretValue, type KeyProviderTiming, type KeyRead, type KeySource } from './index';

/** The secret-name prefix KeyRoll provisions client secrets under (the stack's default). */
export const DEFAULT_SECRET_NAME_PREFIX = 'keyroll/clients/';

/** The part of a Secrets Manager client the source uses; a `SecretsManagerClient` fits. */
export interface SecretsManagerLike {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

/** Options of a {@link SecretsManagerKeySource}. Give `clientId`, `secretId`, or both. */
export interface SecretsManagerKeySourceOptions {
  /**
   * The client's id. Names the secret (`<secretNamePrefix><clientId>`) unless `secretId` is
   * given, and is what notification helpers filter on.
   * @default none: then `secretId` is required
   */
  readonly clientId?: string;
  /**
   * The secret's name or ARN.
   * @default `<secretNamePrefix><clientId>`
   */
  readonly secretId?: string;
  /** @default 'keyroll/clients/' ({@link DEFAULT_SECRET_NAME_PREFIX}) */
  readonly secretNamePrefix?: string;
  /**
   * The Secrets Manager client (one per process; reused for every read).
   * @default a `SecretsManagerClient` built from the environment (region, credentials, AWS_ENDPOINT_URL)
   */
  readonly secretsManager?: SecretsManagerLike;
}

/**
 * Reads the AWSCURRENT version of a KeyRoll client secret (clients read only that stage:
 * docs/design.md). Needs `secretsmanager:GetSecretValue` on the secret and `kms:Decrypt` on its key.
 */
export class SecretsManagerKeySource implements KeySource {
  readonly kind = 'secret';
  /** The secret name or ARN read. */
  readonly id: string;
  readonly clientId: string | undefined;
  readonly #client: SecretsManagerLike;

  constructor(options: SecretsManagerKeySourceOptions) {
    const prefix = options.secretNamePrefix ?? DEFAULT_SECRET_NAME_PREFIX;
    if (options.clientId?.length === 0) {
      throw new InvalidClientOptionsError('clientId must not be empty; got an empty string.');
    }
    const secretId = options.secretId ?? (options.clientId !== undefined ? `${prefix}${options.clientId}` : undefined);
    if (!secretId) {
      throw new InvalidClientOptionsError('A Secrets Manager key source needs a clientId or a secretId; got neither.');
    }
    this.id = secretId;
    this.clientId = options.clientId;
    this.#client = options.secretsManager ?? new SecretsManagerClient({});
  }

  /** @throws the SDK's error as it came (the provider classifies it by name), or MalformedKeyError. */
  async read(): Promise<KeyRead> {
    const output = await this.#client.send(new GetSecretValueCommand({ SecretId: this.id, VersionStage: 'AWSCURRENT' }));
    // Throws MalformedKeyError, whose message never echoes the document or the key.
    const value = parseSecretValue(output.SecretString);
    return output.VersionId !== undefined ? { ...value, versionId: output.VersionId } : value;
  }
}

/** Options of a {@link SecretsManagerKeyProvider}: the source's and the provider's timing. */
export interface SecretsManagerKeyProviderOptions extends SecretsManagerKeySourceOptions, KeyProviderTiming {}

/**
 * A {@link KeyProvider} reading the client's secret in Secrets Manager: the usual way a consumer
 * on AWS gets its key.
 *
 * @example
 * const keys = new SecretsManagerKeyProvider({ clientId: 'acme' }); // secret keyroll/clients/acme
 * keys.start();
 */
export class SecretsManagerKeyProvider extends KeyProvider {
  /** The secret name or ARN read. */
  readonly secretId: string;

  constructor(options: SecretsManagerKeyProviderOptions) {
    const source = new SecretsManagerKeySource(options);
    super({ ...options, source });
    this.secretId = source.id;
  }
}
