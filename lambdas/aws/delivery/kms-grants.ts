/**
 * One KMS grant per reader on the deployment's key, so a reader can decrypt its client's
 * secret through Secrets Manager and nothing else: GranteePrincipal the reader, Operations
 * [Decrypt], constraint EncryptionContextSubset {SecretARN: <the client's secret>} (Secrets
 * Manager decrypts a secret with that encryption context:
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
 * Grants instead of key-policy statements: the key policy stays the same size whatever the
 * number of clients (its 32 KB limit would allow a few hundred readers; grants per key: 50,000,
 * https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html).
 *
 * A new grant is eventually consistent: "It typically takes less than a few seconds for the
 * change to propagate throughout the system, but in some cases it can take several minutes"
 * (https://docs.aws.amazon.com/kms/latest/developerguide/using-grant-token.html). The grant
 * token cannot help here (the reader's Decrypt is made by Secrets Manager, which takes none),
 * so a reader added a moment ago may see AccessDenied for that long; the client SDK retries.
 *
 * Each grant has a deterministic name, `keyroll-<clientId>-<16 hex of SHA-256(reader)>`, so the
 * reconciliation recognises its own grants exactly (by grantee and name) without a key-wide
 * listing: ListGrants is filtered by GranteePrincipal and paginated, and the name is compared
 * in full (a prefix would also match client `acme-eu`'s grants for client `acme`).
 */
import { createHash } from 'node:crypto';
import { CreateGrantCommand, ListGrantsCommand, NotFoundException, RevokeGrantCommand, type GrantListEntry, type KMSClient } from '@aws-sdk/client-kms';
import { classifyTransient } from '../transient';
import { DeliveryTargetRejectedError } from './delivery-errors';

/** Grant names are `[a-zA-Z0-9:/_-]` (API_CreateGrant); a client id's `.` becomes `:`, which no client id contains. */
export function grantNameFor(clientId: string, reader: string): string {
  const digest = createHash('sha256').update(reader).digest('hex').slice(0, 16);
  return `keyroll-${clientId.replaceAll('.', ':')}-${digest}`;
}

/** What a grant reconciliation did. */
export interface GrantChanges {
  readonly created: number;
  readonly revoked: number;
  readonly kept: number;
}

/** The client and key a reconciliation works on. */
export interface GrantTarget {
  readonly kms: KMSClient;
  readonly keyArn: string;
  readonly clientId: string;
  /** The secret's full ARN (with its suffix), as Secrets Manager puts it in the encryption context; absent when the secret is gone. */
  readonly secretArn?: string;
}

/** Errors KMS raises for a grantee it cannot accept (no such principal, malformed ARN). */
const REJECTED = new Set(['InvalidArnException', 'ValidationException', 'MalformedPolicyDocumentException']);

/** The grants of `reader` on the key that carry this client's name for it (every page). */
async function grantsOf(target: GrantTarget, reader: string): Promise<GrantListEntry[]> {
  const name = grantNameFor(target.clientId, reader);
  const out: GrantListEntry[] = [];
  let marker: string | undefined;
  do {
    const page = await classifyTransient(() => target.kms.send(new ListGrantsCommand({ KeyId: target.keyArn, GranteePrincipal: reader, Limit: 100, ...(marker ? { Marker: marker } : {}) })));
    // Filtered here too: the filter is the service's, and an emulator may ignore it.
    out.push(...(page.Grants ?? []).filter((grant) => grant.GranteePrincipal === reader && grant.Name === name));
    marker = page.Truncated ? page.NextMarker : undefined;
  } while (marker);
  return out;
}

/** Whether `grant` is exactly the one {@link reconcileGrants} makes for `secretArn`. */
function isExact(grant: GrantListEntry, secretArn: string): boolean {
  const subset = grant.Constraints?.EncryptionContextSubset ?? {};
  return JSON.stringify(grant.Operations ?? []) === '["Decrypt"]' && grant.Constraints?.EncryptionContextEquals === undefined && Object.keys(subset).length === 1 && subset.SecretARN === secretArn;
}

async function revoke(target: GrantTarget, grantId: string): Promise<boolean> {
  try {
    await classifyTransient(() => target.kms.send(new RevokeGrantCommand({ KeyId: target.keyArn, GrantId: grantId })));
    return true;
  } catch (error) {
    // Revoked meanwhile (a concurrent projection, or a retry of this one): the goal holds.
    if (error instanceof NotFoundException) return false;
    throw error;
  }
}

/**
 * Leaves `reader` with at most one grant of this client: the exact one with the lowest id (the
 * same one whichever run looks), revoking any other (duplicates, drifted constraints).
 */
async function settle(target: GrantTarget, reader: string): Promise<{ exact?: GrantListEntry; revoked: number }> {
  const grants = (await grantsOf(target, reader)).sort((a, b) => (a.GrantId! < b.GrantId! ? -1 : 1));
  const exact = target.secretArn === undefined ? undefined : grants.find((grant) => isExact(grant, target.secretArn!));
  let revoked = 0;
  for (const grant of grants) if (grant !== exact && (await revoke(target, grant.GrantId!))) revoked++;
  return { exact, revoked };
}

/**
 * Makes the key's grants of this client match `readers`: each reader ends with exactly one
 * exact grant (a missing one is created; duplicates from two concurrent runs and grants whose
 * constraint drifted are revoked), and every reader of `previous` that is not in `readers` ends
 * with none. Revocations come first, so a removed reader loses access before anything is added.
 * Idempotent; a crash anywhere is repaired by running it again with the same `previous`.
 *
 * @throws DeliveryTargetRejectedError when KMS refuses a reader as grantee
 */
export async function reconcileGrants(target: GrantTarget, readers: readonly string[], previous: readonly string[]): Promise<GrantChanges> {
  const wanted = new Set(readers);
  let created = 0;
  let revoked = 0;
  let kept = 0;
  for (const reader of [...new Set(previous)].filter((r) => !wanted.has(r)).sort()) {
    for (const grant of await grantsOf(target, reader)) if (await revoke(target, grant.GrantId!)) revoked++;
  }
  for (const reader of [...wanted].sort()) {
    const before = await settle(target, reader);
    revoked += before.revoked;
    if (before.exact) {
      kept++;
      continue;
    }
    if (target.secretArn === undefined) continue;
    try {
      await classifyTransient(() =>
        target.kms.send(
          new CreateGrantCommand({
            KeyId: target.keyArn,
            GranteePrincipal: reader,
            Operations: ['Decrypt'],
            Constraints: { EncryptionContextSubset: { SecretARN: target.secretArn! } },
            Name: grantNameFor(target.clientId, reader),
          }),
        ),
      );
    } catch (error) {
      if (error instanceof Error && REJECTED.has(error.name)) throw new DeliveryTargetRejectedError(target.clientId, 'grant', { cause: error });
      throw error;
    }
    created++;
    // A concurrent run may have created one too: both keep the same one (lowest id), so they converge.
    revoked += (await settle(target, reader)).revoked;
  }
  return { created, revoked, kept };
}
