/**
 * The key from a file that something else keeps current: a secret volume (the Secrets Store CSI
 * driver, a Kubernetes secret mount, an agent that writes the secret to disk). The file is read
 * again on every refresh, so the provider follows a rotation as soon as the file is updated.
 */
import { readFile } from 'node:fs/promises';
import { InvalidClientOptionsError } from './errors';
import { KeyNotFoundError, parseKeyText, type KeyRead, type KeySource } from './key-source';

/** Options of a {@link FileKeySource}. */
export interface FileKeySourceOptions {
  /** The file holding the bare key (`kr_…`) or KeyRoll's secret document `{"apiKey","keyId"}`. */
  readonly path: string;
  /** The client whose key it is (the provider's default `clientId`, for notifications). */
  readonly clientId?: string;
}

/**
 * Reads the key from a file on every refresh.
 *
 * @example
 * const keys = new KeyProvider({ source: new FileKeySource({ path: '/mnt/secrets/acme', clientId: 'acme' }) });
 */
export class FileKeySource implements KeySource {
  readonly kind = 'file';
  readonly id: string;
  readonly clientId: string | undefined;

  constructor(options: FileKeySourceOptions) {
    if (!options.path) throw new InvalidClientOptionsError('path must name the key file; got an empty value.');
    this.id = options.path;
    this.clientId = options.clientId;
  }

  /** @throws KeyNotFoundError when the file does not exist; MalformedKeyError when it holds no well-formed key. */
  async read(): Promise<KeyRead> {
    let text: string;
    try {
      text = await readFile(this.id, 'utf8');
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') throw new KeyNotFoundError(`File ${this.id} does not exist.`, { cause: error });
      throw error;
    }
    return parseKeyText(text);
  }
}
