/**
 * The deployment-wide route-scope map (ROUTE_SCOPES, UNLISTED_ROUTES) from KeyRollAuth's
 * `routeScopes` and `denyUnlistedRoutes`: for every API the authorizer guards that has no map of
 * its own (the example API among them). Each API's own map is in api-route-scope-maps.ts.
 */
import { RouteScopes, type UnlistedRoutes } from '../lambdas/aws/auth/route-scopes';

/** Routes to scopes, validated as the authorizer will read them. */
export class RouteScopeMap {
  private readonly json: string;
  private readonly parsed: RouteScopes;

  /**
   * @param unlisted `denyUnlistedRoutes` as configured; undefined: RouteScopes' default for the map.
   * @throws InvalidRouteScopesError when the authorizer would refuse the map.
   */
  constructor(unlisted: UnlistedRoutes | undefined, routeScopes: Record<string, string[]> | undefined) {
    this.json = JSON.stringify(routeScopes ?? {});
    this.parsed = RouteScopes.parse(this.json, unlisted);
  }

  /** ROUTE_SCOPES: the map as JSON. */
  toJson(): string {
    return this.json;
  }

  /** Scopes `route` (`METHOD /path`, also its route key) needs; undefined: refused to every key. */
  required(route: string): readonly string[] | undefined {
    return this.parsed.required({ route, routeKey: route });
  }

  /** UNLISTED_ROUTES: as configured, or the default for the map. */
  unlistedRoutes(): UnlistedRoutes {
    return this.parsed.unlisted;
  }
}
