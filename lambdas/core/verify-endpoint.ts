/**
 * What a verification endpoint URL (testSecret's end-to-end proof) must be: an absolute
 * `https:` URL without userinfo. The new key travels to it as a Bearer token, so plain HTTP
 * would put the key on the wire in clear, and userinfo would be sent as a second credential.
 */
import { InvalidVerifyEndpointError } from './errors';

/** Options of {@link parseVerifyEndpointUrl}. */
export interface VerifyEndpointRules {
  /**
   * Tests only: also accept `http:` when the host is a loopback address (127.0.0.0/8, [::1],
   * localhost), for a local test server. No configuration reaches this: production URLs are
   * always checked without it.
   */
  readonly allowLoopbackHttp?: boolean;
}

const LOOPBACK_HOST = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/;

/**
 * Parses `raw` as a verification endpoint.
 * @throws InvalidVerifyEndpointError when it is not a URL, not https, or carries userinfo.
 * The message never repeats the URL's userinfo.
 */
export function parseVerifyEndpointUrl(raw: string, rules: VerifyEndpointRules = {}): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidVerifyEndpointError('is not an absolute URL');
  }
  if (url.username || url.password) throw new InvalidVerifyEndpointError('must not carry credentials (user:password@)');
  const loopbackHttp = rules.allowLoopbackHttp === true && url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp) {
    throw new InvalidVerifyEndpointError(`must be an https:// URL; got a ${url.protocol} URL`);
  }
  return url;
}
