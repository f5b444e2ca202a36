/**
 * Which scopes each route needs, configured as JSON: `{"GET /orders": ["orders:read"],
 * "POST /orders/{id}": ["orders:write"], "*": []}`. Patterns use API Gateway's syntax:
 * `{name}` matches one path segment, `{name+}` (last segment only) one or more, method `ANY`
 * any method; `*` holds the scopes of routes no pattern matches.
 *
 * The route that decides is the one API Gateway itself would pick, never the first in
 * configuration order:
 * - the route key the event names (an HTTP API's `routeKey`, a REST REQUEST event's
 *   `METHOD resource`), when it is configured exactly: API Gateway already chose that route;
 * - otherwise the most specific matching pattern: compared segment by segment from the left,
 *   a literal beats `{param}`, which beats `{proxy+}`; on equal paths a named method beats
 *   `ANY`. API Gateway routes by the most specific match, greedy variables after full matches,
 *   `ANY` only for methods a route does not define
 *   (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html,
 *   "Routing API requests"); a REST API's resource tree has the same order (a literal child
 *   resource before a `{param}` sibling before `{proxy+}`).
 * - otherwise `*`, or, with unlisted routes denied, nothing: the route is refused.
 *
 * A configuration two patterns of which match exactly the same requests (`GET /a/{x}` and
 * `GET /a/{y}`), or with a malformed path, is refused with {@link InvalidRouteScopesError}.
 */
import * as v from 'valibot';
import { KeyRollError } from '../../core/errors';

const SCOPE = v.pipe(v.string(), v.regex(/^[A-Za-z0-9:._*/-]{1,64}$/, 'scopes are 1-64 characters of [A-Za-z0-9:._*/-]'));
const ROUTE_SCOPES_SCHEMA = v.record(v.pipe(v.string(), v.regex(/^(\*|(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \/\S*)$/, 'routes are "METHOD /path" or "*"')), v.array(SCOPE));

/** The ROUTE_SCOPES configuration was not valid. */
export class InvalidRouteScopesError extends KeyRollError {
  override readonly name = 'InvalidRouteScopes';
}

/** What a route pattern segment is, in order of specificity (lower is more specific). */
const SegmentKind = { LITERAL: 0, PARAM: 1, GREEDY: 2 } as const;
type SegmentKind = (typeof SegmentKind)[keyof typeof SegmentKind];

/** One path segment of a route pattern. */
export interface Segment {
  readonly kind: SegmentKind;
  /** The literal text; empty for variables. */
  readonly text: string;
}

interface CompiledRoute {
  readonly key: string;
  readonly method: string;
  readonly segments: readonly Segment[];
  /** The path with variable names erased: two routes with the same method and shape are duplicates. */
  readonly shape: string;
  readonly scopes: readonly string[];
}

/** How routes that no pattern (and no `*`) names are treated. */
export type UnlistedRoutes = 'allow' | 'deny';

/** The route of one request, as the authorizer event gives it. */
export interface RequestRoute {
  /** `METHOD /path` of the call: a concrete path (REST method ARN) or a route key. */
  readonly route: string | undefined;
  /** The route API Gateway matched (`METHOD /template`), when the event names it. */
  readonly routeKey?: string | undefined;
}

const VARIABLE = /^\{([A-Za-z0-9_.-]+)(\+?)\}$/;

function parseSegments(key: string, path: string): Segment[] {
  const parts = path.split('/').slice(1);
  return parts.map((part, index) => {
    const variable = VARIABLE.exec(part);
    if (variable) {
      if (variable[2] === '+' && index !== parts.length - 1) throw new InvalidRouteScopesError(`ROUTE_SCOPES route "${key}": a greedy variable must be the last segment.`);
      return { kind: variable[2] === '+' ? SegmentKind.GREEDY : SegmentKind.PARAM, text: '' };
    }
    if (/[{}]/.test(part)) throw new InvalidRouteScopesError(`ROUTE_SCOPES route "${key}": segment "${part}" is neither a literal nor a {variable}.`);
    return { kind: SegmentKind.LITERAL, text: part };
  });
}

function compile(key: string, scopes: readonly string[]): CompiledRoute {
  const space = key.indexOf(' ');
  const method = key.slice(0, space);
  const segments = parseSegments(key, key.slice(space + 1));
  const shape = segments.map((s) => (s.kind === SegmentKind.LITERAL ? `=${s.text}` : s.kind === SegmentKind.PARAM ? '{}' : '{+}')).join('/');
  // Frozen: the verifier remembers its scope check per frozen array, and nothing may change one under it.
  return { key, method, segments, shape, scopes: Object.freeze([...scopes]) };
}

/** Whether `route` matches the path segments (a concrete path, or a route key's template). */
function matches(route: CompiledRoute, path: readonly string[]): boolean {
  const { segments } = route;
  const last = segments[segments.length - 1];
  if (last?.kind === SegmentKind.GREEDY) {
    // One or more segments, not empty: `/files/{proxy+}` does not match `/files/`.
    if (path.length < segments.length || path.slice(segments.length - 1).join('/') === '') return false;
  } else if (path.length !== segments.length) {
    return false;
  }
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    if (segment.kind === SegmentKind.GREEDY) return true;
    if (segment.kind === SegmentKind.PARAM ? path[i] === '' : segment.text !== path[i]) return false;
  }
  return true;
}

/**
 * Negative when `a` is more specific than `b`: the first segment whose kind differs decides
 * (literal before `{param}` before `{proxy+}`), then a named method beats `ANY`. Only called
 * for two routes that match the same path, so equal kinds mean equal literals.
 */
export function compareSpecificity(a: { segments: readonly Segment[]; method: string }, b: { segments: readonly Segment[]; method: string }): number {
  const length = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const difference = a.segments[i].kind - b.segments[i].kind;
    if (difference !== 0) return difference;
  }
  // Same kinds on the common prefix: the longer one has a literal or param where the other's greedy tail is.
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  return (a.method === 'ANY' ? 1 : 0) - (b.method === 'ANY' ? 1 : 0);
}

/** Maps a called route to the scopes it requires. */
export class RouteScopes {
  private readonly routes: readonly CompiledRoute[];
  private readonly byKey: ReadonlyMap<string, CompiledRoute>;
  /** Scopes of unlisted routes; undefined when they are denied. */
  private readonly fallback: readonly string[] | undefined;
  /** How unlisted routes are treated. */
  readonly unlisted: UnlistedRoutes;

  private constructor(config: Record<string, string[]>, unlisted: UnlistedRoutes | undefined) {
    const star = config['*'];
    const listed = Object.entries(config).filter(([route]) => route !== '*');
    // See defaultUnlistedRoutes: an allow-list is closed unless it says otherwise.
    this.unlisted = unlisted ?? defaultUnlistedRoutes(listed.length, star !== undefined);
    if (this.unlisted === 'deny' && star !== undefined) {
      throw new InvalidRouteScopesError('ROUTE_SCOPES has "*" (scopes for unlisted routes) while unlisted routes are denied; remove one of them.');
    }
    this.fallback = this.unlisted === 'deny' ? undefined : Object.freeze([...(star ?? [])]);
    this.routes = listed.map(([route, scopes]) => compile(route, scopes));
    const shapes = new Map<string, string>();
    for (const route of this.routes) {
      const previous = shapes.get(`${route.method} ${route.shape}`);
      if (previous !== undefined) throw new InvalidRouteScopesError(`ROUTE_SCOPES routes "${previous}" and "${route.key}" match the same requests.`);
      shapes.set(`${route.method} ${route.shape}`, route.key);
    }
    this.byKey = new Map(this.routes.map((route) => [route.key, route]));
  }

  /**
   * Parses the JSON configuration; empty or absent means no route needs a scope.
   * @param unlisted how routes no pattern names are treated; default {@link defaultUnlistedRoutes}.
   * @throws InvalidRouteScopesError for malformed JSON, routes or scopes, duplicate routes, or `*` with `deny`.
   */
  static parse(json: string | undefined, unlisted?: UnlistedRoutes): RouteScopes {
    if (json === undefined || json.trim() === '') return new RouteScopes({}, unlisted);
    let raw: unknown;
    try {
      raw = JSON.parse(json);
    } catch {
      throw new InvalidRouteScopesError('ROUTE_SCOPES must be a JSON object of "METHOD /path" to a list of scopes.');
    }
    const result = v.safeParse(ROUTE_SCOPES_SCHEMA, raw);
    if (!result.success) throw new InvalidRouteScopesError(`ROUTE_SCOPES is invalid: ${result.issues.map((i) => i.message).join('; ')}`);
    return new RouteScopes(result.output, unlisted);
  }

  /**
   * Scopes the request's route requires, or undefined when the route is unlisted and unlisted
   * routes are denied. `request` may be the `METHOD /path` string alone.
   */
  required(request: RequestRoute | string | undefined): readonly string[] | undefined {
    const { route, routeKey } = typeof request === 'object' ? request : { route: request, routeKey: undefined };
    const exact = routeKey === undefined ? undefined : this.byKey.get(routeKey);
    if (exact) return exact.scopes;
    // The route as called decides, not the template API Gateway matched (a `{proxy+}` resource
    // or `$default` would hide a more specific configured route): the same answer as a TOKEN
    // authorizer, which sees only the called path.
    const best = this.mostSpecific(route ?? routeKey);
    return best ? best.scopes : this.fallback;
  }

  /** The configured route that decides for `route` (`METHOD /path`), by specificity; undefined if none matches. */
  mostSpecific(route: string | undefined): { readonly key: string; readonly scopes: readonly string[] } | undefined {
    if (!route) return undefined;
    const space = route.indexOf(' ');
    if (space < 0) return undefined;
    const method = route.slice(0, space);
    const path = route.slice(space + 1);
    if (!path.startsWith('/')) return undefined;
    const segments = path.split('/').slice(1);
    let best: CompiledRoute | undefined;
    for (const candidate of this.routes) {
      if ((candidate.method !== 'ANY' && candidate.method !== method) || !matches(candidate, segments)) continue;
      if (best === undefined || compareSpecificity(candidate, best) < 0) best = candidate;
    }
    return best;
  }
}

/**
 * The default for unlisted routes: denied when the configuration lists routes and has no
 * `*`, allowed otherwise. A list of routes with scopes is an allow-list, so a route it forgot
 * (a new admin route) is closed rather than open to every valid key; `"*": []` opens unlisted
 * routes again explicitly. No configuration at all means scopes are not in use, and every
 * route stays open to every valid key (the example API's `GET /whoami` relies on it).
 */
export function defaultUnlistedRoutes(listedRoutes: number, hasStar: boolean): UnlistedRoutes {
  return listedRoutes > 0 && !hasStar ? 'deny' : 'allow';
}
