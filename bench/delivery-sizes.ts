/**
 * Sizes of what client delivery puts on AWS (issue 19), against the service limits:
 *   - the client secret's resource policy (lambdas/aws/delivery/secret-policy.ts) with 0, 1 and
 *     MAX_READERS readers (typical role ARNs, and the longest role ARNs IAM allows), against
 *     Secrets Manager's 20,480 characters;
 *   - the KMS key policy of the synthesized stack (it names no client: the same at any number of
 *     clients), against KMS's 32,768 bytes;
 *   - KMS grants at 10,000 clients (one per reader), against the 50,000 grants per key quota
 *     (https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
 * Pure arithmetic and one synth (no bundling): `npx tsx bench/delivery-sizes.ts`, about 10 s.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { MAX_READERS } from '../lambdas/core/delivery';
import { SECRET_POLICY_MAX_CHARS, secretPolicyFor } from '../lambdas/aws/delivery/secret-policy';
import { KeyRollStack } from '../lib/keyroll-stack';

const ACCOUNT = '123456789012';
const CLIENT_ACCOUNT = '210987654321';
/** KeyRoll's roles as CloudFormation names them (stack-logicalId-suffix). */
const role = (partition: string, name: string) => `arn:${partition}:iam::${ACCOUNT}:role/KeyRollStack-${name}ABCDEF12-AbCdEfGhIjKl`;
const base = (partition: string) => ({
  keyrollSecretReaderArns: ['RotationCreateSecretRole', 'RotationTestSecretRole', 'PickupPickupRole'].map((n) => role(partition, n)),
  deliveryRoleArn: role(partition, 'DeliveryDeliveryRole'),
  partition,
});
const typical = (i: number) => `arn:aws:iam::${CLIENT_ACCOUNT}:role/client-app-reader-${i}`;
const longest = (i: number) => `arn:aws-us-gov:iam::${CLIENT_ACCOUNT}:role/${`p${i}`.padEnd(510, 'x')}/${'n'.repeat(64)}`;

const rows: [string, number, number][] = [
  ['secret policy, 0 readers', secretPolicyFor({ ...base('aws'), readers: [] }).length, SECRET_POLICY_MAX_CHARS],
  ['secret policy, 1 reader', secretPolicyFor({ ...base('aws'), readers: [typical(0)] }).length, SECRET_POLICY_MAX_CHARS],
  [`secret policy, ${MAX_READERS} readers`, secretPolicyFor({ ...base('aws'), readers: Array.from({ length: MAX_READERS }, (_, i) => typical(i)) }).length, SECRET_POLICY_MAX_CHARS],
  [`secret policy, ${MAX_READERS} longest role ARNs`, secretPolicyFor({ ...base('aws-us-gov'), readers: Array.from({ length: MAX_READERS }, (_, i) => longest(i)) }).length, SECRET_POLICY_MAX_CHARS],
];

// The key policy as synthesized (bundling skipped: it does not change policies).
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const template = Template.fromStack(new KeyRollStack(app, 'KeyRollStack', { env: { account: ACCOUNT, region: 'us-east-1' } })).toJSON() as {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};
const key = Object.values(template.Resources).find((r) => r.Type === 'AWS::KMS::Key')!;
rows.push(['key policy (any number of clients)', Buffer.byteLength(JSON.stringify(key.Properties!.KeyPolicy)), 32_768]);

const GRANTS_PER_KEY = 50_000;
for (const readers of [1, 2, 5, MAX_READERS]) rows.push([`grants, 10,000 clients x ${readers} reader(s)`, 10_000 * readers, GRANTS_PER_KEY]);

const width = Math.max(...rows.map(([what]) => what.length));
process.stdout.write(`${'what'.padEnd(width)}  ${'size'.padStart(8)}  ${'limit'.padStart(8)}  share\n`);
for (const [what, size, limit] of rows) {
  process.stdout.write(`${what.padEnd(width)}  ${String(size).padStart(8)}  ${String(limit).padStart(8)}  ${((100 * size) / limit).toFixed(1).padStart(5)}%${size > limit ? '  OVER' : ''}\n`);
}
