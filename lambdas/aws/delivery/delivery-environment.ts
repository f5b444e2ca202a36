/**
 * The delivery function's configuration (lib/keyroll-delivery.ts sets it): the table, the key
 * grants are made on, the client topic, KeyRoll's secret-reading roles and the function's own
 * role. The partition is the own role's. Anything malformed is an InvalidConfigurationError
 * naming the variable.
 */
import { readConfiguration, required, satisfying, text, type Environment } from '../../core/configuration';
import { TABLE_NAME } from '../../core/common-variables';
import type { DeliveryProjectionSettings } from './project-delivery';

const ROLE_ARN = /^arn:(aws(?:-[a-z]+)*):iam::\d{12}:role\/(?:[\x21-\x7e]+\/)?[\w+=,.@-]{1,64}$/;

const RULES = {
  TABLE_NAME,
  KEY_ARN: required('a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>)', text(/^arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/)),
  CLIENT_TOPIC_ARN: required('an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>)', text(/^arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/)),
  KEYROLL_SECRET_READER_ARNS: required(
    'a comma-separated list of IAM role ARNs (at least one)',
    satisfying((value) => value.split(',').every((arn) => ROLE_ARN.test(arn))),
  ),
  DELIVERY_ROLE_ARN: required('an IAM role ARN (arn:<partition>:iam::<account>:role/<name>)', text(ROLE_ARN)),
};

/** The projection settings from the environment. @throws InvalidConfigurationError */
export function readDeliveryEnvironment(environment: Environment = process.env): DeliveryProjectionSettings & { tableName: string } {
  const config = readConfiguration(environment, RULES);
  return {
    tableName: config.TABLE_NAME,
    keyArn: config.KEY_ARN,
    clientTopicArn: config.CLIENT_TOPIC_ARN,
    keyrollSecretReaderArns: config.KEYROLL_SECRET_READER_ARNS.split(','),
    deliveryRoleArn: config.DELIVERY_ROLE_ARN,
    partition: ROLE_ARN.exec(config.DELIVERY_ROLE_ARN)![1],
  };
}
