/**
 * Key pickup for clients outside AWS: a REST API with one route, `POST /pickup`, proxied to a
 * small function that returns the client's current key encrypted to its registered public key,
 * to a request authenticated by an assertion signed with the client's private key (the
 * protocol: lambdas/core/pickup.ts). The assertion is the authentication, so the method has no
 * API Gateway authorizer (acknowledged in lib/nag-acknowledgements.ts).
 *
 * The function's role is a secret reader, confined as far as IAM allows: GetItem on client
 * items only, of the attributes a pickup needs; PutItem of jti items only, of their three
 * attributes; GetSecretValue on KeyRoll client secrets; kms:Decrypt only through Secrets Manager
 * (and the table's own key use only through DynamoDB).
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CLIENT_ITEM_PK_PATTERN, PICKUP_CLIENT_ATTRIBUTES, PICKUP_ITEM_PK_PATTERN, TABLE_KEY_ATTRIBUTES, TTL_ATTRIBUTE } from '../lambdas/aws/table-keys';
import { keyRollFunction } from './keyroll-function';
import { acknowledgePickupFindings } from './nag-acknowledgements';
import { regionalServiceHost, urlSuffixOf } from './service-endpoints';

/** Stage throttling of the pickup API. */
export interface KeyRollPickupThrottle {
  /** Steady-state requests per second, across all clients. @default 50 */
  readonly rateLimit?: number;
  /** Burst. @default 100 */
  readonly burstLimit?: number;
}

/** Options of the pickup endpoint (`KeyRollProps.pickup`). */
export interface KeyRollPickupOptions {
  /** @default rate 50/s, burst 100 */
  readonly throttle?: KeyRollPickupThrottle;
  /**
   * The URL clients put in their assertions' `aud`, exactly. Set it when clients reach the API
   * through a custom domain (`https://keys.example.com/pickup`).
   * @default the API's execute-api URL: `https://<restApiId>.execute-api.<region>.<urlSuffix>/<stage>/pickup`
   */
  readonly audience?: string;
  /**
   * Create the account-wide API Gateway CloudWatch Logs role (AWS::ApiGateway::Account) that
   * REST API access logging needs. Set false when the account already has one.
   * @default true (retained when the stack is deleted: other APIs of the account may use it)
   */
  readonly cloudWatchRole?: boolean;
}

/** What the pickup endpoint is built from. */
export interface KeyRollPickupProps extends KeyRollPickupOptions {
  readonly table: dynamodb.ITable;
  /** Encrypts the client secrets, the table and the log groups. */
  readonly encryptionKey: kms.IKey;
  /** Client secrets are named `<secretNamePrefix><clientId>`. */
  readonly secretNamePrefix: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The stage the API is deployed to (the URL's path starts with it). */
export const PICKUP_STAGE = 'v1';

/** The pickup endpoint: a REST API and its function. */
export class KeyRollPickup extends Construct {
  readonly api: apigw.RestApi;
  readonly function: lambda.IFunction;
  /** The function's role: a KeyRoll secret reader (client secret policies must let it through). */
  readonly role: iam.IRole;
  /** The pickup URL (stack output `PickupUrl`): what clients POST to and put in `aud`. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: KeyRollPickupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const throttle = { rateLimit: props.throttle?.rateLimit ?? 50, burstLimit: props.throttle?.burstLimit ?? 100 };
    if (!(throttle.rateLimit > 0) || !(throttle.burstLimit >= 1)) throw new Error(`pickup.throttle must be positive; got rate ${throttle.rateLimit}, burst ${throttle.burstLimit}.`);
    if (props.audience !== undefined && !/^https:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/.test(props.audience)) {
      throw new Error(`pickup.audience must be an https URL without query, fragment or userinfo; got '${props.audience}'.`);
    }

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: props.logRetention, encryptionKey: props.encryptionKey, removalPolicy: props.removalPolicy });
    this.api = new apigw.RestApi(this, 'Api', {
      description: 'KeyRoll key pickup for clients outside AWS (POST /pickup with a private_key_jwt assertion)',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      ...(props.cloudWatchRole === false ? { cloudWatchRole: false } : { cloudWatchRole: true, cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN }),
      deployOptions: {
        stageName: PICKUP_STAGE,
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
        tracingEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        // The standard fields only: no header, no body, no query string (the assertion travels in the body).
        accessLogFormat: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            httpMethod: '$context.httpMethod',
            resourcePath: '$context.resourcePath',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            integrationLatency: '$context.integrationLatency',
            tlsVersion: '$context.tlsVersion',
          }),
        ),
      },
    });
    // The URL is the PickupUrl output of KeyRoll's own outputs; the RestApi's automatic `Endpoint` output would be a second, unnamed one.
    this.api.node.tryRemoveChild('Endpoint');
    // TLS 1.2 at least on the default endpoint (API Gateway's TLS_1_2 policy, https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies.html).
    (this.api.node.defaultChild as apigw.CfnRestApi).securityPolicy = 'TLS_1_2';

    // Computed, not `api.url`: that names the stage, whose deployment depends on the method,
    // which depends on the function; the API id alone has no such edge (RestApi ← Function ← Method).
    this.url = props.audience ?? `https://${this.api.restApiId}.execute-api.${stack.region}.${urlSuffixOf(this)}/${PICKUP_STAGE}/pickup`;

    const { fn, role } = keyRollFunction(this, 'Pickup', {
      handlerFile: 'pickup.ts',
      description: 'KeyRoll key pickup: the current key, encrypted to the public key the client registered',
      environment: { TABLE_NAME: props.table.tableName, PICKUP_AUDIENCE: this.url, POWERTOOLS_LOG_LEVEL: 'INFO' },
      encryptionKey: props.encryptionKey,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      timeout: Duration.seconds(10),
    });
    this.function = fn;
    this.role = role;

    // DynamoDB fine-grained access control (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html):
    // LeadingKeys is the request's partition key (Null=false: a request without one is not
    // vacuously allowed); Attributes lists every attribute the request names (the table's keys
    // among them); PutItem's ReturnValues is sent as NONE, so the write reads nothing back.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadClientItems',
        actions: ['dynamodb:GetItem'],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [CLIENT_ITEM_PK_PATTERN] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, ...PICKUP_CLIENT_ATTRIBUTES] },
          Null: { 'dynamodb:LeadingKeys': 'false', 'dynamodb:Attributes': 'false' },
        },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SpendPickupJti',
        actions: ['dynamodb:PutItem'],
        resources: [props.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [PICKUP_ITEM_PK_PATTERN] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, TTL_ATTRIBUTE] },
          Null: { 'dynamodb:LeadingKeys': 'false' },
          StringEquals: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [props.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadClientSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${props.secretNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'secretsmanager') } },
      }),
    );

    // The assertion in the body is the authentication (verified by the function); API Gateway
    // only insists that a Content-Type is sent, before the function is invoked.
    const method = this.api.root.addResource('pickup').addMethod('POST', new apigw.LambdaIntegration(fn, { proxy: true, allowTestInvoke: false }), {
      authorizationType: apigw.AuthorizationType.NONE,
      requestParameters: { 'method.request.header.Content-Type': true },
      requestValidatorOptions: { requestValidatorName: 'pickup-headers', validateRequestParameters: true, validateRequestBody: false },
    });
    acknowledgePickupFindings({
      role,
      api: this.api.node.defaultChild!,
      method: method.node.defaultChild!,
      stage: this.api.deploymentStage.node.defaultChild!,
      cloudWatchRole: this.api.node.tryFindChild('CloudWatchRole'),
      secretNamePrefix: props.secretNamePrefix,
    });
  }
}
