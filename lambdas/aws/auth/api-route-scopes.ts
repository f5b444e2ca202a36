/**
 * Route scopes per API, API_ROUTE_SCOPES: `{"<apiId>": {"routes": {"GET /orders": ["orders:read"]},
 * "unlisted": "deny"}}`, written at synth from `restApiAuthorizer({ routeScopes })` and
 * `httpApiAuthorizer({ routeScopes })`. One authorizer function guards every API it is attached
 * to, so a map given for one API must be looked up by that API's id (the method or route ARN's):
 * merged into ROUTE_SCOPES, an API's `"*": []` would open every other API's unlisted routes.
 * APIs not listed here use ROUTE_SCOPES (the deployment-wide map).
 */
import * as v from 'valibot';
import { InvalidRouteScopesError, RouteScopes } from './route-scopes';

// API Gateway ids are short alphanumerics; nothing else can be the first segment of an execute-api ARN resource.
const API_ID = v.pipe(v.string(), v.regex(/^[A-Za-z0-9]{1,64}$/, 'API ids are 1-64 letters or digits'));
const API_ROUTE_SCOPES_SCHEMA = v.record(API_ID, v.strictObject({ routes: v.record(v.string(), v.unknown()), unlisted: v.picklist(['allow', 'deny'], 'unlisted is "allow" or "deny"') }));

/**
 * Parses API_ROUTE_SCOPES into each API's own RouteScopes, by API id; empty or absent: none.
 * @throws InvalidRouteScopesError for malformed JSON, a bad API id, or an API's invalid map (see RouteScopes.parse).
 */
export function parseApiRouteScopes(json: string | undefined): ReadonlyMap<string, RouteScopes> {
  if (json === undefined || json.trim() === '') return new Map();
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidRouteScopesError('API_ROUTE_SCOPES must be a JSON object of API id to {"routes": {...}, "unlisted": "allow"|"deny"}.');
  }
  const result = v.safeParse(API_ROUTE_SCOPES_SCHEMA, raw);
  if (!result.success) throw new InvalidRouteScopesError(`API_ROUTE_SCOPES is invalid: ${result.issues.map((i) => i.message).join('; ')}`);
  const byApi = new Map<string, RouteScopes>();
  for (const [apiId, { routes, unlisted }] of Object.entries(result.output)) {
    try {
      byApi.set(apiId, RouteScopes.parse(JSON.stringify(routes), unlisted));
    } catch (error) {
      if (error instanceof InvalidRouteScopesError) throw new InvalidRouteScopesError(`API_ROUTE_SCOPES of API ${apiId}: ${error.message}`, { cause: error });
      throw error;
    }
  }
  return byApi;
}
