/**
 * Least-privilege rules over a synthesized CloudFormation template, as pure functions of its
 * JSON: each returns findings (rule, where, what) so a test can assert none on the real
 * template and the right one on a template with a planted violation.
 *
 * Names: a resource is named by its logical id without CDK's 8-hex-digit hash suffix
 * (`RotationCreateSecretFunction02A33B2E` → `RotationCreateSecretFunction`), stable across
 * unrelated changes.
 */

/** The parts of a template read here. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

/** An IAM policy statement. */
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** One rule broken at one place. */
export interface Finding {
  readonly rule: IamRule;
  readonly where: string;
  readonly detail: string;
}

/** The rules. */
export const IamRule = {
  /** Each Lambda function has a role of its own, used by nothing else. */
  ONE_ROLE_PER_FUNCTION: 'one-role-per-function',
  /** Exactly the expected roles can read a secret's value (GetSecretValue). */
  SECRET_READERS: 'secret-readers',
  /** Only rotation-pipeline functions (invoked by the state machine) can move labels or write values. */
  LABEL_MOVERS: 'label-movers',
  /** No `*`, NotAction, or wildcard Secrets Manager/KMS action; no Resource `*` on them (unless allow-listed). */
  WILDCARDS: 'wildcards',
  /** Decrypt through Secrets Manager only for roles that read or write secret values. */
  KMS_VIA_SECRETS: 'kms-via-secrets',
  /** The state machine role: invoke its own functions, publish to its topics, update its table; nothing else. */
  STATE_MACHINE_ROLE: 'state-machine-role',
  /** An allow-list entry that matches nothing (the exception is gone: remove it). */
  STALE_ALLOWANCE: 'stale-allowance',
} as const;
export type IamRule = (typeof IamRule)[keyof typeof IamRule];

/** A written exception to the wildcard rule. */
export interface Allowance {
  /** Resource name (logical id without hash) of the policy or resource holding the statement. */
  readonly where: string;
  /** The action (exact) or `Resource:*` (any Secrets Manager/KMS action on Resource `*`). */
  readonly action: string;
  readonly reason: string;
}

/** What the rules expect of a template. */
export interface IamExpectations {
  /** Function name → why it must read secret values. Every other role must not. */
  readonly secretReaders: Readonly<Record<string, string>>;
  /** Function name → why it moves labels or writes values. Must be pipeline functions. */
  readonly labelMovers: Readonly<Record<string, string>>;
  readonly allowances: readonly Allowance[];
}

const LABEL_ACTIONS = ['secretsmanager:UpdateSecretVersionStage', 'secretsmanager:PutSecretValue'];

/** `RotationKey3583D52E` → `RotationKey`. */
export function nameOf(logicalId: string): string {
  return logicalId.replace(/[0-9A-F]{8}$/, '');
}

export const asList = <T>(value: T | readonly T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? [...(value as readonly T[])] : [value as T]);

function glob(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
}

/** Whether an Allow statement grants `action` (wildcards and NotAction included). */
export function grants(statement: Statement, action: string): boolean {
  if (statement.Effect !== 'Allow') return false;
  if (statement.NotAction !== undefined) return !asList(statement.NotAction).some((p) => glob(p).test(action));
  return asList(statement.Action).some((p) => glob(p).test(action));
}

/** The logical id a `{Ref}` / `{Fn::GetAtt: [id, ...]}` points at. */
function refOf(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') return obj.Ref;
    if (Array.isArray(obj['Fn::GetAtt'])) return obj['Fn::GetAtt'][0] as string;
  }
  return undefined;
}

/** Every logical id a value refers to, wherever in it. */
function refsIn(value: unknown): string[] {
  const own = refOf(value);
  if (own) return own.startsWith('AWS::') ? [] : [own]; // pseudo parameters (AWS::Partition) are no resource
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(refsIn);
  return [];
}

/** An identity-policy statement and the role it applies to. */
export interface IdentityStatement {
  readonly role: string;
  readonly policy: string;
  readonly statement: Statement;
}

/** Every statement of every identity policy (attached policies and inline role policies). */
export function identityStatements(template: CfnTemplate): IdentityStatement[] {
  const out: IdentityStatement[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      for (const role of asList(props.Roles)
        .map(refOf)
        .filter((r): r is string => !!r)) {
        for (const statement of asList<Statement>(props.PolicyDocument?.Statement)) out.push({ role, policy: id, statement });
      }
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const inline of asList<{ PolicyDocument: { Statement: Statement[] } }>(props.Policies)) {
        for (const statement of asList(inline.PolicyDocument.Statement)) out.push({ role: id, policy: id, statement });
      }
      for (const managed of asList(props.ManagedPolicyArns)
        .map(refOf)
        .filter((r): r is string => !!r)) {
        for (const statement of asList<Statement>(template.Resources[managed]?.Properties?.PolicyDocument?.Statement)) out.push({ role: id, policy: managed, statement });
      }
    }
  }
  return out;
}

/** Every statement of every resource policy (KMS key, topic, queue, secret). */
export function resourceStatements(template: CfnTemplate): { where: string; statement: Statement }[] {
  const documents: Record<string, string> = {
    'AWS::KMS::Key': 'KeyPolicy',
    'AWS::SNS::TopicPolicy': 'PolicyDocument',
    'AWS::SQS::QueuePolicy': 'PolicyDocument',
    'AWS::SecretsManager::ResourcePolicy': 'ResourcePolicy',
  };
  return Object.entries(template.Resources).flatMap(([id, resource]) => {
    const key = documents[resource.Type];
    return key ? asList<Statement>(resource.Properties?.[key]?.Statement).map((statement) => ({ where: id, statement })) : [];
  });
}

/** Lambda function logical id → its role's logical id. */
export function functionRoles(template: CfnTemplate): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') out.set(id, refOf(resource.Properties?.Role) ?? '<not a role of this template>');
  }
  return out;
}

/** The state machine's role and the functions it may invoke (the rotation pipeline). */
export function stateMachines(template: CfnTemplate): { machine: string; role: string; invokes: string[] }[] {
  const statements = identityStatements(template);
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([machine, r]) => {
      const role = refOf(r.Properties?.RoleArn) ?? '';
      const invokes = statements.filter((s) => s.role === role && grants(s.statement, 'lambda:InvokeFunction')).flatMap((s) => refsIn(s.statement.Resource));
      return { machine, role, invokes: [...new Set(invokes)].filter((id) => template.Resources[id]?.Type === 'AWS::Lambda::Function') };
    });
}

const rolesGranting = (statements: readonly IdentityStatement[], action: string) => new Set(statements.filter((s) => grants(s.statement, action)).map((s) => s.role));

function roleNames(template: CfnTemplate): Map<string, string> {
  // A role is named after its function when it has one (readable findings), else after itself.
  const names = new Map<string, string>();
  for (const id of Object.keys(template.Resources)) names.set(id, nameOf(id));
  for (const [fn, role] of functionRoles(template)) names.set(role, nameOf(fn));
  return names;
}

/** Each function has a role of its own, used by nothing else in the template. */
export function checkOneRolePerFunction(template: CfnTemplate): Finding[] {
  const findings: Finding[] = [];
  const byRole = new Map<string, string[]>();
  for (const [fn, role] of functionRoles(template)) byRole.set(role, [...(byRole.get(role) ?? []), nameOf(fn)]);
  for (const [role, fns] of byRole) {
    if (template.Resources[role]?.Type !== 'AWS::IAM::Role') findings.push({ rule: IamRule.ONE_ROLE_PER_FUNCTION, where: fns.join(', '), detail: 'role is not a role of this stack' });
    if (fns.length > 1) findings.push({ rule: IamRule.ONE_ROLE_PER_FUNCTION, where: nameOf(role), detail: `shared by ${fns.join(', ')}` });
  }
  for (const { machine, role } of stateMachines(template)) {
    if (byRole.has(role)) findings.push({ rule: IamRule.ONE_ROLE_PER_FUNCTION, where: nameOf(machine), detail: `uses the role of ${byRole.get(role)!.join(', ')}` });
  }
  return findings;
}

/** Exactly the expected functions may read secret values; no other role may. */
export function checkSecretReaders(template: CfnTemplate, expected: IamExpectations): Finding[] {
  const names = roleNames(template);
  const readers = [...rolesGranting(identityStatements(template), 'secretsmanager:GetSecretValue')].map((r) => names.get(r) ?? r);
  const findings: Finding[] = readers
    .filter((name) => !(name in expected.secretReaders))
    .map((name) => ({ rule: IamRule.SECRET_READERS, where: name, detail: 'can read secret values (secretsmanager:GetSecretValue) but is not an expected reader' }));
  for (const name of Object.keys(expected.secretReaders)) {
    if (!readers.includes(name)) findings.push({ rule: IamRule.SECRET_READERS, where: name, detail: 'is an expected reader but cannot read secret values' });
  }
  return findings;
}

/** Only functions of the rotation pipeline, and only the expected ones, may move labels or write values. */
export function checkLabelMovers(template: CfnTemplate, expected: IamExpectations): Finding[] {
  const names = roleNames(template);
  const pipelineRoles = new Set(stateMachines(template).flatMap((m) => m.invokes.map((fn) => functionRoles(template).get(fn)!)));
  const statements = identityStatements(template);
  const findings: Finding[] = [];
  for (const action of LABEL_ACTIONS) {
    for (const role of rolesGranting(statements, action)) {
      const name = names.get(role) ?? role;
      if (!pipelineRoles.has(role)) findings.push({ rule: IamRule.LABEL_MOVERS, where: name, detail: `${action} granted outside the rotation pipeline` });
      else if (!(name in expected.labelMovers)) findings.push({ rule: IamRule.LABEL_MOVERS, where: name, detail: `${action} granted to a pipeline step not expected to need it` });
    }
  }
  return findings;
}

const SENSITIVE = /^(secretsmanager|kms):/i;

/** Wildcards on everything, on Secrets Manager or KMS actions, NotAction, and Resource "*" on them. */
export function checkWildcards(template: CfnTemplate, expected: IamExpectations): Finding[] {
  const candidates: { where: string; action: string; detail: string }[] = [];
  const all = [...identityStatements(template).map((s) => ({ where: s.policy, statement: s.statement, identity: true })), ...resourceStatements(template).map((s) => ({ ...s, identity: false }))];
  for (const { where, statement, identity } of all) {
    if (statement.Effect !== 'Allow') continue;
    if (statement.NotAction !== undefined) candidates.push({ where, action: 'NotAction', detail: 'Allow with NotAction' });
    for (const action of asList(statement.Action)) {
      if (action === '*' || (SENSITIVE.test(action) && /[*?]/.test(action))) candidates.push({ where, action, detail: `wildcard action ${action}` });
    }
    // In a resource policy, Resource "*" means the resource itself (e.g. this key); in an identity policy, everything.
    const sensitive = asList(statement.Action).filter((a) => SENSITIVE.test(a) || a === '*');
    if (identity && sensitive.length > 0 && asList(statement.Resource).includes('*')) {
      candidates.push({ where, action: 'Resource:*', detail: `Resource "*" on ${sensitive.join(', ')}` });
    }
  }
  const used = new Set<Allowance>();
  const findings: Finding[] = [];
  for (const c of candidates) {
    const allowance = expected.allowances.find((a) => a.where === nameOf(c.where) && a.action === c.action);
    if (allowance) used.add(allowance);
    else findings.push({ rule: IamRule.WILDCARDS, where: nameOf(c.where), detail: c.detail });
  }
  for (const a of expected.allowances) {
    if (!used.has(a)) findings.push({ rule: IamRule.STALE_ALLOWANCE, where: a.where, detail: `allow-list entry for ${a.action} matches nothing` });
  }
  return findings;
}

/** kms:Decrypt through Secrets Manager is only for roles that read or write secret values. */
export function checkKmsViaSecrets(template: CfnTemplate): Finding[] {
  const names = roleNames(template);
  const statements = identityStatements(template);
  const needsKey = new Set([...rolesGranting(statements, 'secretsmanager:GetSecretValue'), ...rolesGranting(statements, 'secretsmanager:PutSecretValue')]);
  return statements
    .filter((s) => grants(s.statement, 'kms:Decrypt') && JSON.stringify(s.statement.Condition ?? {}).includes('secretsmanager.') && !needsKey.has(s.role))
    .map((s) => ({ rule: IamRule.KMS_VIA_SECRETS, where: names.get(s.role) ?? s.role, detail: 'may decrypt through Secrets Manager but reads and writes no secret value' }));
}

/** Actions the state machine's role may have besides its invoke/publish/update grants, all on "*". */
const STATE_MACHINE_DELIVERY =
  /^(logs:(CreateLogDelivery|DeleteLogDelivery|DescribeLogGroups|DescribeResourcePolicies|GetLogDelivery|ListLogDeliveries|PutResourcePolicy|UpdateLogDelivery)|xray:(GetSamplingRules|GetSamplingTargets|PutTelemetryRecords|PutTraceSegments))$/;

/**
 * Step Functions calling Step Functions, within this stack only: the fleet starts rotations
 * and runs its Distributed Map's child executions (start/describe/stop/redrive executions of
 * a state machine of this template), and a rotation answers the fleet's task token
 * (SendTaskSuccess/Failure, which IAM authorizes on "*" only: they have no resource type).
 */
function stepFunctionsOrchestration(template: CfnTemplate, action: string, resource: unknown, refs: readonly string[]): boolean {
  const machines = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  const machineIds = new Set(machines.map(([id]) => id));
  const text = JSON.stringify(resource);
  if (action === 'states:StartExecution') return refs.length > 0 && refs.every((r) => machineIds.has(r)) && asList(resource).length === refs.length;
  if (/^states:(DescribeExecution|StopExecution|RedriveExecution)$/.test(action)) return text.includes(':execution:') && refs.some((r) => machineIds.has(r)) && refs.every((r) => machineIds.has(r));
  // No resource type exists for these actions: "*" is the only resource IAM honours
  // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html).
  if (/^states:SendTask(Success|Failure)$/.test(action)) return asList(resource).length === 1 && asList(resource)[0] === '*';
  return false;
}

/** The state machine's role: invoke its own pipeline functions, publish to this stack's topics, update this stack's table (and read named attributes of named partitions). */
export function checkStateMachineRole(template: CfnTemplate): Finding[] {
  const findings: Finding[] = [];
  const typeOf = (id: string) => template.Resources[id]?.Type;
  for (const { machine, role, invokes } of stateMachines(template)) {
    const where = nameOf(machine);
    const inDefinition = new Set(refsIn(template.Resources[machine].Properties?.DefinitionString));
    for (const fn of invokes.filter((f) => !inDefinition.has(f))) findings.push({ rule: IamRule.STATE_MACHINE_ROLE, where, detail: `may invoke ${nameOf(fn)}, which its definition never calls` });
    for (const { statement } of identityStatements(template).filter((s) => s.role === role)) {
      if (statement.Effect !== 'Allow') continue;
      const refs = refsIn(statement.Resource);
      const resources = asList(statement.Resource);
      for (const action of asList(statement.Action)) {
        const ok =
          (action === 'lambda:InvokeFunction' && refs.length === resources.length && refs.every((r) => typeOf(r) === 'AWS::Lambda::Function')) ||
          (action === 'sns:Publish' && refs.length === resources.length && refs.every((r) => typeOf(r) === 'AWS::SNS::Topic')) ||
          (action === 'dynamodb:UpdateItem' && refs.length === resources.length && refs.every((r) => typeOf(r) === 'AWS::DynamoDB::Table')) ||
          // A fleet item's read of its client's record: only with the partition and the attributes named.
          (action === 'dynamodb:GetItem' &&
            refs.length === resources.length &&
            refs.every((r) => typeOf(r) === 'AWS::DynamoDB::Table') &&
            JSON.stringify(statement.Condition ?? {}).includes('"dynamodb:LeadingKeys"') &&
            JSON.stringify(statement.Condition ?? {}).includes('"dynamodb:Attributes"')) ||
          (/^kms:(Decrypt|Encrypt|GenerateDataKey|DescribeKey)$/.test(action) &&
            /"kms:ViaService":"(sns|dynamodb)\./.test(JSON.stringify(statement.Condition ?? {})) &&
            refs.every((r) => typeOf(r) === 'AWS::KMS::Key')) ||
          (STATE_MACHINE_DELIVERY.test(action) && resources.every((r) => r === '*')) ||
          stepFunctionsOrchestration(template, action, statement.Resource, refs);
        if (!ok) findings.push({ rule: IamRule.STATE_MACHINE_ROLE, where, detail: `${action} on ${JSON.stringify(statement.Resource)}` });
      }
      if (statement.NotAction !== undefined) findings.push({ rule: IamRule.STATE_MACHINE_ROLE, where, detail: 'NotAction' });
    }
  }
  return findings;
}

/** Every rule over a template. */
export function checkIam(template: CfnTemplate, expected: IamExpectations): Finding[] {
  return [
    ...checkOneRolePerFunction(template),
    ...checkSecretReaders(template, expected),
    ...checkLabelMovers(template, expected),
    ...checkWildcards(template, expected),
    ...checkKmsViaSecrets(template),
    ...checkStateMachineRole(template),
  ];
}
