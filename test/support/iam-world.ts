/**
 * The concrete resources a test stands in for the stack's (its "world"): the table, secret
 * name prefix, topics and state machines it made in moto or runs locally. The template's
 * intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select/Split, pseudo parameters) and the
 * names the constructs write literally into ARNs (the secret name prefix, the fixed state
 * machine names) are resolved into these, so a role's policy reads as it would in an account
 * that holds exactly the test's resources.
 */
import { asList, type CfnTemplate, type Statement } from '../infra/iam-rules';

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-east-1';

/**
 * The stack's KMS key as the tests model it. moto checks no key use; implied KMS calls (a
 * secret read decrypts with the key the secret is encrypted with) name this ARN, and the
 * template's key resolves to it.
 */
export const TEST_KEY_ARN = `arn:aws:kms:${TEST_REGION}:${TEST_ACCOUNT}:key/00000000-0000-4000-8000-00000000cafe`;

/** Local ARN of the rotation state machine: local/synthesized-workflow.ts's (not imported: it loads aws-cdk-lib). */
export const LOCAL_ROTATION_STATE_MACHINE_ARN = `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:stateMachine:KeyRollRotation`;

/** Local ARN of the fleet state machine (local/ runs it under this name). */
export const LOCAL_FLEET_STATE_MACHINE_ARN = `arn:aws:states:${TEST_REGION}:${TEST_ACCOUNT}:stateMachine:KeyRollFleet`;

/** What a test uses in place of the stack's resources. Unset ones resolve to ARNs no call names. */
export interface IamWorld {
  readonly tableName: string;
  readonly secretNamePrefix?: string;
  readonly clientTopicArn?: string;
  readonly opsTopicArn?: string;
  /** @default LOCAL_ROTATION_STATE_MACHINE_ARN */
  readonly rotationStateMachineArn?: string;
  /** @default LOCAL_FLEET_STATE_MACHINE_ARN */
  readonly fleetStateMachineArn?: string;
}

const tableArn = (name: string) => `arn:aws:dynamodb:${TEST_REGION}:${TEST_ACCOUNT}:table/${name}`;
const unbound = (what: string) => `arn:aws:unbound:${TEST_REGION}:${TEST_ACCOUNT}:${what}`;
const machineName = (arn: string) => arn.split(':')[6];

/** Logical id → type, and the few ids the resolution needs. */
function stackParts(template: CfnTemplate) {
  const ids = Object.entries(template.Resources);
  const byType = (type: string) => ids.filter(([, r]) => r.Type === type).map(([id]) => id);
  const machines = byType('AWS::StepFunctions::StateMachine');
  const fleet = machines.find((id) => id.startsWith('Fleet'));
  const rotation = machines.find((id) => id !== fleet);
  const topics = byType('AWS::SNS::Topic');
  return {
    table: byType('AWS::DynamoDB::Table')[0],
    key: byType('AWS::KMS::Key')[0],
    clientTopic: topics.find((id) => id.includes('ClientTopic')),
    opsTopic: topics.find((id) => id.includes('OpsTopic')),
    rotation,
    fleet,
    machineNames: Object.fromEntries(machines.map((id) => [id, String(template.Resources[id].Properties?.StateMachineName ?? id)])),
    secretNamePrefix: secretPrefixOf(template),
  };
}

/** The construct's secret name prefix, as its SecretNamePrefix output says. */
function secretPrefixOf(template: CfnTemplate): string | undefined {
  const outputs = (template as { Outputs?: Record<string, { Value?: unknown }> }).Outputs ?? {};
  const value = outputs.SecretNamePrefix?.Value;
  return typeof value === 'string' ? value : undefined;
}

/** A resolver of one template for one world. */
export interface WorldResolver {
  /** A CloudFormation value as the concrete string (or list) it would be in this world. */
  resolve(value: unknown): unknown;
  /** A statement with every intrinsic and literal name resolved. */
  statement(statement: Statement): Statement;
}

/** Builds the resolver of `template` for `world`. */
export function worldResolver(template: CfnTemplate, world: IamWorld): WorldResolver {
  const parts = stackParts(template);
  const rotationArn = world.rotationStateMachineArn ?? LOCAL_ROTATION_STATE_MACHINE_ARN;
  const fleetArn = world.fleetStateMachineArn ?? LOCAL_FLEET_STATE_MACHINE_ARN;
  const refs = new Map<string, string>([
    ['AWS::Partition', 'aws'],
    ['AWS::Region', TEST_REGION],
    ['AWS::AccountId', TEST_ACCOUNT],
    ['AWS::URLSuffix', 'amazonaws.com'],
  ]);
  if (parts.table) refs.set(parts.table, world.tableName);
  if (parts.clientTopic) refs.set(parts.clientTopic, world.clientTopicArn ?? unbound('client-topic'));
  if (parts.opsTopic) refs.set(parts.opsTopic, world.opsTopicArn ?? unbound('ops-topic'));
  if (parts.rotation) refs.set(parts.rotation, rotationArn);
  if (parts.fleet) refs.set(parts.fleet, fleetArn);
  if (parts.key) refs.set(parts.key, TEST_KEY_ARN);
  // Names written literally into ARNs: the state machines' fixed names (the fleet's is the
  // rotation's plus a suffix, so it is replaced first) and the secret name prefix.
  const literals: [RegExp, string][] = [];
  for (const [id, local] of [
    [parts.fleet, fleetArn],
    [parts.rotation, rotationArn],
  ] as const) {
    if (!id) continue;
    const name = parts.machineNames[id].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    literals.push([new RegExp(`:(stateMachine|execution):${name}(?=$|[:/])`, 'g'), `:$1:${machineName(local)}`]);
  }
  if (parts.secretNamePrefix) {
    const prefix = parts.secretNamePrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    literals.push([new RegExp(`:secret:${prefix}`, 'g'), `:secret:${world.secretNamePrefix ?? 'unbound-secret-prefix/'}`]);
  }
  const rewrite = (text: string) => literals.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);

  const getAtt = (id: string, attribute: string): string => {
    const type = template.Resources[id]?.Type;
    if (attribute === 'Arn') {
      if (id === parts.table) return tableArn(world.tableName);
      if (id === parts.key) return TEST_KEY_ARN;
      if (type === 'AWS::Lambda::Function') return `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:${id}`;
      if (type === 'AWS::Logs::LogGroup') return `arn:aws:logs:${TEST_REGION}:${TEST_ACCOUNT}:log-group:${id}:*`;
      if (type === 'AWS::SQS::Queue') return `arn:aws:sqs:${TEST_REGION}:${TEST_ACCOUNT}:${id}`;
      if (type === 'AWS::IAM::Role') return `arn:aws:iam::${TEST_ACCOUNT}:role/${id}`;
    }
    return unbound(`${id}.${attribute}`);
  };

  const resolve = (value: unknown): unknown => {
    if (typeof value === 'string') return rewrite(value);
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') return refs.get(obj.Ref) ?? unbound(`Ref:${obj.Ref}`);
    if (Array.isArray(obj['Fn::GetAtt'])) return getAtt(String(obj['Fn::GetAtt'][0]), String(obj['Fn::GetAtt'][1]));
    if (Array.isArray(obj['Fn::Join'])) {
      const [separator, list] = obj['Fn::Join'] as [string, unknown[]];
      return rewrite(
        asList(resolve(list) as unknown[])
          .map(String)
          .join(separator),
      );
    }
    if (Array.isArray(obj['Fn::Select'])) {
      const [index, list] = obj['Fn::Select'] as [number | string, unknown];
      return asList(resolve(list) as unknown[])[Number(index)];
    }
    if (Array.isArray(obj['Fn::Split'])) {
      const [separator, source] = obj['Fn::Split'] as [string, unknown];
      return String(resolve(source)).split(separator);
    }
    if ('Fn::Sub' in obj) {
      const [text, variables] = (Array.isArray(obj['Fn::Sub']) ? obj['Fn::Sub'] : [obj['Fn::Sub'], {}]) as [string, Record<string, unknown>];
      return rewrite(
        text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
          if (name in variables) return String(resolve(variables[name]));
          const [id, attribute] = name.split('.');
          return attribute ? getAtt(id, attribute) : (refs.get(id) ?? unbound(`Ref:${id}`));
        }),
      );
    }
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolve(v)]));
  };

  return { resolve, statement: (statement) => resolve(statement) as Statement };
}

/** Stable key of a world (caches are per world). */
export const worldKey = (world: IamWorld): string =>
  JSON.stringify([world.tableName, world.secretNamePrefix, world.clientTopicArn, world.opsTopicArn, world.rotationStateMachineArn, world.fleetStateMachineArn]);

export { tableArn };
