/**
 * Least privilege over the whole synthesized KeyRoll template (rotation, auth layer,
 * schedules): every identity and resource policy is walked by the rules of iam-rules.ts.
 * Who may read a secret's value and who may move its labels are listed here with the
 * reason; so is every wildcard on Secrets Manager or KMS that the template keeps. Each rule
 * is also run on a copy of the template with a planted violation, and must report it.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { KeyRollStack } from '../../lib/keyroll-stack';
import {
  checkIam,
  checkKmsViaSecrets,
  checkLabelMovers,
  checkOneRolePerFunction,
  checkSecretReaders,
  checkStateMachineRole,
  checkWildcards,
  functionRoles,
  identityStatements,
  IamRule,
  nameOf,
  stateMachines,
  type CfnTemplate,
  type IamExpectations,
  type Statement,
} from './iam-rules';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

/** Who may do what with secrets, and every written exception. */
const EXPECTED: IamExpectations = {
  secretReaders: {
    RotationCreateSecretFunction: 'creates the AWSPENDING value and, on a retry with the same rotation id, reads it back to converge (and reads AWSCURRENT to know the version it replaces)',
    RotationTestSecretFunction: 'proves the pending key authenticates against the configured endpoint: it must send the key itself',
    PickupPickupFunction:
      'key pickup for clients outside AWS: reads the current version the table names (by VersionId) to encrypt it to the public key of the client whose signed assertion it verified; GetItem only on client items, no secret write',
  },
  labelMovers: {
    RotationBeginRotationFunction: 'emergency preemption and orphaned-lock takeover undo the stopped rotation (AWSPENDING removed, AWSCURRENT restored)',
    RotationCreateSecretFunction: 'PutSecretValue with AWSPENDING (ClientRequestToken = rotation id)',
    RotationFinishSecretFunction: 'moves AWSCURRENT to the new version (AWSPREVIOUS follows)',
    RotationRetireOldKeyFunction: 'removes AWSPREVIOUS from the retired version',
    RotationRollbackRotationFunction: 'removes AWSPENDING from a failed rotation',
  },
  allowances: [
    {
      where: 'RotationKey',
      action: 'kms:*',
      reason:
        'CDK\'s default key policy: the account root may administer and use the key, which delegates access to IAM policies (without it no identity policy can grant use of the key, and the key could become unmanageable). Resource "*" in a key policy means this key.',
    },
    ...['kms:Describe*', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'].map((action) => ({
      where: 'RotationKey',
      action,
      reason:
        'CloudWatch Logs encrypts the log groups with the key: the statement AWS documents for logs.<region>.amazonaws.com, confined by a condition to log groups of this account and region (kms:EncryptionContext:aws:logs:arn).',
    })),
  ],
};

let template: CfnTemplate;

beforeAll(() => {
  const app = newTestApp();
  template = Template.fromStack(new KeyRollStack(app, 'Test', { env: TEST_ENV })).toJSON() as CfnTemplate;
});
afterAll(removeTempDirs);

/** A deep copy of the template with `mutate` applied. */
function planted(mutate: (t: CfnTemplate) => void): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(template)) as CfnTemplate;
  mutate(copy);
  return copy;
}

/** The logical id of the resource named `name` (logical id without hash). */
function idOf(t: CfnTemplate, name: string): string {
  const id = Object.keys(t.Resources).find((k) => nameOf(k) === name);
  if (!id) throw new Error(`No resource named ${name}`);
  return id;
}

/** Adds a statement to the default policy of the role of function `fn`. */
function grantTo(t: CfnTemplate, fn: string, statement: Statement): void {
  const role = functionRoles(t).get(idOf(t, fn))!;
  const policy = Object.entries(t.Resources).find(([, r]) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!.Roles) === JSON.stringify([{ Ref: role }]))!;
  policy[1].Properties!.PolicyDocument.Statement.push(statement);
}

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:keyroll/clients/*';
const allow = (Action: string | string[], Resource: unknown = SECRET_ARN, Condition?: Statement['Condition']): Statement => ({ Effect: 'Allow', Action, Resource, ...(Condition ? { Condition } : {}) });

describe('the synthesized template', () => {
  test('breaks no rule', () => {
    expect(checkIam(template, EXPECTED)).toEqual([]);
  });

  test('the walk sees every function, role and policy (the rules cannot pass on an empty walk)', () => {
    const functions = [...functionRoles(template).keys()].map(nameOf).sort();
    expect(functions).toEqual(expect.arrayContaining(['AuthAuthorizerFunction', 'RotationCheckUsageFunction', 'RotationCreateSecretFunction', 'RotationTestSecretFunction', 'SchedulesScheduledStartFunction']));
    expect(functions.length).toBeGreaterThanOrEqual(11);
    expect(new Set(identityStatements(template).map((s) => s.role)).size).toBeGreaterThanOrEqual(functions.length + 1);
    const [machine] = stateMachines(template);
    expect(machine.invokes.map(nameOf).sort()).toEqual(
      ['BeginRotation', 'CheckUsage', 'CreateSecret', 'FinishSecret', 'RetireOldKey', 'RollbackRotation', 'SetSecret', 'TestSecret'].map((s) => `Rotation${s}Function`),
    );
  });

  test('the authorizer, checkUsage, retireOldKey and setSecret have no way to read a secret value', () => {
    const statementsOf = (fn: string) => identityStatements(template).filter((s) => s.role === functionRoles(template).get(idOf(template, fn)));
    for (const fn of ['AuthAuthorizerFunction', 'RotationCheckUsageFunction', 'RotationRetireOldKeyFunction', 'RotationSetSecretFunction']) {
      const text = JSON.stringify(statementsOf(fn).map((s) => s.statement));
      expect({ fn, reads: /secretsmanager:(GetSecretValue|\*)/.test(text), decryptsViaSecrets: text.includes('secretsmanager.') }).toEqual({ fn, reads: false, decryptsViaSecrets: false });
    }
    // The authorizer touches no secret at all.
    expect(JSON.stringify(statementsOf('AuthAuthorizerFunction'))).not.toMatch(/secretsmanager/i);
  });

  test('every allow-list entry has a written reason', () => {
    for (const a of EXPECTED.allowances) expect(a.reason.length).toBeGreaterThan(40);
  });
});

describe('each rule reports a planted violation', () => {
  test('a second function sharing a role', () => {
    const t = planted((c) => {
      c.Resources[idOf(c, 'RotationCheckUsageFunction')].Properties!.Role = { 'Fn::GetAtt': [functionRoles(c).get(idOf(c, 'RotationSetSecretFunction'))!, 'Arn'] };
    });
    expect(checkOneRolePerFunction(t)).toEqual([
      expect.objectContaining({
        rule: IamRule.ONE_ROLE_PER_FUNCTION,
        detail: expect.stringMatching(/shared by .*RotationSetSecretFunction.*RotationCheckUsageFunction|shared by .*RotationCheckUsageFunction.*RotationSetSecretFunction/),
      }),
    ]);
  });

  test('the authorizer able to read secrets (directly, or through secretsmanager:Get*)', () => {
    for (const action of ['secretsmanager:GetSecretValue', ['secretsmanager:Get*']]) {
      const t = planted((c) => grantTo(c, 'AuthAuthorizerFunction', allow(action)));
      expect(checkSecretReaders(t, EXPECTED)).toEqual([{ rule: IamRule.SECRET_READERS, where: 'AuthAuthorizerFunction', detail: expect.stringContaining('not an expected reader') }]);
    }
  });

  test('checkUsage given GetSecretValue, and testSecret losing it', () => {
    const t = planted((c) => {
      grantTo(c, 'RotationCheckUsageFunction', allow('secretsmanager:GetSecretValue'));
      const role = functionRoles(c).get(idOf(c, 'RotationTestSecretFunction'));
      for (const s of identityStatements(c).filter((x) => x.role === role)) s.statement.Action = asActions(s.statement).filter((a) => a !== 'secretsmanager:GetSecretValue');
    });
    expect(
      checkSecretReaders(t, EXPECTED)
        .map((f) => f.where)
        .sort(),
    ).toEqual(['RotationCheckUsageFunction', 'RotationTestSecretFunction']);
  });

  test('a label move granted outside the pipeline (scheduled start) or to a pipeline step that should not (checkUsage)', () => {
    const t = planted((c) => {
      grantTo(c, 'SchedulesScheduledStartFunction', allow('secretsmanager:UpdateSecretVersionStage'));
      grantTo(c, 'RotationCheckUsageFunction', allow('secretsmanager:PutSecretValue'));
    });
    expect(checkLabelMovers(t, EXPECTED)).toEqual([
      { rule: IamRule.LABEL_MOVERS, where: 'SchedulesScheduledStartFunction', detail: 'secretsmanager:UpdateSecretVersionStage granted outside the rotation pipeline' },
      { rule: IamRule.LABEL_MOVERS, where: 'RotationCheckUsageFunction', detail: 'secretsmanager:PutSecretValue granted to a pipeline step not expected to need it' },
    ]);
  });

  test('wildcards: secretsmanager:*, kms:*, a bare *, NotAction, Resource "*" on KMS; and a stale allowance', () => {
    const t = planted((c) => {
      grantTo(c, 'RotationFinishSecretFunction', allow('secretsmanager:*'));
      grantTo(c, 'RotationSetSecretFunction', allow('kms:Decrypt', '*'));
      grantTo(c, 'AuthAuthorizerFunction', allow('*', '*'));
      grantTo(c, 'RotationCheckUsageFunction', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' });
    });
    const details = checkWildcards(t, EXPECTED).map((f) => `${f.where}: ${f.detail}`);
    expect(details).toEqual(
      expect.arrayContaining([
        'RotationFinishSecretRoleDefaultPolicy: wildcard action secretsmanager:*',
        'RotationSetSecretRoleDefaultPolicy: Resource "*" on kms:Decrypt',
        'AuthAuthorizerRoleDefaultPolicy: wildcard action *',
        'AuthAuthorizerRoleDefaultPolicy: Resource "*" on *',
        'RotationCheckUsageRoleDefaultPolicy: Allow with NotAction',
      ]),
    );
    expect(details).toHaveLength(5);
    const stale = checkWildcards(template, { ...EXPECTED, allowances: [...EXPECTED.allowances, { where: 'RotationKey', action: 'kms:Sign*', reason: 'gone' }] });
    expect(stale).toEqual([{ rule: IamRule.STALE_ALLOWANCE, where: 'RotationKey', detail: 'allow-list entry for kms:Sign* matches nothing' }]);
    // Without its allow-list entry, the key policy's kms:* is reported.
    expect(checkWildcards(template, { ...EXPECTED, allowances: EXPECTED.allowances.filter((a) => a.action !== 'kms:*') })).toEqual([
      { rule: IamRule.WILDCARDS, where: 'RotationKey', detail: 'wildcard action kms:*' },
    ]);
  });

  test('decrypt through Secrets Manager for a role that reads and writes no value', () => {
    const t = planted((c) =>
      grantTo(c, 'RotationRetireOldKeyFunction', allow('kms:Decrypt', { 'Fn::GetAtt': [idOf(c, 'RotationKey'), 'Arn'] }, { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } })),
    );
    expect(checkKmsViaSecrets(t)).toEqual([{ rule: IamRule.KMS_VIA_SECRETS, where: 'RotationRetireOldKeyFunction', detail: expect.any(String) }]);
  });

  test('the state machine role reading a secret, invoking a function outside its definition, publishing anywhere', () => {
    const t = planted((c) => {
      const [{ role }] = stateMachines(c);
      const policy = Object.values(c.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!.Roles) === JSON.stringify([{ Ref: role }]))!;
      policy.Properties!.PolicyDocument.Statement.push(
        allow('secretsmanager:GetSecretValue'),
        allow('lambda:InvokeFunction', { 'Fn::GetAtt': [idOf(c, 'AuthAuthorizerFunction'), 'Arn'] }),
        allow('sns:Publish', '*'),
        allow('dynamodb:DeleteItem', { 'Fn::GetAtt': [idOf(c, 'RotationTable'), 'Arn'] }),
      );
    });
    const details = checkStateMachineRole(t).map((f) => f.detail);
    expect(details).toEqual([
      'may invoke AuthAuthorizerFunction, which its definition never calls',
      expect.stringMatching(/^secretsmanager:GetSecretValue on /),
      expect.stringMatching(/^sns:Publish on "\*"/),
      expect.stringMatching(/^dynamodb:DeleteItem on /),
    ]);
    // The checkIam entry point reports the secret read twice: as a reader and as the state machine role.
    expect(checkIam(t, EXPECTED).filter((f) => f.rule === IamRule.SECRET_READERS)).toEqual([expect.objectContaining({ where: 'RotationStateMachineRole' })]);
  });

  test('Step Functions reaching outside the stack: a foreign state machine started, answered or stopped', () => {
    const foreign = 'arn:aws:states:us-east-1:123456789012:stateMachine:SomeoneElses';
    const t = planted((c) => {
      const { role } = stateMachines(c).find((m) => nameOf(m.machine) === 'FleetStateMachine')!;
      const policy = Object.values(c.Resources).find((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties!.Roles) === JSON.stringify([{ Ref: role }]))!;
      policy.Properties!.PolicyDocument.Statement.push(
        allow('states:StartExecution', foreign),
        allow('states:SendTaskSuccess', foreign),
        allow('states:StopExecution', 'arn:aws:states:us-east-1:123456789012:execution:SomeoneElses:*'),
      );
    });
    expect(checkStateMachineRole(t).map((f) => f.detail)).toEqual([
      expect.stringMatching(/^states:StartExecution on "arn:aws:states:.*SomeoneElses"/),
      expect.stringMatching(/^states:SendTaskSuccess on /),
      expect.stringMatching(/^states:StopExecution on /),
    ]);
  });
});

function asActions(statement: Statement): string[] {
  return statement.Action === undefined ? [] : Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}
