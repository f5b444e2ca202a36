/**
 * The key from an environment variable: for a consumer whose platform injects the key at start
 * (an ECS task's `secrets`, a Kubernetes secret as env, a CI variable) and that installs no AWS
 * SDK. The variable is read again on every refresh, but a process's environment normally only
 * changes when it restarts: such a consumer follows a rotation by being restarted with the new
 * value within the overlap window.
 */
import { InvalidClientOptionsError } from './errors';
import { KeyNotFoundError, parseKeyText, type KeyRead, type KeySource } from './key-source';

/** The variable {@link EnvKeySource} reads when none is named. */
export const DEFAULT_KEY_VARIABLE = 'KEYROLL_API_KEY';

/** Options of an {@link EnvKeySource}. */
export interface EnvKeySourceOptions {
  /** @default 'KEYROLL_API_KEY' ({@link DEFAULT_KEY_VARIABLE}) */
  readonly variable?: string;
  /** The client whose key it is (the provider's default `clientId`, for notifications). */
  readonly clientId?: string;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Reads the key from an environment variable holding the bare key (`kr_…`) or KeyRoll's secret
 * document `{"apiKey","keyId"}`.
 *
 * @example
 * const keys = new KeyProvider({ source: new EnvKeySource({ variable: 'ACME_API_KEY', clientId: 'acme' }) });
 */
export class EnvKeySource implements KeySource {
  readonly kind = 'environment variable';
  readonly id: string;
  readonly clientId: string | undefined;
  readonly #env: Readonly<Record<string, string | undefined>>;

  constructor(options: EnvKeySourceOptions = {}) {
    this.id = options.variable ?? DEFAULT_KEY_VARIABLE;
    if (!this.id) throw new InvalidClientOptionsError('variable must name an environment variable; got an empty string.');
    this.clientId = options.clientId;
    this.#env = options.env ?? process.env;
  }

  /** @throws KeyNotFoundError when the variable is unset or empty; MalformedKeyError when it holds no well-formed key. */
  async read(): Promise<KeyRead> {
    const value = this.#env[this.id];
    if (!value?.trim()) throw new KeyNotFoundError(`Environment variable ${this.id} is not set.`);
    return parseKeyText(value);
  }
}
