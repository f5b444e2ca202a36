/** The JSON document stored in a client's secret: the key the client presents, and its id. */
import { parseApiKey } from './api-key';
import { MalformedKeyError } from './errors';

/** What a client reads from its secret. */
export interface SecretValue {
  /** The plaintext API key. Lives only here and in the client's hands. */
  readonly apiKey: string;
  /** The non-secret key id, handy in the client's own logs. */
  readonly keyId: string;
}

/** Serialises a secret value. */
export function serializeSecretValue(value: SecretValue): string {
  return JSON.stringify({ apiKey: value.apiKey, keyId: value.keyId });
}

/**
 * Parses a secret string.
 * @throws MalformedKeyError when the document or the key in it is malformed (the message never echoes it).
 */
export function parseSecretValue(secretString: string | undefined): SecretValue {
  let document: unknown;
  try {
    document = JSON.parse(secretString ?? '');
  } catch {
    throw new MalformedKeyError('format');
  }
  const { apiKey, keyId } = (document ?? {}) as Record<string, unknown>;
  parseApiKey(apiKey);
  if (typeof keyId !== 'string') throw new MalformedKeyError('format');
  return { apiKey: apiKey as string, keyId };
}
