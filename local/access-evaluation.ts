/**
 * How AWS decides a request that crosses an account boundary, for the local harness: the
 * principal's identity policies and the resource's policy evaluated together by
 * @cloud-copilot/iam-simulate (as test/support/iam-evaluator.ts does for the stack's roles), and
 * for KMS also the grants on the key, which iam-simulate does not model.
 *
 * A GetSecretValue succeeds only when Secrets Manager allows it and the caller may decrypt the
 * secret's version with its KMS key through Secrets Manager: Secrets Manager calls KMS Decrypt on
 * the caller's behalf, with `kms:ViaService` = `secretsmanager.<region>.amazonaws.com` and the
 * encryption context `SecretARN` / `SecretVersionId`
 * (https://docs.aws.amazon.com/kms/latest/developerguide/services-secrets-manager.html).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';

/** A policy document as JSON text or parsed. */
export type PolicyDocument = string | Record<string, unknown>;

/** Who makes a request: an IAM role (or user) and the policies attached to it. */
export interface Caller {
  readonly principalArn: string;
  readonly identityPolicies: readonly PolicyDocument[];
}

/** One request to judge. */
export interface AccessRequest {
  readonly action: string;
  readonly resourceArn: string;
  /** The resource's own policy (secret, key, topic, table), if it has one. */
  readonly resourcePolicy?: PolicyDocument;
  /** Request-specific condition keys (secretsmanager:VersionStage, kms:EncryptionContext:..., ...). */
  readonly context?: Readonly<Record<string, string | string[]>>;
}

/** A decision and why. */
export interface AccessDecision {
  readonly allowed: boolean;
  /** iam-simulate's result (Allowed, ImplicitlyDenied, ExplicitlyDenied), `Grant <id>` or an error. */
  readonly reason: string;
}

/** A KMS grant as ListGrants returns it. */
export interface KmsGrant {
  readonly GrantId?: string;
  readonly GranteePrincipal?: string;
  readonly Operations?: readonly string[];
  readonly Constraints?: { readonly EncryptionContextSubset?: Record<string, string>; readonly EncryptionContextEquals?: Record<string, string> };
}

const REGION = 'us-east-1';
const accountOf = (arn: string): string => arn.split(':')[4] ?? '';
const parsed = (doc: PolicyDocument): Record<string, unknown> => (typeof doc === 'string' ? (JSON.parse(doc) as Record<string, unknown>) : doc);
const statementsOf = (doc: PolicyDocument): unknown[] => {
  const statement = parsed(doc).Statement;
  return Array.isArray(statement) ? statement : statement ? [statement] : [];
};

/** Identity policies and resource policy together, as IAM evaluates them (same or cross account). */
export async function evaluateAccess(caller: Caller, request: AccessRequest): Promise<AccessDecision> {
  const principalAccount = accountOf(caller.principalArn);
  const response = await runSimulation(
    {
      request: {
        principal: caller.principalArn,
        action: request.action,
        resource: { resource: request.resourceArn, accountId: accountOf(request.resourceArn) || principalAccount },
        contextVariables: {
          'aws:PrincipalArn': caller.principalArn,
          'aws:PrincipalAccount': principalAccount,
          'aws:RequestedRegion': REGION,
          'aws:SecureTransport': 'true',
          ...request.context,
        },
      },
      // One document per attached policy, statements kept as written.
      identityPolicies: caller.identityPolicies.map((doc, i) => ({ name: `identity-${i}`, policy: { Version: '2012-10-17', Statement: statementsOf(doc) } })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.resourcePolicy ? { resourcePolicy: parsed(request.resourcePolicy) } : {}),
    },
    {},
  );
  if (response.resultType === 'error') return { allowed: false, reason: `SimulationError: ${response.errors.message}` };
  return { allowed: response.overallResult === 'Allowed', reason: response.overallResult };
}

/**
 * The first grant that lets `grantee` call `operation` with `encryptionContext`. A grant names its
 * grantee principal and operations; its constraints are met when every pair of
 * EncryptionContextSubset is in the request's context, or the context is exactly
 * EncryptionContextEquals (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html,
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html). A grant needs no
 * key-policy or IAM statement (grants.html: a grant "allows the grantee principal to use the KMS
 * key", by itself).
 */
export function matchingGrant(grants: readonly KmsGrant[], grantee: string, operation: string, encryptionContext: Readonly<Record<string, string>>): KmsGrant | undefined {
  return grants.find((grant) => {
    if (grant.GranteePrincipal !== grantee || !grant.Operations?.includes(operation)) return false;
    const subset = grant.Constraints?.EncryptionContextSubset;
    const equals = grant.Constraints?.EncryptionContextEquals;
    if (subset && !Object.entries(subset).every(([key, value]) => encryptionContext[key] === value)) return false;
    if (equals) {
      const keys = Object.keys(encryptionContext);
      if (keys.length !== Object.keys(equals).length || !keys.every((key) => equals[key] === encryptionContext[key])) return false;
    }
    return true;
  });
}

/** What a secret read involves besides the request itself. */
export interface SecretReadWorld {
  readonly secretArn: string;
  /** The secret's resource policy (GetResourcePolicy), if any. */
  readonly secretPolicy?: PolicyDocument;
  /** The version the request names or resolves to (its SecretVersionId context). */
  readonly versionId: string;
  readonly keyArn: string;
  readonly keyPolicy: PolicyDocument;
  readonly grants: readonly KmsGrant[];
}

/** A GetSecretValue request's parameters. */
export interface SecretReadRequest {
  readonly versionStage?: string;
  readonly versionId?: string;
}

/** Secrets Manager's decision on the read, then the implied kms:Decrypt via Secrets Manager. */
export async function evaluateSecretRead(caller: Caller, request: SecretReadRequest, world: SecretReadWorld): Promise<AccessDecision & { readonly step?: 'secretsmanager' | 'kms' }> {
  const read = await evaluateAccess(caller, {
    action: 'secretsmanager:GetSecretValue',
    resourceArn: world.secretArn,
    resourcePolicy: world.secretPolicy,
    context: {
      'secretsmanager:SecretId': world.secretArn,
      ...(request.versionStage !== undefined ? { 'secretsmanager:VersionStage': request.versionStage } : {}),
      ...(request.versionId !== undefined ? { 'secretsmanager:VersionId': request.versionId } : {}),
    },
  });
  if (!read.allowed) return { ...read, step: 'secretsmanager' };
  const decrypt = await evaluateKmsViaSecretsManager(caller, world.keyArn, world.keyPolicy, world.grants, world.secretArn, world.versionId);
  return { ...decrypt, step: 'kms' };
}

/** kms:Decrypt as Secrets Manager makes it for `caller`: the key policy with the identity policies, or a grant. */
export async function evaluateKmsViaSecretsManager(caller: Caller, keyArn: string, keyPolicy: PolicyDocument, grants: readonly KmsGrant[], secretArn: string, versionId: string): Promise<AccessDecision> {
  const encryptionContext = { SecretARN: secretArn, SecretVersionId: versionId };
  const byPolicy = await evaluateAccess(caller, {
    action: 'kms:Decrypt',
    resourceArn: keyArn,
    resourcePolicy: keyPolicy,
    context: {
      'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
      'kms:CallerAccount': accountOf(caller.principalArn),
      'kms:EncryptionContext:SecretARN': secretArn,
      'kms:EncryptionContext:SecretVersionId': versionId,
      'kms:EncryptionContextKeys': Object.keys(encryptionContext),
    },
  });
  if (byPolicy.allowed || byPolicy.reason === 'ExplicitlyDenied') return byPolicy;
  const grant = matchingGrant(grants, caller.principalArn, 'Decrypt', encryptionContext);
  return grant ? { allowed: true, reason: `Grant ${grant.GrantId ?? '?'}` } : byPolicy;
}
