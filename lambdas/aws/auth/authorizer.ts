/**
 * The Lambda authorizer's logic: read the event, verify the key (cached), check the
 * route's scopes, record use and metrics, answer in the event's own response shape.
 * Built from injected parts so tests run it against moto with a manual clock.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayAuthorizerResult, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import type { KeyVerifier } from '../../core/key-verifier';
import { recordVerdict } from './auth-metrics';
import { httpApiResponse, readAuthorizerEvent, restApiResponse, type AuthorizerEvent } from './authorizer-events';
import type { RouteScopes } from './route-scopes';
import type { UsageRecorder } from './usage-recorder';

/** What the authorizer is made of. */
export interface AuthorizerParts {
  readonly verifier: KeyVerifier;
  readonly routeScopes: RouteScopes;
  readonly usage: UsageRecorder;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** The authorizer's answer: an IAM policy (REST) or a simple response (HTTP API). */
export type AuthorizerResponse = APIGatewayAuthorizerResult | APIGatewaySimpleAuthorizerWithContextResult<Record<string, string>>;

/** Builds the authorizer function. REST rejections throw `Unauthorized` (401), as API Gateway expects. */
export function createAuthorizer(parts: AuthorizerParts): (event: AuthorizerEvent) => Promise<AuthorizerResponse> {
  return async (event) => {
    const request = readAuthorizerEvent(event);
    try {
      const verdict = await parts.verifier.verify(request.presented, parts.routeScopes.required(request.route));
      recordVerdict(parts.metrics, verdict);
      if (verdict.accepted) {
        await parts.usage.record(verdict.keyHash);
      } else {
        // Ids and the reason only: the presented value may be a real key sent to the wrong place.
        parts.logger.info('key rejected', { reason: verdict.reason, keyId: verdict.keyId, clientId: verdict.clientId, route: request.route });
      }
      return request.kind === 'http' ? httpApiResponse(verdict) : restApiResponse(verdict, request.methodArn!);
    } finally {
      // Nothing stored when metrics are disabled (POWERTOOLS_METRICS_DISABLED): skip the empty-flush warning.
      if (parts.metrics.hasStoredMetrics()) parts.metrics.publishStoredMetrics();
    }
  };
}
