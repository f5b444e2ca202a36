/**
 * KeyRollAuth: the auth layer in AWS. The Lambda authorizer (REST TOKEN/REQUEST and HTTP
 * API) over the key table, ready-made API Gateway authorizers for a user's existing APIs
 * (`restApiAuthorizer()`, `httpApiAuthorizer()`), an example protected HTTP API, the auth
 * metrics as `metricXxx()` methods, and alarms on them to the ops topic.
 */
import { Duration, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as authorizers from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AUTH_METRICS_NAMESPACE, AUTH_METRICS_SERVICE, AuthMetric } from '../lambdas/core/auth-metric-names';
import { TABLE_KEY_ATTRIBUTES, KEY_ITEM_PK_PATTERN, USAGE_ATTRIBUTE } from '../lambdas/aws/table-keys';
import { KEY_PREFIX_PATTERN } from '../lambdas/core/api-key';
import { MAX_CACHE_TTL_MS } from '../lambdas/core/key-verifier';
import { keyRollFunction } from './keyroll-function';
import { acknowledgeTracing } from './nag-acknowledgements';
import { opsAlarm } from './ops-alarm';
import { ApiRouteScopeMaps, apiRouteScopeMap } from './api-route-scope-maps';
import { RouteScopeMap } from './route-scope-map';
import { regionalServiceHost, urlSuffixOf } from './service-endpoints';

/** Where the auth layer reads keys and sends alarms, and how it behaves. */
export interface KeyRollAuthProps {
  /** The KeyRoll table (key items are read by hash; lastUsedAt is written). */
  readonly table: dynamodb.ITable;
  /** The key that encrypts the table and the log groups. */
  readonly encryptionKey: kms.IKey;
  /** Alarms go here. */
  readonly opsTopic: sns.ITopic;
  /** Only keys with this prefix are looked up. */
  readonly keyPrefix: string;
  /**
   * How long a container reuses a key record: the revocation-latency bound. At most 10 s.
   * @default Duration.seconds(10)
   */
  readonly cacheTtl?: Duration;
  /**
   * How often a container writes a key's lastUsedAt at most. Usage-aware retirement needs
   * its usage window to be at least twice this.
   * @default Duration.minutes(5)
   */
  readonly usageRecordInterval?: Duration;
  /**
   * Scopes each route needs, `"METHOD /path"` (API Gateway path syntax) or `"*"` as the
   * default, to a list of scopes. The most specific route decides, as API Gateway routes: the
   * exact route key of the request first, then literal segments before `{param}` before
   * `{proxy+}`, and a named method before `ANY`; configuration order never matters. Malformed
   * routes, or two routes matching the same requests (`GET /a/{x}` and `GET /a/{y}`), fail
   * the synth with `InvalidRouteScopes`.
   * @default {} (scopes not in use: any valid key may call any route)
   */
  readonly routeScopes?: Record<string, string[]>;
  /**
   * Refuse routes that `routeScopes` does not list (a valid key gets 403 / `isAuthorized:
   * false`, `insufficient_scope`). Cannot be combined with a `"*"` entry, which gives unlisted
   * routes their scopes instead.
   * @default true when `routeScopes` lists a route and has no `"*"` (an allow-list is closed:
   *   a route it forgot is not open to every key); false otherwise, so `{}` keeps every route
   *   open to any valid key.
   */
  readonly denyUnlistedRoutes?: boolean;
  /**
   * Deploy the example protected HTTP API (`GET /whoami`) behind the authorizer.
   * @default true
   */
  readonly exampleApi?: boolean;
  /**
   * Failure rate (failures / attempts over 5 minutes, with at least 20 attempts) that raises the alarm.
   * @default 0.05
   */
  readonly failureRateThreshold?: number;
  /**
   * Failures in 5 minutes that raise the absolute-failures alarm.
   * @default 100
   */
  readonly failureCountThreshold?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The request header an attached API requires before it calls the authorizer (its identity
 * source). The authorizer reads `Authorization` (`Bearer <key>`, or the bare key) and, when
 * that is absent or carries no key-shaped value (an API's own users' JWT), `x-api-key`
 * (lambdas/aws/auth/authorizer-events.ts).
 * - `authorization`: what KeyRoll clients send by default; a request without it gets a 401
 *   from API Gateway without invoking the authorizer.
 * - `x-api-key`: for clients configured with `header: 'x-api-key'`; likewise.
 * - `either`: no identity source, so both headers work; API Gateway then invokes the
 *   authorizer for every request, credential or not (allowed because its cache is off), and
 *   the authorizer refuses a missing key itself (401 on REST, 403 on HTTP APIs).
 */
export type KeyRollKeyHeader = 'authorization' | 'x-api-key' | 'either';

/** Options of {@link KeyRollAuth.restApiAuthorizer} and {@link KeyRollAuth.httpApiAuthorizer}. */
export interface KeyRollApiAuthorizerOptions {
  /**
   * Scopes the routes of this API need, in the syntax of {@link KeyRollAuthProps.routeScopes}:
   * a REST route is `"METHOD /resource/{param}"` (the resource path of the method ARN), an HTTP
   * API route its route key. The map applies to this API only, to every method or route of it
   * (whichever KeyRoll authorizer they use), and replaces the deployment-wide
   * `KeyRollAuthProps.routeScopes` there: the function finds it by the API id of each request's
   * method or route ARN. Another API's map (its `"*"` included) never reaches this API. Once it
   * lists a route and no `"*"`, this API's unlisted routes are denied (see `denyUnlistedRoutes`).
   * It takes effect when the authorizer is attached to a method or route (an authorizer never
   * attached adds nothing). A malformed map fails with `InvalidRouteScopes` at this call; a
   * different map for the same API from another call fails with `ConflictingRouteScopes` when
   * the second is attached; an API outside KeyRoll's stack fails with `CrossStackRouteScopes`
   * (the function cannot name its id: use `KeyRollAuthProps.routeScopes` for it).
   * @default {} (no map of its own: the API uses `KeyRollAuthProps.routeScopes`)
   */
  readonly routeScopes?: Record<string, string[]>;
  /**
   * Refuse this API's routes that its `routeScopes` does not list; cannot be combined with a
   * `"*"` entry. Setting it gives the API a map of its own even when `routeScopes` is empty.
   * @default true when `routeScopes` lists a route and has no `"*"`; false otherwise
   */
  readonly denyUnlistedRoutes?: boolean;
  /**
   * The header API Gateway requires before invoking the authorizer.
   * @default 'authorization'
   */
  readonly keyHeader?: KeyRollKeyHeader;
  /**
   * The authorizer's name in API Gateway.
   * @default REST: the construct's unique id; HTTP: `KeyRollAuthorizer` (`KeyRollAuthorizer2`, … on later calls)
   */
  readonly authorizerName?: string;
}

/** Options of {@link KeyRollAuth.restApiAuthorizer}. */
export interface KeyRollRestApiAuthorizerOptions extends KeyRollApiAuthorizerOptions {
  /**
   * Where to create the authorizer and its invoke permission: any construct in the RestApi's
   * stack, when that is not KeyRoll's. The API's methods refer to the authorizer and the
   * authorizer to the API, so both must be in one stack; that stack then depends on KeyRoll's
   * (the function ARN), never the reverse.
   * @default this KeyRollAuth (the RestApi is in KeyRoll's stack)
   */
  readonly scope?: Construct;
}

const KEY_HEADER_NAMES: Record<Exclude<KeyRollKeyHeader, 'either'>, string> = { authorization: 'Authorization', 'x-api-key': 'x-api-key' };

/** The header names of `keyHeader`, none for `either`. */
function keyHeaderNames(keyHeader: KeyRollKeyHeader | undefined): string[] {
  const wanted = keyHeader ?? 'authorization';
  if (wanted === 'either') return [];
  const name = KEY_HEADER_NAMES[wanted] as string | undefined;
  if (name === undefined) throw new Error(`keyHeader must be 'authorization', 'x-api-key' or 'either'; got '${String(keyHeader)}'.`);
  return [name];
}

// API Gateway's own result cache would add its TTL to the verifier's revocation bound (README,
// "What the authorizer may do, and for how long"): every request must reach the authorizer.
const NO_API_GATEWAY_CACHE = Duration.seconds(0);

const PERIOD = Duration.minutes(5);
/** The example API's one route. */
const EXAMPLE_ROUTE = 'GET /whoami';

/** A RequestAuthorizer that reports the RestApi it is attached to: the API its route scopes apply to. */
class ScopedRequestAuthorizer extends apigw.RequestAuthorizer {
  constructor(
    scope: Construct,
    id: string,
    props: apigw.RequestAuthorizerProps,
    private readonly onAttach: (api: apigw.IRestApi) => void,
  ) {
    super(scope, id, props);
  }

  /** Called by every Method using it (CDK's hook; it refuses a second RestApi itself). */
  override _attachToApi(restApi: apigw.IRestApi): void {
    super._attachToApi(restApi);
    this.onAttach(restApi);
  }
}

/** An HttpLambdaAuthorizer that reports the HttpApi it binds to: the API its route scopes apply to. */
class ScopedHttpLambdaAuthorizer extends authorizers.HttpLambdaAuthorizer {
  constructor(
    id: string,
    handler: lambda.IFunction,
    props: authorizers.HttpLambdaAuthorizerProps,
    private readonly onBind: (api: apigwv2.IHttpApi) => void,
  ) {
    super(id, handler, props);
  }

  /** Called for every route using it (it refuses a second HttpApi itself). */
  override bind(options: apigwv2.HttpRouteAuthorizerBindOptions): apigwv2.HttpRouteAuthorizerConfig {
    const config = super.bind(options);
    this.onBind(options.route.httpApi);
    return config;
  }
}

/** The auth layer: authorizer, example API, metrics and alarms. */
export class KeyRollAuth extends Construct {
  /** The Lambda authorizer; attach it to REST APIs (TOKEN or REQUEST) or HTTP APIs (simple responses). */
  readonly authorizerFunction: lambda.IFunction;
  /** The example protected API, when deployed. */
  readonly exampleApi?: apigwv2.HttpApi;
  /** `GET /whoami` on the example API, when deployed: a URL testSecret can prove new keys against. */
  readonly exampleEndpointUrl?: string;
  /** ROUTE_SCOPES and UNLISTED_ROUTES of the authorizer: the props' deployment-wide map. */
  private readonly routeScopes: RouteScopeMap;
  /** API_ROUTE_SCOPES of the authorizer: each attached API's own map, by API id. */
  private readonly apiRouteScopes: ApiRouteScopeMaps;
  private restAuthorizers = 0;
  private httpAuthorizers = 0;

  constructor(scope: Construct, id: string, props: KeyRollAuthProps) {
    super(scope, id);
    const cacheTtl = props.cacheTtl ?? Duration.millis(MAX_CACHE_TTL_MS);
    // Checked here as the authorizer's configuration reader checks it at init: a mistake fails the synth, not every request.
    if (!Token.isUnresolved(props.keyPrefix) && !KEY_PREFIX_PATTERN.test(props.keyPrefix)) {
      throw new Error(`keyPrefix must be 2-16 lowercase letters or digits starting with a letter; got '${props.keyPrefix}'.`);
    }
    if (cacheTtl.toMilliseconds() > MAX_CACHE_TTL_MS) throw new Error(`cacheTtl must be at most ${MAX_CACHE_TTL_MS / 1000} seconds; got ${cacheTtl.toMilliseconds()} ms.`);
    const usageRecordInterval = props.usageRecordInterval ?? Duration.minutes(5);
    if (usageRecordInterval.toSeconds() < 1) throw new Error('usageRecordInterval must be at least 1 second.');
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const stack = Stack.of(this);
    // Parsed here, so a bad configuration fails the synth (InvalidRouteScopes), not every request.
    this.routeScopes = new RouteScopeMap(props.denyUnlistedRoutes === undefined ? undefined : props.denyUnlistedRoutes ? 'deny' : 'allow', props.routeScopes);

    const { fn, role } = keyRollFunction(this, 'Authorizer', {
      handlerFile: 'authorizer.ts',
      description: 'KeyRoll API key authorizer',
      environment: {
        TABLE_NAME: props.table.tableName,
        KEY_PREFIX: props.keyPrefix,
        CACHE_TTL_MS: String(cacheTtl.toMilliseconds()),
        USAGE_INTERVAL_SECONDS: String(usageRecordInterval.toSeconds()),
        ROUTE_SCOPES: this.routeScopes.toJson(),
        UNLISTED_ROUTES: this.routeScopes.unlistedRoutes(),
        // The lean DynamoDB client builds dynamodb.<region>.<suffix> from it: the suffix is the
        // partition's (amazonaws.com.cn in aws-cn, c2s.ic.gov in aws-iso, …), not a guess.
        AWS_URL_SUFFIX: urlSuffixOf(stack),
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      encryptionKey: props.encryptionKey,
      logRetention,
      removalPolicy,
      timeout: Duration.seconds(10),
    });
    // The internet-facing function may read key items and set their lastUsedAt, nothing else:
    // not a client item (the rotation lock), not an audit event, not a key's state. DynamoDB's
    // fine-grained access control enforces it per request
    // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
    // dynamodb:LeadingKeys is the request's partition key (ForAllValues is required with it;
    // Null=false so a request without one is not vacuously allowed); dynamodb:Attributes lists
    // every attribute an UpdateItem names, which must include the table's key attributes;
    // dynamodb:ReturnValues always has a value on UpdateItem (NONE unless asked), hence
    // StringEquals, and NONE so the write reads nothing back. GetItem gets no Attributes list:
    // the verifier reads the whole key record, so a list would only add a way to break it.
    const onKeyItems = {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [KEY_ITEM_PK_PATTERN] },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    };
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadKeyItems', actions: ['dynamodb:GetItem'], resources: [props.table.tableArn], conditions: onKeyItems }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RecordKeyUse',
        actions: ['dynamodb:UpdateItem'],
        resources: [props.table.tableArn],
        conditions: {
          ...onKeyItems,
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, USAGE_ATTRIBUTE] },
          StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(stack, 'dynamodb') } },
      }),
    );
    this.authorizerFunction = fn;
    // Added with the first API map only, so a deployment without one keeps its template; rendered
    // at synth, once every authorizer is attached, with the API ids as tokens.
    this.apiRouteScopes = new ApiRouteScopeMaps(this, () => fn.addEnvironment('API_ROUTE_SCOPES', Lazy.string({ produce: () => this.apiRouteScopes.toJson() })));
    acknowledgeTracing(role);

    if (props.exampleApi ?? true) {
      const backend = keyRollFunction(this, 'ExampleBackend', {
        handlerFile: 'example-whoami.ts',
        description: 'KeyRoll example protected API backend (GET /whoami)',
        environment: {},
        encryptionKey: props.encryptionKey,
        logRetention,
        removalPolicy,
      });
      acknowledgeTracing(backend.role);
      const authorizer = new authorizers.HttpLambdaAuthorizer('KeyAuthorizer', fn, {
        authorizerName: 'keyroll',
        responseTypes: [authorizers.HttpLambdaResponseType.SIMPLE],
        identitySource: ['$request.header.Authorization'],
        // API Gateway's own cache would add its TTL to the verifier's revocation bound.
        resultsCacheTtl: NO_API_GATEWAY_CACHE,
      });
      const api = new apigwv2.HttpApi(this, 'ExampleApi', { description: 'KeyRoll example API protected by the key authorizer', createDefaultStage: false });
      const accessLogs = new logs.LogGroup(this, 'ExampleApiAccessLogs', { retention: logRetention, encryptionKey: props.encryptionKey, removalPolicy });
      new apigwv2.HttpStage(this, 'ExampleApiStage', {
        httpApi: api,
        stageName: '$default',
        autoDeploy: true,
        throttle: { rateLimit: 100, burstLimit: 200 },
        accessLogSettings: {
          destination: new apigwv2.LogGroupLogDestination(accessLogs),
          // Ids only: the Authorization header is never logged.
          format: apigw.AccessLogFormat.custom(
            JSON.stringify({
              requestId: '$context.requestId',
              ip: '$context.identity.sourceIp',
              requestTime: '$context.requestTime',
              routeKey: '$context.routeKey',
              status: '$context.status',
              clientId: '$context.authorizer.clientId',
              keyId: '$context.authorizer.keyId',
              authorizerError: '$context.authorizer.error',
            }),
          ),
        },
      });
      // A deployment-wide map that lists routes and no "*" refuses GET /whoami to every key, and
      // testSecret's proof against it would fail every rotation.
      this.node.addValidation({
        validate: () =>
          this.routeScopes.required(EXAMPLE_ROUTE) === undefined
            ? [
                `The route scopes refuse the example API's "${EXAMPLE_ROUTE}" to every key (routes are listed without "*"), so the example API and the key proof against it would always fail. Add "${EXAMPLE_ROUTE}": [] to routeScopes, or set exampleApi: false (and a verifyEndpointUrl of your own).`,
              ]
            : [],
      });
      api.addRoutes({
        path: '/whoami',
        methods: [apigwv2.HttpMethod.GET],
        integration: new integrations.HttpLambdaIntegration('WhoAmI', backend.fn),
        authorizer,
      });
      this.exampleApi = api;
      this.exampleEndpointUrl = `${api.apiEndpoint}/whoami`;
    }
    this.createAlarms(props);
  }

  /**
   * A REQUEST authorizer for one of your existing REST APIs: the KeyRoll authorizer function,
   * API Gateway's result cache off (revocation takes effect at once), the `Authorization`
   * header as identity source, and invoke permission for that API's authorizer only. A
   * RequestAuthorizer attaches to one RestApi: call this once per API (each call makes a new
   * one) and pass it to every method of that API. For a RestApi in another stack, pass a
   * construct of that stack as `scope` (then without `routeScopes`: `CrossStackRouteScopes`).
   *
   * `routeScopes` given here apply to the RestApi this authorizer is attached to, and to that
   * API only: the function looks them up by the API id of each request's method ARN, so another
   * API's map (its `"*": []` included) never opens this API's routes, and this map never
   * touches theirs. Without `routeScopes` the API uses `KeyRollAuthProps.routeScopes`.
   *
   * @example
   * const authorizer = keyRoll.auth.restApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:read'] } });
   * api.root.addResource('orders').addResource('{id}').addMethod('GET', integration, { authorizer });
   */
  restApiAuthorizer(options: KeyRollRestApiAuthorizerOptions = {}): apigw.RequestAuthorizer {
    const scope = options.scope ?? this;
    const id = `${scope === this ? '' : 'KeyRoll'}RestApiAuthorizer${++this.restAuthorizers > 1 ? this.restAuthorizers : ''}`;
    const identitySources = keyHeaderNames(options.keyHeader).map((name) => apigw.IdentitySource.header(name));
    // Checked first: an invalid map leaves no authorizer behind.
    const map = apiRouteScopeMap(options.routeScopes, options.denyUnlistedRoutes, `restApiAuthorizer '${scope.node.path}/${id}'`);
    // In another stack, the function is referenced by ARN there, so the invoke permission (which
    // names the authorizer) is created in that stack too, and only that stack depends on KeyRoll's.
    const handler =
      Stack.of(scope) === Stack.of(this) ? this.authorizerFunction : lambda.Function.fromFunctionAttributes(scope, `${id}Function`, { functionArn: this.authorizerFunction.functionArn, sameEnvironment: true });
    const props: apigw.RequestAuthorizerProps = {
      handler,
      identitySources,
      resultsCacheTtl: NO_API_GATEWAY_CACHE,
      ...(options.authorizerName === undefined ? {} : { authorizerName: options.authorizerName }),
    };
    const authorizer = map === undefined ? new apigw.RequestAuthorizer(scope, id, props) : new ScopedRequestAuthorizer(scope, id, props, (api) => this.apiRouteScopes.attach(map, api.restApiId, api));
    // No identity source is an absent property, not the empty string the L2 renders.
    if (identitySources.length === 0) (authorizer.node.defaultChild as apigw.CfnAuthorizer).addPropertyDeletionOverride('IdentitySource');
    return authorizer;
  }

  /**
   * An authorizer for one of your existing HTTP APIs: the KeyRoll authorizer function with
   * simple responses (payload 2.0), API Gateway's result cache off (revocation takes effect at
   * once), the `Authorization` header as identity source, and invoke permission for that API's
   * authorizer only. It binds to the first HttpApi a route using it belongs to: call this once
   * per API and pass it to every route of that API. The HttpApi may be in another stack: the
   * authorizer and its permission are created beside the API, whose stack depends on KeyRoll's.
   *
   * `routeScopes` given here apply to the HttpApi this authorizer binds to, and to that API
   * only: the function looks them up by the API id of each request's route ARN, so another
   * API's map (its `"*": []` included) never opens this API's routes, and this map never
   * touches theirs. Without `routeScopes` the API uses `KeyRollAuthProps.routeScopes`. Per-API
   * maps need the API in KeyRoll's stack (`CrossStackRouteScopes` otherwise).
   *
   * @example
   * const authorizer = keyRoll.auth.httpApiAuthorizer({ routeScopes: { 'GET /orders/{id}': ['orders:read'] } });
   * httpApi.addRoutes({ path: '/orders/{id}', methods: [apigwv2.HttpMethod.GET], integration, authorizer });
   */
  httpApiAuthorizer(options: KeyRollApiAuthorizerOptions = {}): authorizers.HttpLambdaAuthorizer {
    const id = `KeyRollAuthorizer${++this.httpAuthorizers > 1 ? this.httpAuthorizers : ''}`;
    const identitySource = keyHeaderNames(options.keyHeader).map((name) => `$request.header.${name}`);
    const map = apiRouteScopeMap(options.routeScopes, options.denyUnlistedRoutes, `httpApiAuthorizer '${id}' of '${this.node.path}'`);
    const props: authorizers.HttpLambdaAuthorizerProps = {
      responseTypes: [authorizers.HttpLambdaResponseType.SIMPLE],
      identitySource,
      resultsCacheTtl: NO_API_GATEWAY_CACHE,
      ...(options.authorizerName === undefined ? {} : { authorizerName: options.authorizerName }),
    };
    if (map === undefined) return new authorizers.HttpLambdaAuthorizer(id, this.authorizerFunction, props);
    return new ScopedHttpLambdaAuthorizer(id, this.authorizerFunction, props, (api) => this.apiRouteScopes.attach(map, api.apiId, api));
  }

  /** Accepted keys (all roles). */
  metricAuthSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.authMetric(AuthMetric.SUCCEEDED, {}, props);
  }

  /** Rejected keys (all reasons). */
  metricAuthFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.authMetric(AuthMetric.FAILED, {}, props);
  }

  /** Rejected keys for one reason: malformed, unknown, pending, revoked, expired, insufficient_scope. */
  metricAuthFailedByReason(reason: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.authMetric(AuthMetric.FAILED_BY_REASON, { [AuthMetric.REASON_DIMENSION]: reason }, props);
  }

  /** Accepted calls with the previous (RETIRING) key: how much of a client still lags. */
  metricPreviousKeyUse(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.authMetric(AuthMetric.SUCCEEDED_BY_KEY_ROLE, { [AuthMetric.KEY_ROLE_DIMENSION]: 'previous' }, props);
  }

  /** Calls with a revoked key: a leaked key being tried, or a client that never updated. */
  metricRevokedKeyUse(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricAuthFailedByReason('revoked', props);
  }

  /** Calls with a previous key after its deadline. */
  metricExpiredKeyUse(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metricAuthFailedByReason('expired', props);
  }

  /** Failures / attempts over the period, 0 below 20 attempts so a handful of calls cannot page anyone. */
  metricAuthFailureRate(props?: { period?: Duration }): cloudwatch.MathExpression {
    const period = props?.period ?? PERIOD;
    return new cloudwatch.MathExpression({
      expression: 'IF((ok + failed) >= 20, failed / (ok + failed), 0)',
      usingMetrics: { ok: this.metricAuthSucceeded({ period }), failed: this.metricAuthFailed({ period }) },
      period,
      label: 'Authentication failure rate',
    });
  }

  private authMetric(metricName: string, dimensions: Record<string, string>, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: AUTH_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: AUTH_METRICS_SERVICE, ...dimensions },
      statistic: 'Sum',
      period: PERIOD,
      ...props,
    });
  }

  private createAlarms(props: KeyRollAuthProps): void {
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => opsAlarm(this, id, props.opsTopic, metric, description, threshold);
    alarm(
      'AuthFailureRateAlarm',
      this.metricAuthFailureRate(),
      props.failureRateThreshold ?? 0.05,
      'The share of rejected API keys is high: a rotation clients did not follow, or a credential-stuffing attempt.',
    );
    alarm('AuthFailuresAlarm', this.metricAuthFailed(), props.failureCountThreshold ?? 100, 'Many API key authentications failed in 5 minutes.');
    alarm('RevokedKeyUseAlarm', this.metricRevokedKeyUse(), 1, 'A revoked API key was presented: a leaked key being tried, or a client that never updated.');
    alarm('ExpiredKeyUseAlarm', this.metricExpiredKeyUse(), 1, 'A previous API key was presented after its deadline: a client did not follow a rotation.');
    alarm('AuthorizerErrorsAlarm', this.authorizerFunction.metricErrors({ period: PERIOD, statistic: 'Sum' }), 1, 'The KeyRoll authorizer failed (requests got 500s).');
  }
}
