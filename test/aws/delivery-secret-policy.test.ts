/**
 * The client secret's resource policy (lambdas/aws/delivery/secret-policy.ts): its content,
 * canonical form and size, and what it decides, evaluated with iam-simulate (AWS's policy
 * logic: an explicit deny in the resource policy beats any identity allow, a missing condition
 * key makes StringNotEquals true) for readers, other tenants' principals and KeyRoll's roles.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import fc from 'fast-check';
import { MAX_READERS } from '../../lambdas/core/delivery';
import { DENY_NATIVE_ROTATION_POLICY } from '../../lambdas/aws/secret-rotation-guard';
import { SECRET_POLICY_MAX_CHARS, sameSecretPolicy, secretPolicyFor, SecretPolicySid, type SecretPolicyInput } from '../../lambdas/aws/delivery/secret-policy';

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const SECRET = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:keyroll/acme-AbCdEf`;
const CREATE_ROLE = `arn:aws:iam::${ACCOUNT}:role/Test-RotationCreateSecretRole`;
const TEST_ROLE = `arn:aws:iam::${ACCOUNT}:role/Test-RotationTestSecretRole`;
const PICKUP_ROLE = `arn:aws:iam::${ACCOUNT}:role/Test-PickupRole`;
const DELIVERY_ROLE = `arn:aws:iam::${ACCOUNT}:role/Test-DeliveryRole`;
const READER = `arn:aws:iam::${OTHER_ACCOUNT}:role/acme-app`;
const SAME_ACCOUNT_READER = `arn:aws:iam::${ACCOUNT}:role/acme-internal`;
const OTHER_TENANT = `arn:aws:iam::${ACCOUNT}:role/globex-app`;
const ROOT_READER_ACCOUNT = '333344445555';

const base: SecretPolicyInput = { readers: [], keyrollSecretReaderArns: [CREATE_ROLE, TEST_ROLE, PICKUP_ROLE], deliveryRoleArn: DELIVERY_ROLE, partition: 'aws' };

interface Statement {
  Sid: string;
  Effect: string;
  Principal: unknown;
  Action: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const statementsOf = (policy: string) => (JSON.parse(policy) as { Statement: Statement[] }).Statement;
const sid = (policy: string, name: string) => statementsOf(policy).find((s) => s.Sid === name);

/** Whether `principal` (with `identityAllows` GetSecretValue-and-all on `*` in its identity policy) may make the request. */
async function decide(policy: string, principal: string, action: string, context: Record<string, string> = {}, identityAllows = true): Promise<string> {
  const account = principal.split(':')[4];
  const response = await runSimulation(
    {
      request: {
        principal,
        action,
        resource: { resource: SECRET, accountId: ACCOUNT },
        contextVariables: { 'aws:PrincipalArn': principal, 'aws:PrincipalAccount': account, 'aws:SecureTransport': 'true', ...context },
      },
      identityPolicies: identityAllows ? [{ name: 'broad', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'secretsmanager:*', Resource: '*' }] } }] : [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: JSON.parse(policy) as unknown,
    },
    {},
  );
  if (response.resultType === 'error') throw new Error(JSON.stringify(response.errors));
  return response.overallResult;
}

const CURRENT = { 'secretsmanager:VersionStage': 'AWSCURRENT' };
const PENDING = { 'secretsmanager:VersionStage': 'AWSPENDING' };
const BY_VERSION_ID = { 'secretsmanager:VersionId': 'v-1' };
const GET = 'secretsmanager:GetSecretValue';

describe('secretPolicyFor: content', () => {
  it('without readers: no Allow, the four denies, the rotation deny as onboarding writes it', () => {
    const policy = secretPolicyFor(base);
    const statements = statementsOf(policy);
    expect(statements.map((s) => s.Sid)).toEqual([SecretPolicySid.ONLY_NAMED_READERS, SecretPolicySid.CURRENT_ONLY, SecretPolicySid.ONLY_ROTATOR, SecretPolicySid.DELIVERY_OWNS_POLICY]);
    expect(statements.every((s) => s.Effect === 'Deny')).toBe(true);
    expect(sid(policy, SecretPolicySid.ONLY_ROTATOR)).toEqual((JSON.parse(DENY_NATIVE_ROTATION_POLICY) as { Statement: unknown[] }).Statement[0]);
    expect(sid(policy, SecretPolicySid.ONLY_NAMED_READERS)?.Condition).toEqual({ StringNotEquals: { 'aws:PrincipalArn': [CREATE_ROLE, PICKUP_ROLE, TEST_ROLE].sort() } });
    expect(sid(policy, SecretPolicySid.DELIVERY_OWNS_POLICY)).toMatchObject({
      Principal: '*',
      Action: ['secretsmanager:DeleteResourcePolicy', 'secretsmanager:PutResourcePolicy'],
      Condition: { StringNotEquals: { 'aws:PrincipalArn': DELIVERY_ROLE } },
    });
  });

  it('with readers: an Allow of AWSCURRENT to exactly them, and they join the principal exemption', () => {
    const policy = secretPolicyFor({ ...base, readers: [READER, SAME_ACCOUNT_READER] });
    expect(sid(policy, SecretPolicySid.READERS_READ_CURRENT)).toEqual({
      Sid: SecretPolicySid.READERS_READ_CURRENT,
      Effect: 'Allow',
      Principal: { AWS: [READER, SAME_ACCOUNT_READER].sort() },
      Action: GET,
      Resource: '*',
      Condition: { StringEquals: { 'secretsmanager:VersionStage': 'AWSCURRENT' } },
    });
    expect(sid(policy, SecretPolicySid.ONLY_NAMED_READERS)?.Condition?.StringNotEquals['aws:PrincipalArn']).toEqual([CREATE_ROLE, PICKUP_ROLE, READER, SAME_ACCOUNT_READER, TEST_ROLE].sort());
  });

  it('an account-root reader is exempted by account, not by ARN', () => {
    const root = `arn:aws:iam::${ROOT_READER_ACCOUNT}:root`;
    const policy = secretPolicyFor({ ...base, readers: [root] });
    const condition = sid(policy, SecretPolicySid.ONLY_NAMED_READERS)?.Condition?.StringNotEquals;
    expect(condition?.['aws:PrincipalAccount']).toEqual([ROOT_READER_ACCOUNT]);
    expect(condition?.['aws:PrincipalArn']).not.toContain(root);
  });

  it('is canonical: any order or repetition of the same readers gives the same bytes (property)', () => {
    const arns = fc.constantFrom(READER, SAME_ACCOUNT_READER, `arn:aws:iam::${OTHER_ACCOUNT}:user/ops/bob`, `arn:aws:iam::${ROOT_READER_ACCOUNT}:root`);
    fc.assert(
      fc.property(fc.array(arns, { maxLength: MAX_READERS }), fc.array(arns, { maxLength: MAX_READERS }), (a, b) => {
        const same = new Set(a).size === new Set(b).size && a.every((x) => b.includes(x));
        const [pa, pb] = [secretPolicyFor({ ...base, readers: a }), secretPolicyFor({ ...base, readers: b })];
        expect(pa === pb).toBe(same);
        expect(secretPolicyFor({ ...base, readers: [...a].reverse(), keyrollSecretReaderArns: [...base.keyrollSecretReaderArns].reverse() })).toBe(pa);
      }),
    );
  });

  it('sameSecretPolicy compares parsed JSON (a service may re-format), not bytes', () => {
    const policy = secretPolicyFor({ ...base, readers: [READER] });
    expect(sameSecretPolicy(JSON.stringify(JSON.parse(policy), null, 2), policy)).toBe(true);
    expect(sameSecretPolicy(policy, secretPolicyFor(base))).toBe(false);
    expect(sameSecretPolicy(undefined, policy)).toBe(false);
    expect(sameSecretPolicy('{not json', policy)).toBe(false);
  });

  it('refuses malformed ARNs, other partitions, non-role KeyRoll principals and too many readers, with a named error', () => {
    const bad: SecretPolicyInput[] = [
      { ...base, readers: ['acme-app'] },
      { ...base, readers: ['arn:aws:iam::1234:role/x'] },
      { ...base, readers: ['arn:aws:sts::123456789012:assumed-role/x/session'] },
      { ...base, readers: ['arn:aws-cn:iam::123456789012:role/x'] },
      { ...base, readers: ['*'] },
      { ...base, readers: Array.from({ length: MAX_READERS + 1 }, (_, i) => `arn:aws:iam::${OTHER_ACCOUNT}:role/r${i}`) },
      { ...base, keyrollSecretReaderArns: [] },
      { ...base, keyrollSecretReaderArns: [`arn:aws:iam::${ACCOUNT}:user/alice`] },
      { ...base, deliveryRoleArn: `arn:aws:iam::${ACCOUNT}:root` },
      { ...base, partition: 'azure' },
    ];
    for (const input of bad) expect(() => secretPolicyFor(input)).toThrow(expect.objectContaining({ name: 'InvalidDeliveryPolicyInput' }));
  });
});

describe('secretPolicyFor: size', () => {
  /** The longest role ARN IAM allows: a 512-character path and a 64-character name, in the longest partition. */
  const longest = (i: number) => `arn:aws-us-gov:iam::${OTHER_ACCOUNT}:role/${`p${i}`.padEnd(510, 'x')}/${'n'.repeat(64)}`;
  const govBase = {
    ...base,
    partition: 'aws-us-gov',
    keyrollSecretReaderArns: base.keyrollSecretReaderArns.map((a) => a.replace('arn:aws:', 'arn:aws-us-gov:')),
    deliveryRoleArn: DELIVERY_ROLE.replace('arn:aws:', 'arn:aws-us-gov:'),
  };

  it(`stays under ${SECRET_POLICY_MAX_CHARS} characters at MAX_READERS readers of the longest ARNs`, () => {
    const policy = secretPolicyFor({ ...govBase, readers: Array.from({ length: MAX_READERS }, (_, i) => longest(i)) });
    expect(policy.length).toBeLessThan(SECRET_POLICY_MAX_CHARS);
  });

  it('typical sizes: 1 reader and MAX_READERS readers (figures in bench/README.md)', () => {
    const one = secretPolicyFor({ ...base, readers: [READER] }).length;
    const max = secretPolicyFor({ ...base, readers: Array.from({ length: MAX_READERS }, (_, i) => `arn:aws:iam::${OTHER_ACCOUNT}:role/client-app-reader-${i}`) }).length;
    expect(one).toBeLessThan(max);
    expect(max).toBeLessThan(SECRET_POLICY_MAX_CHARS / 4);
  });
});

describe('secretPolicyFor: what it decides (iam-simulate)', () => {
  const policy = secretPolicyFor({ ...base, readers: [READER, SAME_ACCOUNT_READER] });

  it('a reader reads AWSCURRENT, cross-account with its own identity allow, same-account on the resource policy alone', async () => {
    expect(await decide(policy, READER, GET, CURRENT)).toBe('Allowed');
    expect(await decide(policy, READER, GET, CURRENT, false)).not.toBe('Allowed');
    expect(await decide(policy, SAME_ACCOUNT_READER, GET, CURRENT, false)).toBe('Allowed');
  });

  it('a reader cannot read AWSPENDING, a version by id, or a request that names no stage', async () => {
    for (const reader of [READER, SAME_ACCOUNT_READER]) {
      expect(await decide(policy, reader, GET, PENDING)).toBe('ExplicitlyDenied');
      expect(await decide(policy, reader, GET, BY_VERSION_ID)).toBe('ExplicitlyDenied');
      expect(await decide(policy, reader, GET, {})).toBe('ExplicitlyDenied');
    }
  });

  it("another tenant's same-account principal with GetSecretValue on * is denied, whatever the stage", async () => {
    for (const context of [CURRENT, PENDING, {}]) expect(await decide(policy, OTHER_TENANT, GET, context)).toBe('ExplicitlyDenied');
    expect(await decide(secretPolicyFor(base), SAME_ACCOUNT_READER, GET, CURRENT)).toBe('ExplicitlyDenied');
  });

  it("KeyRoll's secret-reading roles still read every stage, by stage or by version id", async () => {
    for (const role of [CREATE_ROLE, TEST_ROLE]) for (const context of [CURRENT, PENDING, BY_VERSION_ID]) expect(await decide(policy, role, GET, context)).toBe('Allowed');
  });

  it('an account-root reader: its principals read AWSCURRENT, nothing else of it', async () => {
    const rootPolicy = secretPolicyFor({ ...base, readers: [`arn:aws:iam::${ROOT_READER_ACCOUNT}:root`] });
    const inRoot = `arn:aws:iam::${ROOT_READER_ACCOUNT}:role/anything`;
    expect(await decide(rootPolicy, inRoot, GET, CURRENT)).toBe('Allowed');
    expect(await decide(rootPolicy, inRoot, GET, PENDING)).toBe('ExplicitlyDenied');
    expect(await decide(rootPolicy, OTHER_TENANT, GET, CURRENT)).toBe('ExplicitlyDenied');
  });

  it('nobody but the delivery role changes the policy; nobody rotates', async () => {
    for (const principal of [OTHER_TENANT, READER, CREATE_ROLE, `arn:aws:iam::${ACCOUNT}:role/Admin`]) {
      expect(await decide(policy, principal, 'secretsmanager:PutResourcePolicy')).toBe('ExplicitlyDenied');
      expect(await decide(policy, principal, 'secretsmanager:DeleteResourcePolicy')).toBe('ExplicitlyDenied');
    }
    expect(await decide(policy, DELIVERY_ROLE, 'secretsmanager:PutResourcePolicy')).toBe('Allowed');
    for (const principal of [DELIVERY_ROLE, CREATE_ROLE, OTHER_TENANT]) expect(await decide(policy, principal, 'secretsmanager:RotateSecret')).toBe('ExplicitlyDenied');
  });
});
