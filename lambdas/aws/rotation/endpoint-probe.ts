/**
 * The end-to-end half of testSecret: call an endpoint behind the KeyRoll authorizer with the
 * new key, as a client would, and require it to be let through.
 */
import { KeyVerificationFailedError } from '../../core/errors';
import { TransientAwsError } from '../transient';

/** The part of `fetch` the probe uses (injected in tests). */
export type Fetch = (url: string, init: { method: string; headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * GETs `url` with `Authorization: Bearer <apiKey>`. A 2xx passes (and if the body is JSON with
 * a clientId, it must be `clientId`); 401/403 and other 4xx mean the key was refused
 * (KeyVerificationFailed); 5xx, time-outs and network errors are transient (retried).
 * Neither the key nor the response body ever appears in an error.
 */
export async function proveAgainstEndpoint(url: string, apiKey: string, clientId: string, fetchImpl: Fetch = fetch as unknown as Fetch, timeoutMs = 5000): Promise<void> {
  let response: { status: number; text(): Promise<string> };
  try {
    response = await fetchImpl(url, { method: 'GET', headers: { authorization: `Bearer ${apiKey}`, accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new TransientAwsError(`The verification endpoint could not be reached (${(error as Error).name}).`);
  }
  if (response.status >= 500) throw new TransientAwsError(`The verification endpoint answered ${response.status}.`);
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
