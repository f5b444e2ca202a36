/**
 * The key pickup endpoint (API Gateway REST proxy integration): a client outside AWS presents
 * an assertion signed with its private key and gets its current key encrypted to its
 * registered public key. The protocol is lambdas/core/pickup.ts; the order below is a choice:
 *
 * 1. the form (size first), then the assertion's unverified `sub` and `kid`;
 * 2. the client record (one GetItem): unknown, offboarded or no such pickup key → refused;
 * 3. the signature and claims with that key (lambdas/core/pickup-crypto.ts);
 * 4. only then the `jti` is spent (a conditional put), so only a genuine attempt writes;
 * 5. the key the table says is current: its version by id, checked against the recorded hash
 *    (the table is the truth, docs/design.md "Where the truth lives"), encrypted to the key.
 *
 * Every refusal is the same 401 body (or 400 for a request that is not a pickup form), so a
 * caller learns nothing about which check failed; the reason goes to the log and a metric.
 * Logged: the client id and kid when well-formed, a hash of the jti, the outcome. Never the
 * assertion, never the key.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { hashApiKey } from '../../core/api-key';
import type { Clock } from '../../core/clock';
import { describeError } from '../../core/errors';
import {
  ASSERTION_CLOCK_TOLERANCE_SECONDS,
  JTI_RETENTION_MARGIN_SECONDS,
  PICKUP_ERROR_BODIES,
  PICKUP_RESPONSE_MEDIA_TYPE,
  PickupKeyMismatchError,
  PickupRefusal,
  PickupRefusedError,
  parsePickupForm,
  peekAssertion,
} from '../../core/pickup';
import { encryptPickup, verifyPickupAssertion } from '../../core/pickup-crypto';
import { PickupMetric } from '../../core/pickup-metric-names';
import type { SecretValue } from '../../core/secret-value';
import type { PickupClients } from './pickup-table';

/** Reads one version of a client's secret (SecretStore.readVersion). */
export interface PickupSecrets {
  readVersion(secretId: string, versionId: string): Promise<SecretValue | undefined>;
}

/** What the handler is built from. */
export interface PickupParts {
  readonly clients: PickupClients;
  readonly secrets: PickupSecrets;
  readonly clock: Clock;
  /** The pickup URL exactly: every assertion's `aud`. */
  readonly audience: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** The headers of every answer: never cached, never sniffed. */
const COMMON_HEADERS = { 'cache-control': 'no-store', pragma: 'no-cache', 'x-content-type-options': 'nosniff' };

const answer = (statusCode: 200 | 400 | 401 | 500, contentType: string, body: string): APIGatewayProxyResult => ({
  statusCode,
  headers: { ...COMMON_HEADERS, 'content-type': contentType },
  body,
});

/** A request header, whatever its case (API Gateway passes them as sent). */
function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  const found = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return found === undefined ? undefined : headers[found];
}

/** A jti as it may be logged: its hash, enough to correlate a replay with its first use. */
const jtiHashOf = (jti: string) => createHash('sha256').update(jti, 'utf8').digest('hex').slice(0, 16);

/** Builds the pickup handler. */
export function createPickupHandler(parts: PickupParts): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    // What is known so far, for the log line; filled as the checks pass.
    const seen: { clientId?: string; kid?: string; jtiHash?: string } = {};
    try {
      const form = parsePickupForm(event.body, event.isBase64Encoded, headerOf(event, 'content-type'));
      const { clientId, kid } = peekAssertion(form.assertion, form.clientId);
      Object.assign(seen, { clientId, kid });
      const client = await parts.clients.getClient(clientId);
      if (!client) throw new PickupRefusedError(PickupRefusal.UNKNOWN_CLIENT, 'no such client');
      if (client.offboardedAt !== undefined) throw new PickupRefusedError(PickupRefusal.OFFBOARDED, 'the client is offboarded');
      const key = client.pickupKeys.find((candidate) => candidate.kid === kid);
      if (!key) throw new PickupRefusedError(PickupRefusal.UNKNOWN_KEY, 'no registered pickup key has this kid');
      const nowMs = parts.clock.nowMs();
      const { jti, exp } = await verifyPickupAssertion(form.assertion, { clientId, key, audience: parts.audience, nowMs });
      seen.jtiHash = jtiHashOf(jti);
      const spent = await parts.clients.spendJti(clientId, jti, exp + ASSERTION_CLOCK_TOLERANCE_SECONDS + JTI_RETENTION_MARGIN_SECONDS);
      if (!spent) throw new PickupRefusedError(PickupRefusal.REPLAYED, 'the jti was used before');
      const value = await parts.secrets.readVersion(client.secretId, client.currentVersionId);
      if (!value) throw new PickupKeyMismatchError(clientId, 'version-missing');
      if (hashApiKey(value.apiKey) !== client.currentKeyHash) throw new PickupKeyMismatchError(clientId, 'hash-mismatch');
      if (value.keyId !== client.currentKeyId) throw new PickupKeyMismatchError(clientId, 'key-id-mismatch');
      const jwe = await encryptPickup({ clientId, keyId: value.keyId, apiKey: value.apiKey, issuedAt: new Date(nowMs).toISOString() }, key);
      parts.metrics.addMetric(PickupMetric.SUCCEEDED, MetricUnit.Count, 1);
      parts.logger.info('pickup', { outcome: 'succeeded', ...seen, keyId: value.keyId });
      return answer(200, PICKUP_RESPONSE_MEDIA_TYPE, jwe);
    } catch (error) {
      if (error instanceof PickupRefusedError) {
        parts.metrics.addMetric(PickupMetric.REFUSED, MetricUnit.Count, 1);
        const single = parts.metrics.singleMetric();
        single.addDimension(PickupMetric.REASON_DIMENSION, error.reason);
        single.addMetric(PickupMetric.REFUSED_BY_REASON, MetricUnit.Count, 1);
        parts.logger.info('pickup', { outcome: 'refused', reason: error.reason, detail: error.detail, ...seen });
        return answer(error.status, 'application/json', PICKUP_ERROR_BODIES[error.status]);
      }
      parts.metrics.addMetric(PickupMetric.FAILED, MetricUnit.Count, 1);
      parts.logger.error('pickup', { outcome: 'failed', ...seen, error: describeError(error) });
      return answer(500, 'application/json', PICKUP_ERROR_BODIES[500]);
    } finally {
      if (parts.metrics.hasStoredMetrics()) parts.metrics.publishStoredMetrics();
    }
  };
}
