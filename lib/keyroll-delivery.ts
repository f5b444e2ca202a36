/**
 * KeyRollDelivery: the function that projects each client's delivery record onto AWS
 * (lambdas/aws/delivery/): the client secret's resource policy, one KMS grant per reader and the
 * client topic's subscriptions. Its role is the only principal allowed to change those: each
 * secret policy denies Put/DeleteResourcePolicy to every other principal (written by the
 * function itself), and the client topic's policy, added here, denies sns:Subscribe and
 * sns:SetSubscriptionAttributes (the actions that make a subscription or change its filter:
 * https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html) to
 * everyone else, so no tenant can subscribe without the filter on its own client id.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { DELIVERY_READ_ATTRIBUTES, DELIVERY_STATE_ATTRIBUTE } from '../lambdas/aws/delivery/delivery-attributes';
import { TABLE_KEY_ATTRIBUTES } from '../lambdas/aws/table-keys';
import { NOTIFICATION_PROTOCOLS } from '../lambdas/core/delivery';
import { keyRollFunction } from './keyroll-function';
import type { KeyRollRotation } from './keyroll-rotation';
import { acknowledgeDeliveryFindings } from './nag-acknowledgements';
import { opsAlarm } from './ops-alarm';
import { regionalServiceHost } from './service-endpoints';

/** What the delivery function projects for. */
export interface KeyRollDeliveryProps {
  /** The rotation pipeline: its table, key, client topic, secret prefix and secret-reading roles. */
  readonly rotation: KeyRollRotation;
  /**
   * Other KeyRoll roles that read client secrets (the pickup function's): every secret policy
   * exempts them, with createSecret's and testSecret's, from its deny of other readers.
   * @default none
   */
  readonly extraSecretReaders?: readonly iam.IRole[];
}

/** The delivery function, its role, and the client topic's subscription guard. */
export class KeyRollDelivery extends Construct {
  /** Invoke with `{"clientId"}` (stack output DeliveryFunctionName). */
  readonly deliveryFunction: lambda.IFunction;
  /** The one principal that may change secret policies and client-topic subscriptions. */
  readonly role: iam.IRole;

  constructor(scope: Construct, id: string, props: KeyRollDeliveryProps) {
    super(scope, id);
    const { rotation } = props;
    const stack = Stack.of(this);
    const readers = [rotation.functions.createSecret.role!, rotation.functions.testSecret.role!, ...(props.extraSecretReaders ?? [])];
    const { fn, role } = keyRollFunction(this, 'Delivery', {
      handlerFile: 'project-delivery.ts',
      description: 'KeyRoll delivery: projects a client record onto its secret policy, KMS grants and subscriptions',
      environment: { POWERTOOLS_SERVICE_NAME: 'keyroll', POWERTOOLS_LOG_LEVEL: 'INFO' },
      encryptionKey: rotation.encryptionKey,
      logRetention: rotation.logRetention,
      removalPolicy: rotation.removalPolicy,
      timeout: Duration.seconds(60),
    });
    fn.addEnvironment('TABLE_NAME', rotation.table.tableName);
    fn.addEnvironment('KEY_ARN', rotation.encryptionKey.keyArn);
    fn.addEnvironment('CLIENT_TOPIC_ARN', rotation.clientTopic.topicArn);
    // Tokens joined here become one Fn::Join of the roles' ARNs.
    fn.addEnvironment('KEYROLL_SECRET_READER_ARNS', readers.map((r) => r.roleArn).join(','));
    fn.addEnvironment('DELIVERY_ROLE_ARN', role.roleArn);

    const secrets = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${rotation.secretNamePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadSecretPolicies', actions: ['secretsmanager:GetResourcePolicy'], resources: [secrets] }));
    // BlockPublicPolicy on: Secrets Manager refuses a policy that would open the secret broadly.
    role.addToPolicy(
      new iam.PolicyStatement({ sid: 'WriteSecretPolicies', actions: ['secretsmanager:PutResourcePolicy'], resources: [secrets], conditions: { Bool: { 'secretsmanager:BlockPublicPolicy': 'true' } } }),
    );
    // Grants of Decrypt only, constrained to an encryption context of the SecretARN key alone
    // (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html). Not also
    // kms:EncryptionContext:SecretARN StringLike the secrets' ARNs: the IAM evaluator the tests
    // judge every call with (iam-simulate) cannot resolve that key's variable part, and an
    // untestable condition is not kept.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'GrantDecryptOfClientSecrets',
        actions: ['kms:CreateGrant'],
        resources: [rotation.encryptionKey.keyArn],
        conditions: {
          'ForAllValues:StringEquals': { 'kms:GrantOperations': ['Decrypt'], 'kms:EncryptionContextKeys': ['SecretARN'] },
          Null: { 'kms:GrantOperations': 'false', 'kms:EncryptionContextKeys': 'false' },
          StringEquals: { 'kms:GrantConstraintType': 'EncryptionContextSubset' },
          Bool: { 'kms:GrantIsForAWSResource': 'false' },
        },
      }),
    );
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ManageGrants', actions: ['kms:ListGrants', 'kms:RevokeGrant'], resources: [rotation.encryptionKey.keyArn] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'SubscribeClientEndpoints',
        actions: ['sns:Subscribe'],
        resources: [rotation.clientTopic.topicArn],
        conditions: { StringEquals: { 'sns:Protocol': [...NOTIFICATION_PROTOCOLS] } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ManageClientSubscriptions',
        actions: ['sns:Unsubscribe', 'sns:GetSubscriptionAttributes', 'sns:SetSubscriptionAttributes'],
        resources: [rotation.clientTopic.topicArn],
      }),
    );
    // The client record: its delivery attributes read, its deliveryProjection written; nothing else
    // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
    const onClientItems = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] }, Null: { 'dynamodb:LeadingKeys': 'false' } };
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadClientDelivery',
        actions: ['dynamodb:GetItem'],
        resources: [rotation.table.tableArn],
        conditions: {
          ...onClientItems,
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, ...DELIVERY_READ_ATTRIBUTES] },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RecordDeliveryProjection',
        actions: ['dynamodb:UpdateItem'],
        resources: [rotation.table.tableArn],
        conditions: { ...onClientItems, 'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TABLE_KEY_ATTRIBUTES, DELIVERY_STATE_ATTRIBUTE] }, StringEquals: { 'dynamodb:ReturnValues': 'NONE' } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: [rotation.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': regionalServiceHost(this, 'dynamodb') } },
      }),
    );

    // Nobody but this role makes a subscription or changes one's filter (aws:PrincipalArn is the
    // role's ARN whatever session assumed it).
    rotation.clientTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OnlyKeyRollDeliverySubscribes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['sns:Subscribe', 'sns:SetSubscriptionAttributes'],
        resources: [rotation.clientTopic.topicArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': role.roleArn } },
      }),
    );

    acknowledgeDeliveryFindings(role, rotation.secretNamePrefix);
    opsAlarm(
      this,
      'DeliveryErrorsAlarm',
      rotation.opsTopic,
      fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      'The KeyRoll delivery function reported errors; a client may not have its readers or subscriptions.',
    );
    this.deliveryFunction = fn;
    this.role = role;
  }
}
