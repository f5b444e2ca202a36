/**
 * Each attached API's own route-scope map: `restApiAuthorizer({ routeScopes })` and
 * `httpApiAuthorizer({ routeScopes })` apply to that API only. One authorizer function guards
 * every API it is attached to, so the maps go into its API_ROUTE_SCOPES keyed by API id (a token
 * until deploy) and the function picks the called API's map by the id in the method or route
 * ARN (lambdas/aws/auth/api-route-scopes.ts). Merged into one map instead, one API's `"*": []`
 * would open another API's unlisted routes.
 */
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { RouteScopes, type UnlistedRoutes } from '../lambdas/aws/auth/route-scopes';

/** One API was given two different route-scope maps (two authorizers attached to it). */
export class ConflictingRouteScopesError extends Error {
  override readonly name = 'ConflictingRouteScopes';
}

/** Per-API route scopes were given for an API outside KeyRoll's stack, which the function cannot name. */
export class CrossStackRouteScopesError extends Error {
  override readonly name = 'CrossStackRouteScopes';
}

/** One API's own map, checked as the authorizer will read it. */
export interface ApiRouteScopeMap {
  readonly routes: Readonly<Record<string, readonly string[]>>;
  readonly unlisted: UnlistedRoutes;
  /** Who gave it, for error messages. */
  readonly source: string;
}

/**
 * The map of an authorizer call, or undefined when the call gives none (no routes and no
 * `denyUnlistedRoutes`): that API then uses the deployment-wide map.
 * @throws InvalidRouteScopesError when the authorizer would refuse the map.
 */
export function apiRouteScopeMap(routes: Record<string, string[]> | undefined, denyUnlistedRoutes: boolean | undefined, source: string): ApiRouteScopeMap | undefined {
  const given = routes ?? {};
  if (Object.keys(given).length === 0 && denyUnlistedRoutes === undefined) return undefined;
  // Parsed now, so a mistake fails at the call (InvalidRouteScopes), not every request; the
  // unlisted default is the deployment-wide map's: deny once routes are listed without "*".
  const parsed = RouteScopes.parse(JSON.stringify(given), denyUnlistedRoutes === undefined ? undefined : denyUnlistedRoutes ? 'deny' : 'allow');
  return { routes: Object.fromEntries(Object.entries(given).map(([route, scopes]) => [route, [...scopes]])), unlisted: parsed.unlisted, source };
}

// A key needs every listed scope, so order and repetition do not matter.
const sameScopes = (a: readonly string[], b: readonly string[]) => {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((scope) => right.has(scope));
};

const sameMap = (a: ApiRouteScopeMap, b: ApiRouteScopeMap) =>
  a.unlisted === b.unlisted &&
  Object.keys(a.routes).length === Object.keys(b.routes).length &&
  Object.entries(a.routes).every(([route, scopes]) => b.routes[route] !== undefined && sameScopes(scopes, b.routes[route]));

/** API_ROUTE_SCOPES of one authorizer function: each attached API's own map by API id. */
export class ApiRouteScopeMaps {
  /** By the API's id token (one string per API construct). */
  private readonly byApi = new Map<string, ApiRouteScopeMap>();

  /**
   * @param home the construct owning the authorizer function (its stack must hold the APIs).
   * @param onFirst called when the first map is attached: so a deployment without one keeps its template unchanged.
   */
  constructor(
    private readonly home: IConstruct,
    private readonly onFirst: () => void,
  ) {}

  /**
   * Records that `map` guards the API `api` (id `apiId`); called each time an authorizer with
   * that map binds to a method or route of the API.
   * @throws CrossStackRouteScopesError when the API is not in the function's stack.
   * @throws ConflictingRouteScopesError when the API already has a different map.
   */
  attach(map: ApiRouteScopeMap, apiId: string, api: IConstruct): void {
    if (Stack.of(api) !== Stack.of(this.home)) {
      throw new CrossStackRouteScopesError(
        `${map.source} gives route scopes for API '${api.node.path}', which is not in the KeyRoll authorizer's stack: the function would have to name the API's id, and that stack already depends on KeyRoll's (a cycle). Put the API in KeyRoll's stack, or give its routes in KeyRollAuthProps.routeScopes (every API without a map of its own shares them).`,
      );
    }
    const existing = this.byApi.get(apiId);
    if (existing === undefined) {
      if (this.byApi.size === 0) this.onFirst();
      this.byApi.set(apiId, map);
    } else if (existing !== map && !sameMap(existing, map)) {
      throw new ConflictingRouteScopesError(
        `API '${api.node.path}' has route scopes from ${existing.source} and different ones from ${map.source}. An API has one route-scope map: give every authorizer of the API the same routeScopes, or routeScopes on one of them only.`,
      );
    }
  }

  /** API_ROUTE_SCOPES as JSON, the API ids as tokens; call at synth (in a Lazy) once every API is attached. */
  toJson(): string {
    return Stack.of(this.home).toJsonString(Object.fromEntries([...this.byApi].map(([apiId, map]) => [apiId, { routes: map.routes, unlisted: map.unlisted }])));
  }
}
