/**
 * The end-to-end half of testSecret: call an endpoint behind the KeyRoll authorizer with the
 * new key, as a client would, and require it to be let through.
 */
import { KeyVerificationFailedError } from '../../core/errors';
import { parseVerifyEndpointUrl } from '../../core/verify-endpoint';
import { TransientAwsError } from '../transient';

/** The part of `fetch` the probe uses (injected in tests). */
export type Fetch = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal; redirect: 'manual' }) => Promise<{ status: number; text(): Promise<string> }>;

/** How the probe runs. */
export interface ProbeOptions {
  /** @default the global fetch */
  readonly fetch?: Fetch;
  /** @default 5000 */
  readonly timeoutMs?: number;
  /**
   * Tests only: accept `http://` on a loopback host for a local test server. Nothing in the
   * deployed configuration sets it (lambdas/handlers/runtime.ts never does).
   */
  readonly allowLoopbackHttp?: boolean;
}

/**
 * GETs `url` with `Authorization: Bearer <apiKey>`. A 2xx passes (and if the body is JSON with
 * a clientId, it must be `clientId`); a 3xx is a refusal and is never followed (a redirect
 * would carry the key to another page, whose 2xx proves nothing about the authorizer); 401/403
 * and other 4xx mean the key was refused (KeyVerificationFailed); 5xx, time-outs and network
 * errors are transient (retried). A URL that is not https (or carries userinfo) is refused
 * before anything is sent (InvalidVerifyEndpoint). Neither the key nor the response body ever
 * appears in an error.
 */
export async function proveAgainstEndpoint(url: string, apiKey: string, clientId: string, options: ProbeOptions = {}): Promise<void> {
  const target = parseVerifyEndpointUrl(url, { allowLoopbackHttp: options.allowLoopbackHttp });
  const fetchImpl = options.fetch ?? fetch;
  let response: { status: number; text(): Promise<string> };
  try {
    // redirect 'manual': fetch hands back the 3xx itself instead of re-sending the key to Location.
    response = await fetchImpl(target.href, {
      method: 'GET',
      headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      redirect: 'manual',
    });
  } catch (error) {
    throw new TransientAwsError(`The verification endpoint could not be reached (${(error as Error).name}).`);
  }
  if (response.status >= 500) throw new TransientAwsError(`The verification endpoint answered ${response.status}.`);
  if (response.status >= 300 && response.status < 400) {
    throw new KeyVerificationFailedError('pending', `the verification endpoint answered ${response.status}, a redirect, which is not followed`);
  }
  if (response.status < 200 || response.status >= 300) {
    throw new KeyVerificationFailedError('pending', `the verification endpoint answered ${response.status}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    return; // Not JSON: the status is the proof.
  }
  const reported = (body as { clientId?: unknown } | null)?.clientId;
  if (typeof reported === 'string' && reported !== clientId) {
    throw new KeyVerificationFailedError('pending', 'the verification endpoint saw another client');
  }
}
