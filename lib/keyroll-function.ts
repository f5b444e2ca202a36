/**
 * How every KeyRoll Lambda function is built: its own role with no managed policy, its own
 * KMS-encrypted log group, JSON logs, tracing, Node.js 24 on arm64, bundled at synth by
 * esbuild without the AWS SDK (lib/lambda-bundle.ts), or prebuilt the same way when this runs
 * from the @keyroll/cdk package (lib/prebuilt-handler-code.ts). Callers add the data-plane actions.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
// The package build swaps this module for one that never loads esbuild (packages/cdk/build.ts).
import { bundledHandlerCode } from './lambda-bundle';
import { prebuiltHandlerCode } from './prebuilt-handler-code';

/** What a KeyRoll function is made of. */
export interface KeyRollFunctionProps {
  /** File under lambdas/handlers/ that exports `handler`. */
  readonly handlerFile: string;
  readonly description: string;
  readonly environment: Record<string, string>;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /**
   * Where asynchronous invocations go after Lambda's retries fail (the role may send to it).
   * @default no dead-letter queue
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/** Builds `<id>Logs`, `<id>Role` and `<id>Function` in `scope` (ids are a contract: renaming replaces). */
export function keyRollFunction(scope: Construct, id: string, props: KeyRollFunctionProps): { fn: nodejs.NodejsFunction; role: iam.Role } {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, { retention: props.logRetention, encryptionKey: props.encryptionKey, removalPolicy: props.removalPolicy });
  // Own role, no managed policy: logs to its group; the caller adds exactly what the function needs.
  const role = new iam.Role(scope, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: props.description });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
  const fn = new nodejs.NodejsFunction(scope, `${id}Function`, {
    code: prebuiltHandlerCode(props.handlerFile) ?? bundledHandlerCode(`lambdas/handlers/${props.handlerFile}`),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize ?? 256,
    timeout: props.timeout ?? Duration.seconds(30),
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    tracing: lambda.Tracing.ACTIVE,
    environment: props.environment,
    description: props.description,
    deadLetterQueue: props.deadLetterQueue,
  });
  return { fn, role };
}
