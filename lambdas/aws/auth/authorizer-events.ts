/**
 * API Gateway Lambda authorizer events in, responses out, for the three shapes KeyRoll
 * serves: REST API TOKEN and REQUEST authorizers (IAM policy responses) and HTTP API
 * authorizers with simple responses (payload format 2.0). Pure: no I/O, no key material
 * in anything returned.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEventV2, APIGatewayRequestAuthorizerEvent, APIGatewaySimpleAuthorizerWithContextResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { KeyRollError } from '../../core/errors';
import type { KeyVerdict } from '../../core/key-verifier';
import { apiKeyProblem } from '../../core/api-key';

/** The events this authorizer accepts. */
export type AuthorizerEvent = APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent | APIGatewayRequestAuthorizerEventV2;

/** Context handed to the backend on success: ids and scopes only. */
export interface AuthorizerContext {
  [name: string]: string;
  clientId: string;
  keyId: string;
  keyRole: string;
  /** Space-separated, as OAuth scopes are. */
  scopes: string;
}

/** A request in the terms the verifier needs. */
export interface AuthorizationRequest {
  readonly kind: 'rest' | 'http';
  /** The presented credential, or undefined if none was sent. */
  readonly presented: string | undefined;
  /** `METHOD /path` of the called route, to look up the scopes it needs. */
  readonly route: string | undefined;
  /**
   * The route API Gateway matched, when the event names it: an HTTP API's `routeKey`, a REST
   * REQUEST event's `METHOD resource` (the resource template). Looked up exactly first.
   */
  readonly routeKey?: string;
  /**
   * The API called (the method or route ARN's API id): the key of its own route scopes
   * (API_ROUTE_SCOPES); absent when the ARN does not name one.
   */
  readonly apiId?: string;
  /** REST only: the method ARN the policy must name. */
  readonly methodArn?: string;
}

/** The REST API answer for a missing, malformed, unknown, revoked or expired key: a 401. */
export class UnauthorizedError extends KeyRollError {
  override readonly name = 'Unauthorized';
  // API Gateway maps exactly this message to 401 Unauthorized.
  constructor() {
    super('Unauthorized');
  }
}

/**
 * The header KeyRoll clients send: `Authorization: Bearer <key>`; `x-api-key: <key>` is accepted too.
 * `Authorization` wins, unless what it carries is not shaped like a key at all (a user's JWT, Basic
 * credentials) and `x-api-key` is present: APIs that keep `Authorization` for their own users put
 * the KeyRoll key in `x-api-key` (`keyHeader: 'x-api-key'`). A key-shaped value with a bad checksum
 * still wins, and is refused as malformed. A value that is not a string (a malformed or hand-built
 * event) counts as absent: it must end in a refusal, not a TypeError (a 500 instead of a 401).
 */
export function credentialFrom(authorization: unknown, apiKeyHeader?: unknown): string | undefined {
  const apiKey = (typeof apiKeyHeader === 'string' && apiKeyHeader.trim()) || undefined;
  if (typeof authorization === 'string' && authorization.trim() !== '') {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const fromAuthorization = match ? match[1] : authorization.trim();
    if (apiKey === undefined) return fromAuthorization;
    const problem = apiKeyProblem(fromAuthorization);
    return problem === 'length' || problem === 'format' ? apiKey : fromAuthorization;
  }
  return apiKey;
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === wanted) return typeof value === 'string' ? value : undefined;
  return undefined;
}

/**
 * The resource of an execute-api ARN, `arn:partition:execute-api:region:account:<apiId/stage/METHOD/path>`,
 * split on `/`. Only the first five colons separate ARN fields: the path may hold more
 * (`/files/a:b/admin`), and splitting on every colon would judge that call as `GET /files/a`.
 */
function arnResource(methodArn: string): string[] | undefined {
  let at = -1;
  for (let field = 0; field < 5; field++) {
    at = methodArn.indexOf(':', at + 1);
    if (at < 0) return undefined;
  }
  if (!methodArn.startsWith('arn:') || methodArn.split(':', 3)[2] !== 'execute-api') return undefined;
  return methodArn.slice(at + 1).split('/');
}

/** `METHOD /path` from a REST method ARN (or an HTTP API's route ARN), `arn:partition:execute-api:region:account:apiId/stage/METHOD/path`. */
export function routeFromMethodArn(methodArn: string): string | undefined {
  const parts = arnResource(methodArn);
  if (parts === undefined || parts.length < 3 || parts[2] === '') return undefined;
  return `${parts[2]} /${parts.slice(3).join('/')}`;
}

/** The API id of a REST method ARN or an HTTP API's route ARN: which API's own route scopes apply. */
export function apiIdFromMethodArn(methodArn: string): string | undefined {
  const parts = arnResource(methodArn);
  return parts === undefined || parts.length < 3 || parts[0] === '' ? undefined : parts[0];
}

/** The route and API id of an ARN, when it is a string. */
function fromArn(arn: unknown): { route: string | undefined; apiId?: string } {
  if (typeof arn !== 'string') return { route: undefined };
  const apiId = apiIdFromMethodArn(arn);
  return { route: routeFromMethodArn(arn), ...(apiId === undefined ? {} : { apiId }) };
}

/** `METHOD /resource` of a REST REQUEST event: the resource template API Gateway matched. */
function restRouteKey(event: APIGatewayRequestAuthorizerEvent): string | undefined {
  const { httpMethod, resource } = event as { httpMethod?: unknown; resource?: unknown };
  return typeof httpMethod === 'string' && /^[A-Z]+$/.test(httpMethod) && typeof resource === 'string' && resource.startsWith('/') ? `${httpMethod} ${resource}` : undefined;
}

/** Reads the credential and the route out of any supported event. */
export function readAuthorizerEvent(event: AuthorizerEvent): AuthorizationRequest {
  if ('version' in event && event.version === '2.0') {
    // The routeKey names the exact route API Gateway chose (`$default` names none).
    const routeKey = typeof event.routeKey === 'string' ? event.routeKey : undefined;
    const called = fromArn(event.routeArn);
    return {
      kind: 'http',
      presented: credentialFrom(headerOf(event.headers, 'authorization'), headerOf(event.headers, 'x-api-key')),
      // The routeArn names the called path (`<api>/<stage>/<METHOD>/<path>`), as a REST methodArn
      // does (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
      route: called.route ?? routeKey,
      ...(routeKey ? { routeKey } : {}),
      ...(called.apiId === undefined ? {} : { apiId: called.apiId }),
    };
  }
  const rest = event as APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent;
  const { route, ...api } = fromArn(rest.methodArn);
  if (rest.type === 'TOKEN') return { kind: 'rest', presented: credentialFrom(rest.authorizationToken), route, ...api, methodArn: rest.methodArn };
  const routeKey = restRouteKey(rest);
  return {
    kind: 'rest',
    presented: credentialFrom(headerOf(rest.headers, 'authorization'), headerOf(rest.headers, 'x-api-key')),
    route,
    ...(routeKey ? { routeKey } : {}),
    ...api,
    methodArn: rest.methodArn,
  };
}

function contextOf(verdict: Extract<KeyVerdict, { accepted: true }>): AuthorizerContext {
  const { principal } = verdict;
  return { clientId: principal.clientId, keyId: principal.keyId, keyRole: principal.keyRole, scopes: principal.scopes.join(' ') };
}

/** HTTP API simple response. */
export function httpApiResponse(verdict: KeyVerdict): APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext | Record<string, string>> {
  if (verdict.accepted) return { isAuthorized: true, context: contextOf(verdict) };
  return { isAuthorized: false, context: { reason: verdict.reason } };
}

/**
 * REST API response: an Allow policy for this method on success, a Deny policy (403) for
 * a valid key without the scope, and {@link UnauthorizedError} (401) for everything else.
 */
export function restApiResponse(verdict: KeyVerdict, methodArn: string): APIGatewayAuthorizerResult {
  const policy = (effect: 'Allow' | 'Deny') => ({
    Version: '2012-10-17',
    Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
  });
  if (verdict.accepted) return { principalId: verdict.principal.clientId, policyDocument: policy('Allow'), context: contextOf(verdict) };
  if (verdict.reason === 'insufficient_scope' && verdict.clientId) {
    return { principalId: verdict.clientId, policyDocument: policy('Deny'), context: { reason: verdict.reason } };
  }
  throw new UnauthorizedError();
}
