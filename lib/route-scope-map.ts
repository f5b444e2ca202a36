/**
 * The authorizer function's one route-scope map, built at synth from KeyRollAuth's
 * `routeScopes` and those of every API it is attached to (`restApiAuthorizer({ routeScopes })`,
 * `httpApiAuthorizer({ routeScopes })`). One function guards every such API and reads one
 * ROUTE_SCOPES, so a route given two different scope sets could only keep one of them: that is
 * a synth error, never a silent choice.
 */
import { RouteScopes, type UnlistedRoutes } from '../lambdas/aws/auth/route-scopes';

/** The same route was given different scopes by two sources of the merged route-scope map. */
export class ConflictingRouteScopesError extends Error {
  override readonly name = 'ConflictingRouteScopes';
}

interface Entry {
  readonly scopes: readonly string[];
  /** Who set it, for the error message. */
  readonly source: string;
}

const sameScopes = (a: readonly string[], b: readonly string[]) => {
  // A key needs every listed scope, so order and repetition do not matter.
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((scope) => right.has(scope));
};

/** Routes to scopes, merged from several sources, validated as the authorizer will read them. */
export class RouteScopeMap {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param unlisted `denyUnlistedRoutes` as configured; undefined: RouteScopes' default for the merged map.
   * @throws InvalidRouteScopesError (from `add`) for an invalid initial map.
   */
  constructor(
    private readonly unlisted: UnlistedRoutes | undefined,
    initial: Record<string, string[]> | undefined,
    source: string,
  ) {
    this.add(initial ?? {}, source);
  }

  /**
   * Merges `routeScopes` in; nothing changes when it throws.
   * @throws ConflictingRouteScopesError when a route is already listed with other scopes.
   * @throws InvalidRouteScopesError when the merged map is not one the authorizer accepts.
   */
  add(routeScopes: Record<string, string[]>, source: string): void {
    const merged = new Map(this.entries);
    for (const [route, scopes] of Object.entries(routeScopes)) {
      const existing = merged.get(route);
      if (existing === undefined) {
        merged.set(route, { scopes: [...scopes], source });
      } else if (!sameScopes(existing.scopes, scopes)) {
        throw new ConflictingRouteScopesError(
          `Route "${route}" needs ${JSON.stringify(existing.scopes)} in ${existing.source} but ${JSON.stringify(scopes)} in ${source}. The KeyRoll authorizer has one route-scope map for every API it guards: give the route the same scopes everywhere.`,
        );
      }
    }
    RouteScopes.parse(render(merged), this.unlisted);
    for (const [route, entry] of merged) this.entries.set(route, entry);
  }

  /** ROUTE_SCOPES: the merged map as JSON, in the order routes were added. */
  toJson(): string {
    return render(this.entries);
  }

  /** Scopes `route` (`METHOD /path`, also its route key) needs under the merged map; undefined: refused to every key. */
  required(route: string): readonly string[] | undefined {
    return RouteScopes.parse(this.toJson(), this.unlisted).required({ route, routeKey: route });
  }

  /** UNLISTED_ROUTES: as configured, or the default for the merged map. */
  unlistedRoutes(): UnlistedRoutes {
    return RouteScopes.parse(this.toJson(), this.unlisted).unlisted;
  }
}

function render(entries: ReadonlyMap<string, Entry>): string {
  return JSON.stringify(Object.fromEntries([...entries].map(([route, entry]) => [route, entry.scopes])));
}
