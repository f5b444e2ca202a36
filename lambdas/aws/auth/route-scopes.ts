/**
 * Which scopes each route needs, configured as JSON: `{"GET /orders": ["orders:read"],
 * "POST /orders/{id}": ["orders:write"], "*": []}`. Patterns use API Gateway's syntax:
 * `{name}` matches one path segment, `{name+}` the rest of the path, method `ANY` any
 * method; `*` is the default for routes no pattern matches.
 */
import * as v from 'valibot';

const SCOPE = v.pipe(v.string(), v.regex(/^[A-Za-z0-9:._*/-]{1,64}$/, 'scopes are 1-64 characters of [A-Za-z0-9:._*/-]'));
const ROUTE_SCOPES_SCHEMA = v.record(
  v.pipe(v.string(), v.regex(/^(\*|(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \/\S*)$/, 'routes are "METHOD /path" or "*"')),
  v.array(SCOPE),
);

/** The ROUTE_SCOPES configuration was not valid. */
export class InvalidRouteScopesError extends Error {
  override readonly name = 'InvalidRouteScopes';
}

interface CompiledRoute {
  readonly method: string;
  readonly pattern: RegExp;
  readonly scopes: readonly string[];
}

/** Maps a called route to the scopes it requires. */
export class RouteScopes {
  private readonly routes: CompiledRoute[];
  private readonly fallback: readonly string[];

  private constructor(config: Record<string, string[]>) {
    // Frozen: the verifier remembers its scope check per frozen array, and nothing may change one under it.
    this.fallback = Object.freeze([...(config['*'] ?? [])]);
    this.routes = Object.entries(config)
      .filter(([route]) => route !== '*')
      .map(([route, scopes]) => {
        const [method, path] = route.split(' ', 2) as [string, string];
        const source = path
          .split('/')
          .map((segment) => (/^\{[^}]+\+\}$/.test(segment) ? '.+' : /^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join('/');
        return { method, pattern: new RegExp(`^${source}$`), scopes: Object.freeze([...scopes]) };
      });
  }

  /** Parses the JSON configuration; empty or absent means no route needs a scope. */
  static parse(json: string | undefined): RouteScopes {
    if (json === undefined || json.trim() === '') return new RouteScopes({});
    let raw: unknown;
    try {
      raw = JSON.parse(json);
    } catch {
      throw new InvalidRouteScopesError('ROUTE_SCOPES must be a JSON object of "METHOD /path" to a list of scopes.');
    }
    const result = v.safeParse(ROUTE_SCOPES_SCHEMA, raw);
    if (!result.success) throw new InvalidRouteScopesError(`ROUTE_SCOPES is invalid: ${result.issues.map((i) => i.message).join('; ')}`);
    return new RouteScopes(result.output);
  }

  /** Scopes the route `METHOD /path` (a concrete path or a route key) requires. */
  required(route: string | undefined): readonly string[] {
    if (!route) return this.fallback;
    const [method, path = ''] = route.split(' ', 2);
    const match = this.routes.find((r) => (r.method === 'ANY' || r.method === method) && r.pattern.test(path));
    return match ? match.scopes : this.fallback;
  }
}
