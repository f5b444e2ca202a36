/**
 * CDK assertions on the shared parts of scheduled rotations as the stack deploys them: the
 * schedule group, the dead-letter queue, the scheduled-start function and its least-privilege
 * role, the role schedules run as, the alarms, the stack outputs the CLI reads, and
 * grantManageSchedules.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { KeyRollRotation } from '../../lib/keyroll-rotation';
import { KeyRollSchedules } from '../../lib/keyroll-schedules';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { asArray, newTestApp, removeTempDirs, renderCfn, TEST_ENV } from './infra-app';

type Resources = Record<string, { Type: string; Properties?: any; UpdateReplacePolicy?: string }>;
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: any;
}

let stack: KeyRollStack;
let resources: Resources;
let outputs: Record<string, { Value: unknown }>;
let operator: iam.Role;

beforeAll(() => {
  stack = new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV });
  operator = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  stack.schedules.grantManageSchedules(operator);
  const json = Template.fromStack(stack).toJSON();
  resources = json.Resources as Resources;
  outputs = json.Outputs;
});
afterAll(removeTempDirs);

const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
function roleStatements(roleId: string): Statement[] {
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => asArray<any>(p.Properties.Roles).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => asArray<Statement>(p.Properties.PolicyDocument.Statement));
}
const actionsOf = (statements: Statement[]) => statements.flatMap((s) => asArray(s.Action)).sort();

describe('the shared scheduling resources', () => {
  // Issue 16 item 4: a retained group with a fixed name blocked a redeploy after `cdk destroy`
  // (the name was taken) and its schedules kept firing at the deleted function.
  // Deleting a group deletes its schedules:
  // https://docs.aws.amazon.com/scheduler/latest/APIReference/API_DeleteScheduleGroup.html
  test('one schedule group, deleted with the stack (never retained, on delete or replacement)', () => {
    const groups = ofType('AWS::Scheduler::ScheduleGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0][0]).toBe(id(stack.schedules.scheduleGroup));
    const group = groups[0][1] as { DeletionPolicy?: string; UpdateReplacePolicy?: string };
    expect(group.DeletionPolicy).toBe('Delete');
    expect(group.UpdateReplacePolicy).toBe('Delete');
  });

  test('even when the stack retains its other resources', () => {
    const retaining = new KeyRollStack(newTestApp(), 'Retaining', { env: TEST_ENV, rotation: { removalPolicy: RemovalPolicy.RETAIN }, schedules: { removalPolicy: RemovalPolicy.RETAIN } });
    const groups = Object.values(Template.fromStack(retaining).findResources('AWS::Scheduler::ScheduleGroup'));
    expect(groups.map((g) => [g.DeletionPolicy, g.UpdateReplacePolicy])).toEqual([['Delete', 'Delete']]);
  });

  test('its name is no fixed string: unique per stack instance (ends with the UUID of the CloudFormation stack id)', () => {
    const name = resources[id(stack.schedules.scheduleGroup)].Properties.Name;
    expect(typeof name).not.toBe('string');
    expect(name).toEqual({ 'Fn::Join': ['-', [expect.stringMatching(/^Test-Schedules-[0-9A-F]{8}$/), { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }]] });
    // Scheduler allows 64 characters of [0-9a-zA-Z-_.]: the prefix, '-', and a 36-character UUID.
    const rendered = renderCfn(name).replace('{Select:2:{Split:/:{Ref:AWS::StackId}}}', '0123abcd-0123-4567-89ab-0123456789ab');
    expect(rendered).toMatch(/^[0-9a-zA-Z\-_.]{1,64}$/);
  });

  test('is deleted before the function, roles and queue its schedules use (CloudFormation deletes dependents first)', () => {
    const dependsOn = (resources[id(stack.schedules.scheduleGroup)] as { DependsOn?: string[] }).DependsOn ?? [];
    const needed = [stack.schedules.scheduledStartFunction, stack.schedules.scheduledStartFunction.role!, stack.schedules.schedulerRole, stack.schedules.deadLetterQueue].map((c) => id(c));
    const schedulerPolicy = ofType('AWS::IAM::Policy').find(([, p]) => asArray<any>(p.Properties.Roles).some((r) => r.Ref === id(stack.schedules.schedulerRole)))![0];
    expect(dependsOn).toEqual(expect.arrayContaining([...needed, schedulerPolicy]));
  });

  test('one dead-letter queue: SQS-managed encryption, 14 days, TLS only', () => {
    const queues = ofType('AWS::SQS::Queue');
    expect(queues).toHaveLength(1);
    expect(queues[0][1].Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    const policy = ofType('AWS::SQS::QueuePolicy')[0][1].Properties;
    const deny = asArray<Statement>(policy.PolicyDocument.Statement).find((s) => s.Effect === 'Deny');
    expect(deny).toMatchObject({ Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } });
  });

  test('no CloudFormation schedules: every client schedule is created at onboarding', () => {
    expect(ofType('AWS::Scheduler::Schedule')).toHaveLength(0);
  });
});

describe('the scheduled-start function', () => {
  const fnId = () => id(stack.schedules.scheduledStartFunction);

  test('Node.js 24 on arm64, traced, pointed at the state machine, dead-lettering async failures after 2 retries', () => {
    const fn = resources[fnId()].Properties;
    expect(fn).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
    expect(fn.Environment.Variables.STATE_MACHINE_ARN).toEqual({ Ref: id(stack.rotation.stateMachine) });
    expect(fn.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [id(stack.schedules.deadLetterQueue), 'Arn'] } });
    const config = ofType('AWS::Lambda::EventInvokeConfig')[0][1].Properties;
    expect(config).toMatchObject({ FunctionName: { Ref: fnId() }, MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21_600 });
  });

  test('its role may start executions of the rotation state machine, send to the DLQ, log and trace: nothing else', () => {
    const statements = roleStatements(id(stack.schedules.scheduledStartFunction.role!));
    expect(actionsOf(statements)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage', 'states:StartExecution', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    expect(statements.find((s) => asArray(s.Action).includes('states:StartExecution'))!.Resource).toEqual({ Ref: id(stack.rotation.stateMachine) });
    expect(statements.find((s) => asArray(s.Action).includes('sqs:SendMessage'))!.Resource).toEqual({ 'Fn::GetAtt': [id(stack.schedules.deadLetterQueue), 'Arn'] });
  });
});

describe('the role client schedules run as', () => {
  const roleId = () => id(stack.schedules.schedulerRole);

  test('only EventBridge Scheduler may assume it, for schedules of this account and group', () => {
    const trust = resources[roleId()].Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': '123456789012', 'aws:SourceArn': expect.anything() } },
      },
    ]);
    // The group's ARN, formatted from its name (so the role need not wait for the group).
    const sourceArn = trust[0].Condition.StringEquals['aws:SourceArn'];
    expect(renderCfn(sourceArn)).toBe(`arn:aws:scheduler:us-east-1:123456789012:schedule-group/${renderCfn(resources[id(stack.schedules.scheduleGroup)].Properties.Name)}`);
    expect(resources[roleId()].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('it may invoke the one scheduled-start function (unqualified) and send to the DLQ: nothing else', () => {
    const statements = roleStatements(roleId());
    expect(statements).toEqual([
      { Action: 'lambda:InvokeFunction', Effect: 'Allow', Resource: { 'Fn::GetAtt': [id(stack.schedules.scheduledStartFunction), 'Arn'] } },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: { 'Fn::GetAtt': [id(stack.schedules.deadLetterQueue), 'Arn'] } },
    ]);
  });

  test('no other role may invoke the scheduled-start function', () => {
    const invokers = ofType('AWS::IAM::Policy').filter(([, p]) =>
      asArray<Statement>(p.Properties.PolicyDocument.Statement).some(
        (s) => asArray(s.Action).includes('lambda:InvokeFunction') && JSON.stringify(s.Resource).includes(id(stack.schedules.scheduledStartFunction)),
      ),
    );
    expect(invokers.map(([, p]) => asArray<any>(p.Properties.Roles).map((r) => r.Ref)).flat()).toEqual([roleId()]);
  });
});

describe('alarms and outputs', () => {
  test('dead letters and scheduled-start errors alarm the ops topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm')
      .filter(([alarmId]) => alarmId.startsWith('Schedules'))
      .map(([, a]) => a.Properties);
    expect(alarms).toHaveLength(2);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: id(stack.rotation.opsTopic) }]);
    expect(alarms.map((a) => a.MetricName).sort()).toEqual(['ApproximateNumberOfMessagesVisible', 'Errors']);
  });

  test('the stack outputs what the operator CLI needs', () => {
    expect(outputs.ScheduleGroupName.Value).toEqual(resources[id(stack.schedules.scheduleGroup)].Properties.Name);
    expect(outputs.SchedulerRoleArn.Value).toEqual({ 'Fn::GetAtt': [id(stack.schedules.schedulerRole), 'Arn'] });
    expect(outputs.ScheduleDeadLetterQueueArn.Value).toEqual({ 'Fn::GetAtt': [id(stack.schedules.deadLetterQueue), 'Arn'] });
    expect(outputs.ScheduledStartFunctionArn.Value).toEqual({ 'Fn::GetAtt': [id(stack.schedules.scheduledStartFunction), 'Arn'] });
    expect(outputs.MinOverlapSeconds.Value).toBe('60');
    expect(outputs.MaxOverlapSeconds.Value).toBe('2592000');
    expect(outputs.StateMachineArn.Value).toEqual({ Ref: id(stack.rotation.stateMachine) });
  });
});

describe('grantManageSchedules', () => {
  test('schedule CRUD in the group only, and passing the scheduler role to Scheduler only', () => {
    const statements = roleStatements(id(operator));
    expect(statements).toHaveLength(2);
    const crud = statements.find((s) => asArray(s.Action).includes('scheduler:CreateSchedule'))!;
    expect(asArray(crud.Action).sort()).toEqual(['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule']);
    const groupName = renderCfn(resources[id(stack.schedules.scheduleGroup)].Properties.Name);
    expect(renderCfn(crud.Resource)).toBe(`arn:aws:scheduler:us-east-1:123456789012:schedule/${groupName}/*`);
    const pass = statements.find((s) => asArray(s.Action).includes('iam:PassRole'))!;
    expect(pass).toMatchObject({ Resource: { 'Fn::GetAtt': [id(stack.schedules.schedulerRole), 'Arn'] }, Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } } });
  });
});

describe('constructor validation', () => {
  const build = (props: { deadLetterRetention?: Duration; startRetryAttempts?: number }) => () => {
    const s = new Stack(newTestApp(), 'V', { env: TEST_ENV });
    const rotation = new KeyRollRotation(s, 'Rotation');
    new KeyRollSchedules(s, 'Schedules', { stateMachine: rotation.stateMachine, encryptionKey: rotation.encryptionKey, opsTopic: rotation.opsTopic, ...props });
  };

  test('rejects a dead-letter retention SQS cannot keep, and more Lambda retries than Lambda allows', () => {
    expect(build({ deadLetterRetention: Duration.days(15) })).toThrow('deadLetterRetention must be between 1 minute and 14 days; got 1296000 seconds.');
    expect(build({ startRetryAttempts: 3 })).toThrow('startRetryAttempts must be 0, 1 or 2; got 3.');
    expect(build({ startRetryAttempts: 0 })).not.toThrow();
  });
});
