/**
 * Issue 16 item 5: partition-correct endpoints, ARNs and principals. The stack is synthesized
 * for a region of aws (us-east-1), aws-cn (cn-north-1) and aws-us-gov (us-gov-west-1), and
 * once environment-agnostic; each template is resolved as CloudFormation would resolve it in
 * that partition (pseudo parameters AWS::Partition, AWS::URLSuffix, AWS::Region) and then:
 * - every ARN names the partition;
 * - every regional host name (`<x>.<region>.<suffix>`) ends with the partition's DNS suffix,
 *   which the SDK's partition table gives (amazonaws.com.cn in aws-cn);
 * - every `kms:ViaService` value is `<service>.<region>.<suffix>`, and the CloudWatch Logs
 *   principal of the key policy is `logs.<region>.<suffix>`;
 * - the authorizer's AWS_URL_SUFFIX makes the lean DynamoDB client build the host the SDK's own
 *   DynamoDB endpoint rules resolve for the region.
 * Global service principals (`lambda.amazonaws.com`, …) stay as the CDK writes them: IAM names
 * them so in every partition (aws-cdk-lib's ServicePrincipal, "Service principals are now
 * globally <SERVICE>.amazonaws.com").
 */
import { partition } from '@aws-sdk/core/client';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Template } from 'aws-cdk-lib/assertions';
import { DynamoDbHttpClient } from '../../lambdas/aws/lean/dynamodb-http';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { newTestApp, removeTempDirs } from './infra-app';

const ACCOUNT = '123456789012';
const STACK_UUID = '51af3dc0-da77-11e4-872e-1234567db123';
const PARTITIONS = [
  ['aws', 'us-east-1'],
  ['aws-cn', 'cn-north-1'],
  ['aws-us-gov', 'us-gov-west-1'],
] as const;

interface Deployment {
  readonly partition: string;
  readonly region: string;
  readonly suffix: string;
}

interface Template_ {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

const templates = new Map<string, Template_>();
function synth(region: string | undefined): Template_ {
  const key = region ?? 'agnostic';
  let template = templates.get(key);
  if (!template) {
    const stack = new KeyRollStack(newTestApp(), 'KeyRoll', region ? { env: { account: ACCOUNT, region } } : {});
    template = Template.fromStack(stack).toJSON() as Template_;
    templates.set(key, template);
  }
  return template;
}
afterAll(removeTempDirs);

/** A template value as CloudFormation resolves it in `d`; references to resources stay symbolic. */
function resolve(value: unknown, d: Deployment): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, d));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [fn] = keys as [string];
    const arg = obj[fn];
    const pseudo: Record<string, string> = {
      'AWS::Partition': d.partition,
      'AWS::URLSuffix': d.suffix,
      'AWS::Region': d.region,
      'AWS::AccountId': ACCOUNT,
      'AWS::StackName': 'KeyRoll',
      'AWS::StackId': `arn:${d.partition}:cloudformation:${d.region}:${ACCOUNT}:stack/KeyRoll/${STACK_UUID}`,
    };
    if (fn === 'Ref') return pseudo[arg as string] ?? `<${arg as string}>`;
    if (fn === 'Fn::GetAtt') return `<${(arg as string[]).join('.')}>`;
    if (fn === 'Fn::Join') {
      const [separator, parts] = arg as [string, unknown[]];
      return (resolve(parts, d) as unknown[]).map(String).join(separator);
    }
    if (fn === 'Fn::Split') {
      const [separator, source] = arg as [string, unknown];
      return String(resolve(source, d)).split(separator);
    }
    if (fn === 'Fn::Select') {
      const [index, list] = arg as [number, unknown];
      return (resolve(list, d) as unknown[])[index];
    }
    if (fn === 'Fn::Sub') {
      const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
      return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => String(resolve(vars[name] ?? (name.includes('.') ? { 'Fn::GetAtt': name.split('.') } : { Ref: name }), d)));
    }
  }
  return Object.fromEntries(keys.map((k) => [k, resolve(obj[k], d)]));
}

/** Every string in `value`, with the path to it. */
function strings(value: unknown, path = ''): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
interface Statement {
  Principal?: { Service?: string | string[] };
  Condition?: Record<string, Record<string, unknown>>;
}
function statements(resolved: Template_): Statement[] {
  return Object.values(resolved.Resources).flatMap((r) => {
    const p = (r.Properties ?? {}) as Record<string, any>;
    return [p.PolicyDocument, p.KeyPolicy, p.AssumeRolePolicyDocument].filter(Boolean).flatMap((doc) => asArray<Statement>(doc.Statement));
  });
}

const deployments = PARTITIONS.flatMap(([name, region]) => {
  const info = partition(region);
  const d: Deployment = { partition: info.name, region, suffix: info.dnsSuffix };
  return [
    [`${name} (${region}, region in the stack env)`, d, region],
    [`${name} (${region}, environment-agnostic stack)`, d, undefined],
  ] as const;
});

describe.each(deployments)('%s', (_label, d, envRegion) => {
  let resolved: Template_;
  beforeAll(() => {
    expect(d.partition).toBe(_label.split(' ')[0]);
    resolved = resolve(synth(envRegion), d) as Template_;
  });

  test('every ARN names the partition', () => {
    const wrong = strings(resolved).flatMap(([path, text]) => [...text.matchAll(/arn:([a-z-]*):/g)].filter((m) => m[1] !== d.partition).map((m) => `${path}: ${m[0]}`));
    expect(wrong).toEqual([]);
    expect(strings(resolved).some(([, text]) => text.includes(`arn:${d.partition}:`))).toBe(true);
  });

  test("every regional host name ends with the partition's DNS suffix", () => {
    const hosts = strings(resolved).flatMap(([path, text]) => [...text.matchAll(new RegExp(`[a-z0-9-]+\\.${d.region}\\.([a-z0-9.-]*[a-z0-9])`, 'g'))].map((m) => ({ path, host: m[0], suffix: m[1] })));
    expect(hosts.filter((h) => h.suffix !== d.suffix)).toEqual([]);
    // The key policy's Logs principal, the kms:ViaService values, the example API's URL at least.
    expect(hosts.length).toBeGreaterThanOrEqual(5);
  });

  test('kms:ViaService values and the CloudWatch Logs principal are <service>.<region>.<suffix>', () => {
    const via = statements(resolved).flatMap((s) => asArray(s.Condition?.StringEquals?.['kms:ViaService'] as string | string[] | undefined));
    expect(via.length).toBeGreaterThan(0);
    expect([...new Set(via)].sort()).toEqual(['dynamodb', 'secretsmanager', 'sns'].map((service) => `${service}.${d.region}.${d.suffix}`));
    const services = statements(resolved).flatMap((s) => asArray(s.Principal?.Service));
    expect(services).toContain(`logs.${d.region}.${d.suffix}`);
    for (const service of services) expect(service).toMatch(new RegExp(`^[a-z0-9-]+\\.(amazonaws\\.com|${d.region.replace(/-/g, '\\-')}\\.${d.suffix.replace(/\./g, '\\.')})$`));
  });

  test("the authorizer's AWS_URL_SUFFIX makes the lean client build the host the SDK's endpoint rules resolve", () => {
    const authorizer = Object.entries(resolved.Resources).find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('AuthAuthorizer'))![1];
    const env = (authorizer.Properties as { Environment: { Variables: Record<string, string> } }).Environment.Variables;
    expect(env.AWS_URL_SUFFIX).toBe(d.suffix);
    const lean = new DynamoDbHttpClient({ env: { AWS_REGION: d.region, AWS_URL_SUFFIX: env.AWS_URL_SUFFIX }, credentials: () => ({ accessKeyId: 'AKID', secretAccessKey: 'S' }) });
    const sdk = new DynamoDBClient({ region: d.region });
    try {
      expect(lean.endpoint.href).toBe(sdk.config.endpointProvider({ Region: d.region, UseFIPS: false, UseDualStack: false }).url.href);
    } finally {
      lean.destroy();
      sdk.destroy();
    }
  });
});
