/**
 * The KeyRollRotation construct as synthesized: resources, encryption, observability,
 * least-privilege IAM per step, and the shape of the state machine definition.
 * One synth for the whole file (bundling skipped); constructor validation needs no synth.
 */
import { App, Aws, CfnParameter, Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { KeyRollRotation, type KeyRollRotationProps } from '../../lib/keyroll-rotation';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { RotationStates, type RotationFunctions } from '../../lib/rotation-definition';
import { asArray, newTestApp, removeTempDirs, renderCfn, TEST_ENV } from './infra-app';

type Step = keyof RotationFunctions;
const STEPS: readonly Step[] = ['beginRotation', 'createSecret', 'setSecret', 'testSecret', 'finishSecret', 'checkUsage', 'retireOldKey', 'rollbackRotation'];

interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
}
interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  Retry?: { ErrorEquals: string[]; JitterStrategy?: string; MaxAttempts?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  Branches?: StateMachineDefinition[];
  Iterator?: StateMachineDefinition;
  ItemProcessor?: StateMachineDefinition;
  [key: string]: unknown;
}
interface StateMachineDefinition {
  StartAt: string;
  States: Record<string, State>;
  [key: string]: unknown;
}

/** Stands in for the CloudFormation intrinsics (ARNs) inside the definition string. */
const TOKEN = '__CFN_TOKEN_';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keyroll/clients/*';

let stack: KeyRollStack;
let template: Template;
let resources: Record<string, CfnResource>;
let operatorRole: iam.Role;
let operatorGrant: iam.Grant;

afterAll(removeTempDirs);

beforeAll(() => {
  const app = newTestApp();
  stack = new KeyRollStack(app, 'Test', { env: TEST_ENV });
  // A consumer of grantStartRotation, in the same synth; every other assertion ignores it.
  operatorRole = new iam.Role(stack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
  operatorGrant = stack.rotation.grantStartRotation(operatorRole);
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, CfnResource>;
});

const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const fnId = (step: Step): string => logicalId(stack.rotation.functions[step]);
const roleId = (step: Step): string => logicalId(stack.rotation.functions[step].role!);
const keyArn = () => ({ 'Fn::GetAtt': [logicalId(stack.rotation.encryptionKey), 'Arn'] });

function ofType(type: string): [string, CfnResource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** Resources of the rotation construct only (logical ids follow construct paths; the auth layer has its own tests). */
function rotationOfType(type: string): [string, CfnResource][] {
  return ofType(type).filter(([id]) => id.startsWith('Rotation'));
}

/** Identity-policy statements attached to a role: its inline policies and every AWS::IAM::Policy naming it. */
function roleStatements(role: string): Statement[] {
  const inline = asArray(resources[role]?.Properties?.Policies).flatMap((p: any) => asArray<Statement>(p.PolicyDocument.Statement));
  const attached = ofType('AWS::IAM::Policy')
    .filter(([, p]) => asArray(p.Properties!.Roles).some((r: any) => r?.Ref === role))
    .flatMap(([, p]) => asArray<Statement>(p.Properties!.PolicyDocument.Statement));
  return [...inline, ...attached];
}

/** Every identity-policy statement in the template (roles' inline policies, policies, managed policies). */
function allIdentityStatements(): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of asArray<any>(r.Properties?.Policies)) for (const s of asArray<Statement>(p.PolicyDocument.Statement)) out.push({ where: id, statement: s });
    }
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') {
      for (const s of asArray<Statement>(r.Properties!.PolicyDocument.Statement)) out.push({ where: id, statement: s });
    }
  }
  return out;
}

/** IAM action glob match (case-insensitive, `*` and `?`). */
function actionMatches(pattern: string, action: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return regex.test(action);
}

function allows(statements: Statement[], action: string): boolean {
  return statements.some((s) => s.Effect === 'Allow' && asArray(s.Action).some((a) => actionMatches(a, action)));
}

function stepsAllowed(action: string): Step[] {
  return STEPS.filter((step) => allows(roleStatements(roleId(step)), action));
}

/**
 * The state machine definition: the Fn::Join's string parts joined, each other part (a
 * CloudFormation reference, e.g. a function ARN) replaced by a numbered placeholder.
 */
function definition(): { text: string; json: StateMachineDefinition; tokens: Map<string, unknown> } {
  const [[, machine]] = ofType('AWS::StepFunctions::StateMachine');
  const raw = machine.Properties!.DefinitionString;
  const tokens = new Map<string, unknown>();
  const text =
    typeof raw === 'string'
      ? raw
      : (raw['Fn::Join'] as [string, unknown[]])[1]
          .map((part) => {
            if (typeof part === 'string') return part;
            const placeholder = `${TOKEN}${tokens.size}__`;
            tokens.set(placeholder, part);
            return placeholder;
          })
          .join(raw['Fn::Join'][0]);
  return { text, json: JSON.parse(text) as StateMachineDefinition, tokens };
}

/** The function a task invokes (logical id), directly (`Resource` = its ARN) or through lambda:invoke. */
function invokedFunction(state: State, tokens: Map<string, unknown>): string | undefined {
  if (state.Type !== 'Task') return undefined;
  const target = (state.Resource ?? '').endsWith(':states:::lambda:invoke') ? ((state.Parameters as Record<string, unknown> | undefined)?.FunctionName as string | undefined) : state.Resource;
  const ref = target === undefined ? undefined : (tokens.get(target) as { 'Fn::GetAtt'?: [string, string] } | undefined);
  const id = ref?.['Fn::GetAtt']?.[0];
  return id !== undefined && resources[id]?.Type === 'AWS::Lambda::Function' ? id : undefined;
}

/** Every state, including those nested in Parallel branches and Map iterators. */
function allStates(machine: StateMachineDefinition): Map<string, State> {
  const out = new Map<string, State>();
  const visit = (m: StateMachineDefinition) => {
    for (const [name, state] of Object.entries(m.States)) {
      out.set(name, state);
      for (const branch of state.Branches ?? []) visit(branch);
      if (state.Iterator) visit(state.Iterator);
      if (state.ItemProcessor) visit(state.ItemProcessor);
    }
  };
  visit(machine);
  return out;
}

/** Every key anywhere in a JSON value. */
function allKeys(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => allKeys(v, into));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      into.add(k);
      allKeys(v, into);
    }
  }
  return into;
}

describe('storage and encryption', () => {
  test('one customer-managed KMS key, with yearly rotation', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('the table: pk/sk, the byClient GSI (gsi1pk/gsi1sk), PITR, SSE with the KMS key', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: 'byClient',
          KeySchema: [
            { AttributeName: 'gsi1pk', KeyType: 'HASH' },
            { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
          ],
        }),
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn() },
    });
  });

  test('two SNS topics, each encrypted with the key and denying publishes without TLS', () => {
    const topics = ofType('AWS::SNS::Topic');
    expect(topics).toHaveLength(2);
    expect(topics.map(([id]) => id).sort()).toEqual([logicalId(stack.rotation.clientTopic), logicalId(stack.rotation.opsTopic)].sort());
    for (const [id, topic] of topics) {
      expect(topic.Properties!.KmsMasterKeyId).toEqual(keyArn());
      const policies = ofType('AWS::SNS::TopicPolicy').filter(([, p]) => asArray(p.Properties!.Topics).some((t: any) => t?.Ref === id));
      expect(policies).toHaveLength(1);
      const denies = asArray<Statement>(policies[0][1].Properties!.PolicyDocument.Statement).filter((s) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false');
      expect(denies).toHaveLength(1);
      expect(denies[0].Principal).toEqual('*');
      expect(asArray(denies[0].Action)).toContain('sns:Publish');
      expect(denies[0].Resource).toEqual({ Ref: id });
    }
  });

  test("every log group (8 functions + the state machine, and the auth layer's) is encrypted with the key", () => {
    expect(rotationOfType('AWS::Logs::LogGroup')).toHaveLength(9);
    for (const [, group] of ofType('AWS::Logs::LogGroup')) expect(group.Properties!.KmsKeyId).toEqual(keyArn());
  });
});

describe('Lambda functions', () => {
  test('8 functions, one per step', () => {
    expect(
      rotationOfType('AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual(STEPS.map(fnId).sort());
  });

  test.each(STEPS)('%s: nodejs24.x or newer, X-Ray tracing Active, JSON logs', (step) => {
    const props = resources[fnId(step)].Properties!;
    const runtime = /^nodejs(\d+)\.x$/.exec(props.Runtime as string);
    expect(runtime).not.toBeNull();
    expect(Number(runtime![1])).toBeGreaterThanOrEqual(24);
    expect(props.TracingConfig).toEqual({ Mode: 'Active' });
    expect(props.LoggingConfig).toMatchObject({ LogFormat: 'JSON' });
  });

  test('each function has its own role, and no role has a managed policy', () => {
    const roles = STEPS.map((step) => {
      const role = resources[fnId(step)].Properties!.Role;
      expect(role).toEqual({ 'Fn::GetAtt': [roleId(step), 'Arn'] });
      expect(resources[roleId(step)].Type).toBe('AWS::IAM::Role');
      return roleId(step);
    });
    expect(new Set(roles).size).toBe(STEPS.length);
    expect(roles).not.toContain(logicalId(stack.rotation.stateMachine.role));
    // One exception: API Gateway's account-level logging role (REST API access logs need it;
    // lib/keyroll-pickup.ts), with the one managed policy AWS documents for it.
    const isApiGatewayLoggingRole = (id: string) => id.startsWith('PickupApiCloudWatchRole');
    for (const [id, role] of ofType('AWS::IAM::Role').filter(([roleId]) => !isApiGatewayLoggingRole(roleId))) {
      expect({ id, managed: role.Properties!.ManagedPolicyArns }).toEqual({ id, managed: undefined });
    }
    const loggingRoles = ofType('AWS::IAM::Role').filter(([id]) => isApiGatewayLoggingRole(id));
    expect(loggingRoles).toHaveLength(1);
    expect(JSON.stringify(loggingRoles[0][1].Properties!.ManagedPolicyArns)).toMatch(/^\[\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":iam::aws:policy\/service-role\/AmazonAPIGatewayPushToCloudWatchLogs"\]\]\}\]$/);
    expect(JSON.stringify(loggingRoles[0][1].Properties!.AssumeRolePolicyDocument)).toContain('apigateway.amazonaws.com');
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
  });
});

describe('state machine', () => {
  test('Standard, X-Ray tracing on, logs at level ALL without execution data', () => {
    // The rotation state machine and the fleet's (test/infra/keyroll-fleet.test.ts); both are built alike.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith(['Arn']) }) } }],
      },
    });
  });
});

describe('alarms to the ops topic', () => {
  const alarms = () => rotationOfType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
  const opsTopic = () => ({ Ref: logicalId(stack.rotation.opsTopic) });

  test.each(['ExecutionsFailed', 'ExecutionsTimedOut'])('%s on the state machine', (metric) => {
    const matching = alarms().filter((a) => a.Namespace === 'AWS/States' && a.MetricName === metric);
    expect(matching).toHaveLength(1);
    expect(matching[0].Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: logicalId(stack.rotation.stateMachine) } }]);
    expect(matching[0].AlarmActions).toEqual([opsTopic()]);
  });

  test.each(STEPS)('Errors of the %s function', (step) => {
    const matching = alarms().filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === 'Errors' && JSON.stringify(a.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fnId(step) } }]));
    expect(matching).toHaveLength(1);
    expect(matching[0].AlarmActions).toEqual([opsTopic()]);
  });

  test('no other alarms, and every alarm notifies the ops topic', () => {
    expect(alarms()).toHaveLength(2 + STEPS.length);
    for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([opsTopic()]);
  });
});

describe('least privilege', () => {
  test('only BeginRotation (emergency preemption undoes the stopped rotation), CreateSecret, FinishSecret, RetireOldKey and RollbackRotation may move staging labels', () => {
    expect(stepsAllowed('secretsmanager:UpdateSecretVersionStage')).toEqual(['beginRotation', 'createSecret', 'finishSecret', 'retireOldKey', 'rollbackRotation']);
  });

  test('only CreateSecret may PutSecretValue', () => {
    expect(stepsAllowed('secretsmanager:PutSecretValue')).toEqual(['createSecret']);
  });

  test('only CreateSecret and TestSecret may GetSecretValue', () => {
    expect(stepsAllowed('secretsmanager:GetSecretValue')).toEqual(['createSecret', 'testSecret']);
  });

  test.each(['setSecret'] as Step[])('%s has no Secrets Manager action at all', (step) => {
    const actions = roleStatements(roleId(step)).flatMap((s) => asArray(s.Action));
    expect(actions.filter((a) => a.toLowerCase().startsWith('secretsmanager:'))).toEqual([]);
    // and no way to decrypt secrets either
    const viaSecrets = roleStatements(roleId(step)).filter((s) => JSON.stringify(s.Condition ?? {}).includes('secretsmanager.'));
    expect(viaSecrets).toEqual([]);
  });

  test('beginRotation may read labels and version ids and move labels (undoing a preempted rotation) but never read or write a secret value', () => {
    const actions = roleStatements(roleId('beginRotation'))
      .flatMap((s) => asArray(s.Action))
      .filter((a) => /^secretsmanager:/i.test(a));
    // ListSecretVersionIds: a rotation id colliding with a version (ids and labels only).
    expect(actions.sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:ListSecretVersionIds', 'secretsmanager:UpdateSecretVersionStage']);
  });

  test('beginRotation knows the state machine by its fixed name and may describe and stop only its executions (orphan takeover, emergency preemption)', () => {
    const [[machineId, machine]] = ofType('AWS::StepFunctions::StateMachine');
    const name = machine.Properties!.StateMachineName as string;
    expect(name).toMatch(/^Test-?Rotation-?[A-Za-z0-9-]*$/);
    expect(stack.rotation.stateMachine.stateMachineArn).toBeDefined();
    const env = resources[fnId('beginRotation')].Properties!.Environment.Variables;
    expect(renderCfn(env.STATE_MACHINE_ARN)).toBe(`arn:aws:states:us-east-1:123456789012:stateMachine:${name}`);
    // No reference to the state machine from the function: that would be a dependency cycle.
    expect(JSON.stringify(resources[fnId('beginRotation')])).not.toContain(machineId);
    for (const step of STEPS.filter((s) => s !== 'beginRotation')) {
      expect(resources[fnId(step)].Properties!.Environment.Variables.STATE_MACHINE_ARN).toBeUndefined();
    }
    const stops = roleStatements(roleId('beginRotation')).filter((s) => asArray(s.Action).includes('states:StopExecution'));
    expect(stops).toHaveLength(1);
    expect(asArray(stops[0].Action)).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(asArray(stops[0].Resource).map(renderCfn)).toEqual([`arn:aws:states:us-east-1:123456789012:execution:${name}:*`]);
    expect(STEPS.filter((step) => allows(roleStatements(roleId(step)), 'states:StopExecution'))).toEqual(['beginRotation']);
    expect(STEPS.filter((step) => allows(roleStatements(roleId(step)), 'states:StartExecution'))).toEqual([]);
  });

  test('every step knows the zombie window: its longest step function timeout (30 s) + 30 s of slack, also a stack output', () => {
    const timeouts = STEPS.map((step) => resources[fnId(step)].Properties!.Timeout as number);
    expect(Math.max(...timeouts)).toBe(30);
    expect(stack.rotation.zombieWindow.toSeconds()).toBe(60);
    for (const step of STEPS) expect(resources[fnId(step)].Properties!.Environment.Variables.ZOMBIE_WINDOW_SECONDS).toBe('60');
    expect(template.toJSON().Outputs.ZombieWindowSeconds).toMatchObject({ Value: '60' });
  });

  test('no identity policy uses a wildcard action for secretsmanager or kms (or a bare *, or NotAction)', () => {
    const offending = allIdentityStatements().filter(({ statement }) => {
      if (statement.NotAction !== undefined) return true;
      return asArray(statement.Action).some((a) => a === '*' || (/^(secretsmanager|kms):/i.test(a) && /[*?]/.test(a)));
    });
    expect(offending).toEqual([]);
  });

  test('Secrets Manager actions are confined to the keyroll/clients/ prefix', () => {
    const secretStatements = allIdentityStatements().filter(({ statement }) => asArray(statement.Action).some((a) => /^secretsmanager:/i.test(a)));
    expect(secretStatements.length).toBeGreaterThan(0);
    for (const { where, statement } of secretStatements) {
      expect({ where, effect: statement.Effect, resources: asArray(statement.Resource).map(renderCfn) }).toEqual({ where, effect: 'Allow', resources: [SECRET_ARN] });
    }
  });

  test('KMS actions are on the one key, and only through a named service (kms:ViaService)', () => {
    const kmsStatements = allIdentityStatements().filter(({ statement }) => asArray(statement.Action).some((a) => /^kms:/i.test(a)));
    expect(kmsStatements.length).toBeGreaterThan(0);
    for (const { where, statement } of kmsStatements) {
      expect({ where, resources: asArray(statement.Resource) }).toEqual({ where, resources: [keyArn()] });
      const via = statement.Condition?.StringEquals?.['kms:ViaService'];
      expect({ where, via }).toEqual({ where, via: expect.stringMatching(/^(secretsmanager|dynamodb|sns)\.us-east-1\.amazonaws\.com$/) });
    }
  });

  test('the key policy uses wildcard actions only for the account root (the CDK default) and the CloudWatch Logs service', () => {
    const [[, key]] = ofType('AWS::KMS::Key');
    for (const statement of asArray<Statement>(key.Properties!.KeyPolicy.Statement)) {
      if (!asArray(statement.Action).some((a) => a.includes('*'))) continue;
      const principal = renderCfn((statement.Principal as any).AWS ?? (statement.Principal as any).Service);
      expect(principal).toMatch(/^(arn:aws:iam::123456789012:root|logs\.us-east-1\.amazonaws\.com)$/);
    }
  });

  test("each step may use the table; beginRotation may Query the table (a rotation id's audit entries), and only createSecret (revokeImmediately) and finishSecret the byClient index", () => {
    const tableArn = `{GetAtt:${logicalId(stack.rotation.table)}.Arn}`;
    for (const step of STEPS) {
      const ddb = roleStatements(roleId(step)).filter((s) => asArray(s.Action).some((a) => /^dynamodb:/i.test(a)));
      expect(ddb.length).toBeGreaterThan(0);
      for (const s of ddb) {
        const resourcesOf = asArray(s.Resource).map(renderCfn);
        expect(resourcesOf.every((r) => r === tableArn || r === `${tableArn}/index/byClient`)).toBe(true);
        expect(asArray(s.Action).some((a) => /^dynamodb:(Scan|DeleteItem|BatchWriteItem|\*)$/i.test(a))).toBe(false);
      }
    }
    expect(stepsAllowed('dynamodb:Query')).toEqual(['beginRotation', 'createSecret', 'finishSecret']);
    const indexQueries = STEPS.filter((step) =>
      roleStatements(roleId(step)).some((s) => asArray(s.Action).includes('dynamodb:Query') && asArray(s.Resource).map(renderCfn).includes(`${tableArn}/index/byClient`)),
    );
    expect(indexQueries).toEqual(['createSecret', 'finishSecret']);
  });

  test('the state machine role publishes only to the two topics, UpdateItems only the table, and invokes only the 8 steps', () => {
    const statements = roleStatements(logicalId(stack.rotation.stateMachine.role));
    const resourcesFor = (action: string) => statements.filter((s) => s.Effect === 'Allow' && asArray(s.Action).some((a) => actionMatches(a, action))).flatMap((s) => asArray(s.Resource).map(renderCfn));

    const topics = [logicalId(stack.rotation.clientTopic), logicalId(stack.rotation.opsTopic)].map((id) => `{Ref:${id}}`);
    expect([...new Set(resourcesFor('sns:Publish'))].sort()).toEqual(topics.sort());

    const snsActions = statements.flatMap((s) => asArray(s.Action)).filter((a) => /^sns:/i.test(a));
    expect([...new Set(snsActions)]).toEqual(['sns:Publish']);

    const ddbActions = statements.flatMap((s) => asArray(s.Action)).filter((a) => /^dynamodb:/i.test(a));
    expect([...new Set(ddbActions)]).toEqual(['dynamodb:UpdateItem']);
    expect(resourcesFor('dynamodb:UpdateItem')).toEqual([`arn:aws:dynamodb:us-east-1:123456789012:table/{Ref:${logicalId(stack.rotation.table)}}`]);

    const invoked = new Set(resourcesFor('lambda:InvokeFunction'));
    const expected = STEPS.flatMap((step) => [`{GetAtt:${fnId(step)}.Arn}`, `{GetAtt:${fnId(step)}.Arn}:*`]);
    expect([...invoked].sort()).toEqual(expected.sort());

    expect(statements.flatMap((s) => asArray(s.Action)).filter((a) => /^secretsmanager:/i.test(a))).toEqual([]);
  });

  test('the state machine role can use the key through SNS and DynamoDB (encrypted topics and table)', () => {
    const statements = roleStatements(logicalId(stack.rotation.stateMachine.role));
    const via = (service: string) => statements.filter((s) => s.Condition?.StringEquals?.['kms:ViaService'] === `${service}.us-east-1.amazonaws.com`);
    expect(via('sns').flatMap((s) => asArray(s.Action))).toEqual(expect.arrayContaining(['kms:GenerateDataKey', 'kms:Decrypt']));
    expect(via('dynamodb').flatMap((s) => asArray(s.Action))).toEqual(expect.arrayContaining(['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt']));
  });
});

describe('state machine definition', () => {
  const LAMBDA_TASKS: Record<string, Step> = {
    ValidateAndLock: 'beginRotation',
    CreateSecret: 'createSecret',
    SetSecret: 'setSecret',
    TestSecret: 'testSecret',
    FinishSecret: 'finishSecret',
    CheckPreviousKeyUsage: 'checkUsage',
    RetireOldKey: 'retireOldKey',
    Rollback: 'rollbackRotation',
  };

  test('parses, starts at ValidateAndLock, and has every state named in RotationStates', () => {
    const { json } = definition();
    expect(json.StartAt).toBe(RotationStates.VALIDATE_AND_LOCK);
    const names = [...allStates(json).keys()];
    expect(names.sort()).toEqual([...Object.values(RotationStates)].sort());
  });

  test('the Lambda tasks are exactly the 8 steps, each calling its own function', () => {
    const { json, tokens } = definition();
    const lambdaTasks = Object.fromEntries(
      [...allStates(json)].flatMap(([name, state]) => {
        const fn = invokedFunction(state, tokens);
        return fn === undefined ? [] : [[name, fn]];
      }),
    );
    expect(lambdaTasks).toEqual(Object.fromEntries(Object.entries(LAMBDA_TASKS).map(([name, step]) => [name, fnId(step)])));
  });

  test.each(Object.keys(LAMBDA_TASKS))('%s retries TransientError with FULL jitter, and never retries States.ALL', (name) => {
    const { json, tokens } = definition();
    const state = allStates(json).get(name)!;
    expect(invokedFunction(state, tokens)).toBeDefined();
    const retriers = state.Retry ?? [];
    expect(retriers.some((r) => r.JitterStrategy === 'FULL' && r.ErrorEquals.includes('TransientError'))).toBe(true);
    expect(retriers.flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
  });

  test('no state anywhere retries States.ALL', () => {
    for (const [name, state] of allStates(definition().json)) {
      expect({ name, errors: (state.Retry ?? []).flatMap((r) => r.ErrorEquals) }).toEqual({ name, errors: expect.not.arrayContaining(['States.ALL']) });
    }
  });

  test('Parameters is always a payload template (an object), never a bare path string', () => {
    // A string here is passed to the function verbatim (e.g. the text "$.rotation"): aws-cdk#34260.
    for (const [name, state] of allStates(definition().json)) {
      if (!('Parameters' in state)) continue;
      expect({ name, kind: Array.isArray(state.Parameters) ? 'array' : typeof state.Parameters }).toEqual({ name, kind: 'object' });
    }
  });

  test('ValidateAndLock outputs { rotation }, without a ResultPath "$" (which aws-local-stepfunctions 3.0 mishandles)', () => {
    const states = allStates(definition().json);
    expect(states.get('ValidateAndLock')!.ResultSelector).toEqual({ 'rotation.$': '$' });
    for (const [name, state] of states) expect({ name, resultPath: state.ResultPath }).not.toEqual({ name, resultPath: '$' });
  });

  test.each(['CreateSecret', 'SetSecret', 'TestSecret', 'FinishSecret', 'RetireOldKey'])('%s gets the rotation ($.rotation) as its input', (name) => {
    const state = allStates(definition().json).get(name)!;
    expect(state.InputPath).toBe('$.rotation');
    expect(state.Parameters).toBeUndefined();
  });

  test.each(['CreateSecret', 'SetSecret', 'TestSecret', 'FinishSecret'])('%s catches every error into Rollback, keeping it at $.error', (name) => {
    const state = allStates(definition().json).get(name)!;
    expect(state.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: RotationStates.ROLLBACK, ResultPath: '$.error' })]);
  });

  test('ValidateAndLock catches into RotationRejected (a Fail state), telling a waiting fleet first', () => {
    const states = allStates(definition().json);
    const toRejected = RotationStates.FLEET_CALLBACK_ON_REJECTION;
    expect(states.get('ValidateAndLock')!.Catch).toEqual([
      // RotationAlreadyRan is a refusal too: the lock may be the earlier run's of the same id (in its overlap), and must stay.
      {
        ErrorEquals: ['InvalidRotationInput', 'InvalidRotationId', 'UnknownClient', 'ClientOffboarded', 'RotationInProgress', 'RotationAlreadyRan', 'RotationIdCollision', 'NativeRotationEnabled'],
        ResultPath: '$.error',
        Next: toRejected,
      },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: RotationStates.RELEASE_LOCK_AFTER_REJECTION },
    ]);
    expect(states.get(RotationStates.REJECTED)!.Type).toBe('Fail');
    // A fleet item's token (in the raw input) gets the failure; without one, straight to the Fail state.
    expect(states.get(toRejected)).toMatchObject({
      Type: 'Choice',
      Default: RotationStates.REJECTED,
      Choices: [{ Variable: '$.callbackToken', IsPresent: true, Next: RotationStates.REPORT_REJECTION_TO_FLEET }],
    });
    expect(states.get(RotationStates.REPORT_REJECTION_TO_FLEET)).toMatchObject({ Next: RotationStates.REJECTED, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: RotationStates.REJECTED }] });
    // Any other failure releases the lock if this execution (by name) holds it, then fails the same way.
    const release = states.get(RotationStates.RELEASE_LOCK_AFTER_REJECTION)!;
    expect(release).toMatchObject({ Next: toRejected, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: toRejected }] });
    expect(JSON.stringify(release.Parameters)).toContain('"$$.Execution.Name"');
  });

  test('usage-aware retirement: check, then wait / remind (and wait) / retire at the not-after', () => {
    const states = allStates(definition().json);
    expect(states.get(RotationStates.AFTER_ROTATED)!.Default).toBe(RotationStates.CHECK_USAGE);
    expect(states.get(RotationStates.CHECK_USAGE)).toMatchObject({ InputPath: '$.rotation', ResultPath: '$.usage', Next: RotationStates.USAGE_DECISION });
    const decision = states.get(RotationStates.USAGE_DECISION)!;
    expect(decision.Choices).toEqual([
      { Variable: '$.usage.decision', StringEquals: 'remind', Next: RotationStates.NOTIFY_EXPIRING },
      { Variable: '$.usage.decision', StringEquals: 'wait', Next: RotationStates.WAIT_FOR_USAGE_CHECK },
    ]);
    expect(decision.Default).toBe(RotationStates.WAIT_OVERLAP);
    expect(states.get(RotationStates.NOTIFY_EXPIRING)!.Next).toBe(RotationStates.WAIT_FOR_USAGE_CHECK);
    expect(states.get(RotationStates.WAIT_FOR_USAGE_CHECK)).toMatchObject({ TimestampPath: '$.usage.checkAt', Next: RotationStates.CHECK_USAGE });
    expect(states.get(RotationStates.WAIT_OVERLAP)).toMatchObject({ TimestampPath: '$.usage.notAfter', Next: RotationStates.RETIRE_OLD_KEY });
  });

  test('JSONPath only: no JSONata query language and no Assign (variables)', () => {
    const { text, json } = definition();
    expect(text).not.toMatch(/"QueryLanguage"\s*:\s*"JSONata"/);
    const keys = allKeys(json);
    expect(keys.has('Assign')).toBe(false);
    for (const [, state] of allStates(json)) expect(state.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(json.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
  });
});

describe('grantStartRotation', () => {
  test('grants states:StartExecution on the state machine, and Describe/Stop on its executions', () => {
    expect(operatorGrant.success).toBe(true);
    const statements = roleStatements(logicalId(operatorRole));
    const start = statements.filter((s) => asArray(s.Action).includes('states:StartExecution'));
    expect(start).toHaveLength(1);
    expect(start[0].Effect).toBe('Allow');
    expect(asArray(start[0].Resource)).toEqual([{ Ref: logicalId(stack.rotation.stateMachine) }]);

    const executions = statements.filter((s) => asArray(s.Action).includes('states:StopExecution'));
    expect(executions).toHaveLength(1);
    expect(asArray(executions[0].Action)).toEqual(expect.arrayContaining(['states:DescribeExecution', 'states:StopExecution']));
    // arn:aws:states:<region>:<account>:execution:<state machine name>:* — the name is field 6 of the state machine ARN.
    expect(asArray(executions[0].Resource).map(renderCfn)).toEqual([`arn:aws:states:us-east-1:123456789012:execution:{Select:6:{Split:::{Ref:${logicalId(stack.rotation.stateMachine)}}}}:*`]);
    // Only the read-only List*/Describe* actions of StateMachine.grantRead are on '*'; nothing that acts.
    for (const s of statements.filter((st) => asArray(st.Resource).includes('*'))) {
      for (const action of asArray(s.Action)) expect(action).toMatch(/^states:(List|Describe)[A-Za-z]+$/);
    }
  });
});

describe('constructor validation', () => {
  const build = (props: KeyRollRotationProps) => () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    new KeyRollRotation(new Stack(app, 'V', { env: TEST_ENV }), 'Rotation', props);
  };

  test.each([
    ['Bad', /keyPrefix.*got 'Bad'/],
    ['k', /keyPrefix.*got 'k'/],
    ['1abc', /keyPrefix.*got '1abc'/],
    ['kr_', /keyPrefix.*got 'kr_'/],
    ['abcdefghijklmnopq', /keyPrefix.*got 'abcdefghijklmnopq'/],
  ])('rejects keyPrefix %p', (keyPrefix, message) => {
    expect(build({ keyPrefix })).toThrow(message);
  });

  test('rejects a secretNamePrefix with characters Secrets Manager refuses', () => {
    expect(build({ secretNamePrefix: 'key roll/' })).toThrow(/secretNamePrefix.*got 'key roll\/'/);
  });

  test('rejects a reminderInterval under 10 minutes and a usageWindow under a minute', () => {
    expect(build({ reminderInterval: Duration.minutes(9) })).toThrow(/reminderInterval must be at least 10 minutes; got 540 seconds/);
    expect(build({ usageWindow: Duration.seconds(30) })).toThrow(/usageWindow must be at least 1 minute; got 30 seconds/);
  });

  test('rejects minOverlap under a minute', () => {
    expect(build({ minOverlap: Duration.seconds(30) })).toThrow(/minOverlap.*got 30 seconds/);
  });

  test('rejects minOverlap > defaultOverlap', () => {
    expect(build({ minOverlap: Duration.hours(2), defaultOverlap: Duration.hours(1) })).toThrow(/minOverlap <= defaultOverlap <= maxOverlap; got 7200 s, 3600 s, 2592000 s/);
  });

  test('rejects defaultOverlap > maxOverlap', () => {
    expect(build({ defaultOverlap: Duration.days(2), maxOverlap: Duration.days(1) })).toThrow(/got 60 s, 172800 s, 86400 s/);
  });

  test('rejects a stateMachineName that Step Functions would refuse', () => {
    expect(build({ stateMachineName: 'key roll' })).toThrow(/stateMachineName must be 1-80 characters of \[A-Za-z0-9_-\]; got 'key roll'/);
  });

  test('rejects a maxOverlap that would take the state machine past its 1-year limit', () => {
    expect(build({ maxOverlap: Duration.days(365) })).toThrow(/maxOverlap.*got 31536000 seconds/);
  });

  describe('proveKeysAgainst (testSecret sends the new key there: https only, issue 16 item 9)', () => {
    const prove = (url: string) => () => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      new KeyRollRotation(new Stack(app, 'V', { env: TEST_ENV }), 'Rotation').proveKeysAgainst(url);
    };

    test.each([
      ['http://api.example.com/whoami', 'The verification endpoint must be an https:// URL; got a http: URL.'],
      ['http://127.0.0.1:8080/whoami', 'The verification endpoint must be an https:// URL; got a http: URL.'],
      ['https://user:pass@api.example.com/whoami', 'The verification endpoint must not carry credentials (user:password@).'],
      ['api.example.com/whoami', 'The verification endpoint is not an absolute URL.'],
    ])('refuses %p by name at synth', (url, message) => {
      let error: unknown;
      try {
        prove(url)();
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ name: 'InvalidVerifyEndpoint', message });
    });

    test('accepts https, with tokens inside (as the example API URL has); a URL that starts with a token is left to the probe', () => {
      expect(prove('https://api.example.com/health/key')).not.toThrow();
      expect(prove(`https://api.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/whoami`)).not.toThrow();
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'P', { env: TEST_ENV });
      expect(() => new KeyRollRotation(stack, 'Rotation').proveKeysAgainst(new CfnParameter(stack, 'Url').valueAsString)).not.toThrow();
    });

    test('the stack refuses a plain-HTTP verifyEndpointUrl', () => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      expect(() => new KeyRollStack(app, 'WithHttp', { env: TEST_ENV, verifyEndpointUrl: 'http://api.example.com/whoami' })).toThrow('The verification endpoint must be an https:// URL; got a http: URL.');
    });
  });

  test('accepts the boundaries: a 2- and a 16-character prefix, min = default = max', () => {
    expect(build({ keyPrefix: 'ab', minOverlap: Duration.hours(1), defaultOverlap: Duration.hours(1), maxOverlap: Duration.hours(1) })).not.toThrow();
    expect(build({ keyPrefix: 'abcdefghijklmnop', maxOverlap: Duration.hours(365 * 24 - 2) })).not.toThrow();
  });
});
