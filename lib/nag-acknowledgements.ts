/**
 * cdk-nag (AwsSolutions) findings that KeyRoll acknowledges, each with its reason, in one
 * place so a reviewer reads every exception at once. Acknowledgements name the exact
 * finding (`RuleId[Finding]`) wherever cdk-nag reports one, never a whole rule on a
 * whole scope.
 */
import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** The constructs whose findings are acknowledged. */
export interface NagSubjects {
  readonly stepRoles: readonly { readonly role: IConstruct; readonly readsSecrets: boolean }[];
  readonly stateMachineRole: IConstruct;
  readonly functionLogicalIds: readonly string[];
  readonly secretNamePrefix: string;
  /** The role that may stop the state machine's executions (emergency preemption). */
  readonly preemptingRole: { readonly role: IConstruct; readonly stateMachineName: string };
}

function arnPart(value: string, placeholder: string): string {
  return Token.isUnresolved(value) ? placeholder : value;
}

const XRAY_ACKNOWLEDGEMENT = {
  id: 'AwsSolutions-IAM5[Resource::*]',
  reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is required on).',
};

/** Acknowledges the X-Ray wildcard of a traced function's role (the auth layer's functions). */
export function acknowledgeTracing(role: IConstruct): void {
  Validations.of(role).acknowledge(XRAY_ACKNOWLEDGEMENT);
}

/** Acknowledges the findings that are inherent to the design, with reasons. */
export function acknowledgeNagFindings(scope: IConstruct, subjects: NagSubjects): void {
  const stack = Stack.of(scope);
  const region = arnPart(stack.region, '<AWS::Region>');
  const account = arnPart(stack.account, '<AWS::AccountId>');
  for (const { role, readsSecrets } of subjects.stepRoles) {
    acknowledgeTracing(role);
    if (readsSecrets) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${subjects.secretNamePrefix}*]`,
        reason:
          'One secret per client is created at onboarding, after deployment; the prefix confines the step to KeyRoll client secrets (Secrets Manager appends a random suffix to every secret ARN, so exact ARNs cannot be known here).',
      });
    }
  }
  Validations.of(subjects.stateMachineRole).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason: 'Step Functions log delivery (logs:CreateLogDelivery and related), X-Ray tracing, and answering a fleet task token (states:SendTaskSuccess/Failure) support no resource-level permissions.',
  });
  Validations.of(subjects.preemptingRole.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:${subjects.preemptingRole.stateMachineName}:*]`,
    reason: 'Emergency preemption stops the execution that holds a client lock; its name is the rotation id, known only at run time. The wildcard covers executions of the one rotation state machine only.',
  });
  for (const logicalId of subjects.functionLogicalIds) {
    Validations.of(subjects.stateMachineRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason: 'The state machine may invoke any version of its own step function; the wildcard only covers version/alias qualifiers.',
    });
  }
}

/** The fleet rotation's findings: its state machine role and the Distributed Map's own policy. */
export function acknowledgeFleetFindings(subjects: { stateMachine: IConstruct & { role: IConstruct }; stateMachineLogicalId: string; fleetPageLogicalId: string; distributedMapPolicy?: IConstruct }): void {
  const stack = Stack.of(subjects.stateMachine);
  const region = arnPart(stack.region, '<AWS::Region>');
  const account = arnPart(stack.account, '<AWS::AccountId>');
  Validations.of(subjects.stateMachine.role).acknowledge(
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'Step Functions log delivery (logs:CreateLogDelivery and related) and X-Ray tracing support no resource-level permissions.' },
    { id: `AwsSolutions-IAM5[Resource::<${subjects.fleetPageLogicalId}.Arn>:*]`, reason: 'The fleet may invoke any version of its own page function; the wildcard only covers version/alias qualifiers.' },
  );
  if (!subjects.distributedMapPolicy) return;
  const executions = `arn:<AWS::Partition>:states:${region}:${account}:execution:{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${subjects.stateMachineLogicalId}"}]}]}`;
  const reason = "The Distributed Map runs each item as a child execution of this state machine, named at run time; the wildcard covers this state machine's executions only (CDK's DistributedMapPolicy).";
  Validations.of(subjects.distributedMapPolicy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${executions}:*]`, reason }, { id: `AwsSolutions-IAM5[Resource::${executions}/*:*]`, reason });
}

/**
 * The pickup endpoint's findings. APIG2/3/4/6 and COG4 carry no finding id (cdk-nag names the
 * rule only), so each is acknowledged on the one CloudFormation resource it is about (`api`,
 * `method`, `stage` are those resources), never on a scope.
 */
export function acknowledgePickupFindings(subjects: { role: IConstruct; api: IConstruct; method: IConstruct; stage: IConstruct; cloudWatchRole?: IConstruct; secretNamePrefix: string }): void {
  const stack = Stack.of(subjects.role);
  const region = arnPart(stack.region, '<AWS::Region>');
  const account = arnPart(stack.account, '<AWS::AccountId>');
  acknowledgeTracing(subjects.role);
  Validations.of(subjects.role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${subjects.secretNamePrefix}*]`,
    reason:
      'The pickup function reads the current key of whichever client authenticated, and client secrets are created at onboarding, after deployment; the prefix confines it to KeyRoll client secrets (Secrets Manager appends a random suffix to every secret ARN).',
  });
  const authentication =
    "POST /pickup is authenticated by the request itself: an RFC 7523 private_key_jwt assertion signed with the client's registered private key (audience, expiry of at most 5 minutes, single-use jti), verified by the function before anything is read. An API Gateway authorizer (Cognito, IAM, a key) would need a credential clients outside AWS do not have, and a leaked API key must not be enough.";
  Validations.of(subjects.method).acknowledge({ id: 'AwsSolutions-APIG4', reason: authentication }, { id: 'AwsSolutions-COG4', reason: authentication });
  Validations.of(subjects.stage).acknowledge(
    {
      id: 'AwsSolutions-APIG6',
      reason:
        'Access logs (to a KMS-encrypted group with retention) record every request with standard fields; the function logs each outcome. Execution logging would add a log group API Gateway creates itself, without the KeyRoll key or a retention, for no request data that may be logged anyway.',
    },
    {
      id: 'AwsSolutions-APIG3',
      reason:
        "Stage throttling bounds the request rate; every request costs one GetItem before any signature check and nothing is revealed to a failed one. A WAF web ACL is the deployer's choice (attach one to the stage for IP or geo rules).",
    },
  );
  Validations.of(subjects.api).acknowledge({
    id: 'AwsSolutions-APIG2',
    reason:
      'The one method validates its request parameters (a Content-Type header is required). Its body is a form (application/x-www-form-urlencoded), which API Gateway models cannot validate (they are JSON schemas); the function refuses a body over 8 KiB before parsing it, and any malformed form with the same 400.',
  });
  if (subjects.cloudWatchRole) {
    Validations.of(subjects.cloudWatchRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "API Gateway's account-level logging role, which REST API access logging requires; AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).",
    });
  }
}
