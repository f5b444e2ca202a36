/**
 * Judges one IAM request against the identity policies of one role of the synthesized
 * template, with @cloud-copilot/iam-simulate (a maintained evaluator of AWS's policy logic:
 * actions, resource ARNs and their resource types, every condition operator, explicit and
 * implicit deny). The template is resolved into the test's world first (iam-world.ts).
 *
 * Actions the Service Authorization Reference lists with no resource type (states:SendTaskSuccess,
 * xray:PutTraceSegments, ...) are authorized on `*`: iam-simulate's data says which
 * (isWildcardOnlyAction), and such a request is evaluated with resource `*`, so a policy that
 * grants one only on a specific ARN does not allow it, as on AWS.
 *
 * The resource's own policy in the template goes in too: the KMS key's key policy (KMS
 * requires one to allow the account before any identity policy counts:
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html) and the
 * topics' and queue's policies (TLS-only denies).
 *
 * Decisions are cached per (template, world, role, action, resource, the context keys the
 * role's policies test): a key no statement of the role reads cannot change its decision.
 */
import { isWildcardOnlyAction, runSimulation } from '@cloud-copilot/iam-simulate';
import type { CfnTemplate, Statement } from '../infra/iam-rules';
import type { IamRequest } from './iam-requests';
import { principalsOf, type Principals, type RoleRef } from './iam-principals';
import { TEST_ACCOUNT, TEST_REGION, worldKey, worldResolver, type IamWorld } from './iam-world';

/** The evaluator's verdict on one request. */
export interface IamDecision {
  readonly allowed: boolean;
  /** iam-simulate's overall result (Allowed, ImplicitlyDenied, ExplicitlyDenied) or why it could not run. */
  readonly result: string;
  /** The resource IAM checked (`*` for a wildcard-only action). */
  readonly checkedResource: string;
}

/** Resolved resource ARN → its resource policy in the template (KMS key, SNS topics, SQS queue). */
function resourcePolicies(template: CfnTemplate, resolve: (value: unknown) => unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::KMS::Key') out.set(String(resolve({ 'Fn::GetAtt': [id, 'Arn'] })), resolve(props.KeyPolicy));
    if (resource.Type === 'AWS::SNS::TopicPolicy') for (const topic of props.Topics as unknown[]) out.set(String(resolve(topic)), resolve(props.PolicyDocument));
    if (resource.Type === 'AWS::SQS::QueuePolicy') for (const queue of props.Queues as { Ref: string }[]) out.set(String(resolve({ 'Fn::GetAtt': [queue.Ref, 'Arn'] })), resolve(props.PolicyDocument));
  }
  return out;
}

interface RolePolicy {
  readonly statements: Statement[];
  /** Lower-cased condition keys and policy variables the statements read. */
  readonly keys: ReadonlySet<string>;
  /** The world's resource policies, by resource ARN. */
  readonly resourcePolicies: ReadonlyMap<string, unknown>;
}

/** Condition keys (and `${...}` policy variables) a set of statements can read. */
function keysRead(statements: readonly Statement[]): Set<string> {
  const keys = new Set<string>();
  for (const statement of statements) {
    for (const block of Object.values(statement.Condition ?? {})) for (const key of Object.keys(block)) keys.add(key.toLowerCase());
    for (const variable of JSON.stringify(statement).matchAll(/\$\{([^}]+)\}/g)) keys.add(variable[1].toLowerCase());
  }
  return keys;
}

const wildcardOnly = new Map<string, Promise<boolean>>();

/** Whether the Service Authorization Reference lists no resource type for `action` (per iam-simulate's data). */
export function isWildcardOnly(action: string): Promise<boolean> {
  let known = wildcardOnly.get(action);
  if (!known) {
    const [service, name] = action.split(':') as [string, string];
    known = isWildcardOnlyAction(service, name).catch(() => false);
    wildcardOnly.set(action, known);
  }
  return known;
}

/** An evaluator over one template (the synthesized one, or a planted copy). */
export class IamEvaluator {
  readonly principals: Principals;
  private readonly policies = new Map<string, RolePolicy>();
  private readonly decisions = new Map<string, Promise<IamDecision>>();

  constructor(private readonly template: CfnTemplate) {
    this.principals = principalsOf(template);
  }

  /** Judges `request` made by `role` in `world`. */
  evaluate(role: RoleRef, request: IamRequest, world: IamWorld): Promise<IamDecision> {
    const policy = this.policyOf(role.role, world);
    const relevant = Object.entries(request.context)
      .filter(([key]) => policy.keys.has(key.toLowerCase()))
      .sort(([a], [b]) => a.localeCompare(b));
    const cacheKey = JSON.stringify([worldKey(world), role.role, request.action, request.resource, relevant]);
    let decision = this.decisions.get(cacheKey);
    if (!decision) {
      decision = this.simulate(role, request, policy);
      this.decisions.set(cacheKey, decision);
    }
    return decision;
  }

  /** Distinct decisions computed so far (the simulations actually run). */
  get simulations(): number {
    return this.decisions.size;
  }

  private policyOf(role: string, world: IamWorld): RolePolicy {
    const key = `${role} ${worldKey(world)}`;
    let policy = this.policies.get(key);
    if (!policy) {
      const resolver = worldResolver(this.template, world);
      const statements = this.principals.statementsOf(role).map((s) => resolver.statement(s));
      const resources = resourcePolicies(this.template, resolver.resolve);
      const resourceStatements = [...resources.values()].flatMap((doc) => (doc as { Statement?: Statement[] }).Statement ?? []);
      policy = { statements, keys: keysRead([...statements, ...resourceStatements]), resourcePolicies: resources };
      this.policies.set(key, policy);
    }
    return policy;
  }

  private async simulate(role: RoleRef, request: IamRequest, policy: RolePolicy): Promise<IamDecision> {
    const checkedResource = (await isWildcardOnly(request.action)) ? '*' : request.resource;
    const roleArn = `arn:aws:iam::${TEST_ACCOUNT}:role/${role.role}`;
    const response = await runSimulation(
      {
        request: {
          principal: roleArn,
          action: request.action,
          resource: { resource: checkedResource, accountId: TEST_ACCOUNT },
          contextVariables: {
            'aws:PrincipalArn': roleArn,
            'aws:PrincipalAccount': TEST_ACCOUNT,
            'aws:RequestedRegion': TEST_REGION,
            'aws:SecureTransport': 'true',
            ...request.context,
          },
        },
        identityPolicies: [{ name: role.role, policy: { Version: '2012-10-17', Statement: policy.statements } }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(policy.resourcePolicies.has(request.resource) ? { resourcePolicy: policy.resourcePolicies.get(request.resource) } : {}),
      },
      {},
    );
    if (response.resultType === 'error') return { allowed: false, result: `SimulationError: ${response.errors.message}`, checkedResource };
    return { allowed: response.overallResult === 'Allowed', result: response.overallResult, checkedResource };
  }
}

const evaluators = new WeakMap<CfnTemplate, IamEvaluator>();

/** The evaluator of `template`, made once. */
export function evaluatorOf(template: CfnTemplate): IamEvaluator {
  let evaluator = evaluators.get(template);
  if (!evaluator) evaluators.set(template, (evaluator = new IamEvaluator(template)));
  return evaluator;
}
