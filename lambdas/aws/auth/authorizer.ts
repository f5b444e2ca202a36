/**
 * The Lambda authorizer's logic: read the event, verify the key (cached), check the
 * route's scopes, record use and metrics, answer in the event's own response shape.
 * Built from injected parts so tests run it against moto with a manual clock.
 *
 * Time: given the Lambda context, every table call is bounded by the invocation's remaining
 * time less {@link ANSWER_RESERVE_MS}, so a slow or throttling DynamoDB ends in an answer
 * (or a 500 from a thrown error, metrics flushed) rather than a Lambda timeout, and a usage
 * write never costs a verified request its answer.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayAuthorizerResult, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { Deadline, type InvocationTimer } from '../../core/deadline';
import type { KeyVerdict, KeyVerifier } from '../../core/key-verifier';
import { RejectionReason } from '../../core/verification';
import { recordVerdict } from './auth-metrics';
import { httpApiResponse, readAuthorizerEvent, restApiResponse, type AuthorizerEvent } from './authorizer-events';
import type { RouteScopes } from './route-scopes';
import type { UsageRecorder } from './usage-recorder';

/** What the authorizer is made of. */
export interface AuthorizerParts {
  readonly verifier: KeyVerifier;
  /** The deployment-wide route scopes (ROUTE_SCOPES): for every API without its own. */
  readonly routeScopes: RouteScopes;
  /**
   * Each API's own route scopes by API id (API_ROUTE_SCOPES): a map given for one API must
   * never decide a request to another, which one merged map would let it do.
   * @default none (every API uses `routeScopes`)
   */
  readonly apiRouteScopes?: ReadonlyMap<string, RouteScopes>;
  readonly usage: UsageRecorder;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** The authorizer's answer: an IAM policy (REST) or a simple response (HTTP API). */
export type AuthorizerResponse = APIGatewayAuthorizerResult | APIGatewaySimpleAuthorizerWithContextResult<Record<string, string>>;

/** Time kept, after the last table call, to answer and flush metrics before the Lambda timeout. */
export const ANSWER_RESERVE_MS = 500;

const NO_SCOPES: readonly string[] = Object.freeze([]);

/**
 * A route that unlisted-route denial refuses: a valid key gets the insufficient-scope answer
 * (403 on REST), whatever its scopes (`*` included); an invalid key keeps its own reason (401).
 */
function refusedRoute(verdict: KeyVerdict): KeyVerdict {
  if (!verdict.accepted) return verdict;
  const { clientId, keyId } = verdict.principal;
  return { accepted: false, reason: RejectionReason.INSUFFICIENT_SCOPE, clientId, keyId };
}

/**
 * Builds the authorizer function. REST rejections throw `Unauthorized` (401), as API Gateway
 * expects. With `context` (the Lambda context), table calls end by its remaining time.
 */
export function createAuthorizer(parts: AuthorizerParts): (event: AuthorizerEvent, context?: InvocationTimer) => Promise<AuthorizerResponse> {
  return async (event, context) => {
    const request = readAuthorizerEvent(event);
    const deadline = context && typeof context.getRemainingTimeInMillis === 'function' ? Deadline.ofInvocation(context, ANSWER_RESERVE_MS) : undefined;
    try {
      // One Map lookup: the called API's own map, else the deployment-wide one.
      const routeScopes = (request.apiId === undefined ? undefined : parts.apiRouteScopes?.get(request.apiId)) ?? parts.routeScopes;
      const required = routeScopes.required(request);
      const checked = await parts.verifier.verify(request.presented, required ?? NO_SCOPES, deadline);
      const verdict = required === undefined ? refusedRoute(checked) : checked;
      recordVerdict(parts.metrics, verdict);
      if (verdict.accepted) {
        await parts.usage.record(verdict.keyHash, deadline);
      } else {
        // Ids and the reason only: the presented value may be a real key sent to the wrong place.
        parts.logger.info('key rejected', {
          reason: verdict.reason,
          keyId: verdict.keyId,
          clientId: verdict.clientId,
          route: request.route,
          apiId: request.apiId,
          ...(required === undefined ? { unlistedRoute: true } : {}),
        });
      }
      return request.kind === 'http' ? httpApiResponse(verdict) : restApiResponse(verdict, request.methodArn!);
    } finally {
      // Nothing stored when metrics are disabled (POWERTOOLS_METRICS_DISABLED): skip the empty-flush warning.
      if (parts.metrics.hasStoredMetrics()) parts.metrics.publishStoredMetrics();
    }
  };
}
