/**
 * Partition-correct service host names for policies and configuration. A regional endpoint is
 * `<service>.<region>.<URL suffix>`, and the suffix depends on the partition: `amazonaws.com`
 * (aws, aws-us-gov), `amazonaws.com.cn` (aws-cn), `c2s.ic.gov` (aws-iso), `sc2s.sgov.gov`
 * (aws-iso-b), …
 */
import { Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { IConstruct } from 'constructs';

/**
 * The DNS suffix of the partition the stack of `scope` deploys to. For a stack with a concrete
 * region the CDK's region table knows it (`amazonaws.com.cn` for cn-north-1), and the template
 * reads plainly; otherwise (an environment-agnostic stack, or a region newer than the table) it
 * is the AWS::URLSuffix pseudo parameter, which CloudFormation resolves in the partition it
 * deploys to (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html).
 * Never `amazonaws.com` by default.
 */
export function urlSuffixOf(scope: IConstruct): string {
  const stack = Stack.of(scope);
  if (Token.isUnresolved(stack.region)) return stack.urlSuffix;
  return RegionInfo.get(stack.region).domainSuffix ?? stack.urlSuffix;
}

/**
 * `<service>.<region>.<URL suffix>` of the stack `scope` is in: the value `kms:ViaService`
 * compares with (the endpoint through which a service calls KMS for the caller,
 * https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service),
 * and the regional service principal CloudWatch Logs uses with a key.
 */
export function regionalServiceHost(scope: IConstruct, service: string): string {
  return `${service}.${Stack.of(scope).region}.${urlSuffixOf(scope)}`;
}
