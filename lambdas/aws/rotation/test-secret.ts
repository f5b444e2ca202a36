/**
 * testSecret: prove that the pending key authenticates, and that the current key still
 * does, through the same verification code the auth layer uses (read the key, check its
 * format and checksum, hash, look up, apply the state rule). Read-only. With a verification
 * endpoint configured, the new key must also get through the deployed authorizer over HTTPS.
 *
 * Emergency rotations prove the new key only: the current key is the one being replaced at
 * once, and it may already be revoked (revokeImmediately, or the kill switch forced on it).
 */
import { KeyVerificationFailedError, RotationStateConflictError } from '../../core/errors';
import type { KeyRecord } from '../../core/model';
import { verifyApiKey } from '../../core/verification';
import { RotationMode } from '../../core/rotation-request';
import { proveAgainstEndpoint } from './endpoint-probe';
import { clientLockedBy, hasFinished, type RotationContext, type RotationDeps } from './context';

/** Result of testSecret: the key ids that were proven. */
export interface TestSecretResult {
  readonly pendingKeyId: string;
  readonly currentKeyId: string;
}

export async function testSecret(deps: RotationDeps, context: RotationContext): Promise<TestSecretResult> {
  const client = await clientLockedBy(deps, context);
  if (hasFinished(client, context)) return { pendingKeyId: client.currentKeyId, currentKeyId: client.currentKeyId };
  if (client.pendingRotationId !== context.rotationId) {
    throw new RotationStateConflictError(`testSecret: rotation ${context.rotationId} has no pending key.`);
  }
  // The versions the table names, read by version id (the labels are a projection of the table).
  const pendingValue = await deps.secrets.readVersion(context.secretId, context.rotationId);
  if (!pendingValue) throw new KeyVerificationFailedError('pending', 'the version this rotation created is missing');
  const pending = { versionId: context.rotationId, value: pendingValue };
  const lookup = (keyHash: string) => deps.keys.getKey(keyHash);
  const prove = async (which: 'pending' | 'current', apiKey: string): Promise<KeyRecord> => {
    const verdict = await verifyApiKey(apiKey, lookup, deps.clock, deps.settings.keyPrefix);
    if (!verdict.accepted) throw new KeyVerificationFailedError(which, `rejected as ${verdict.reason}`);
    if (verdict.record.clientId !== context.clientId) throw new KeyVerificationFailedError(which, 'it belongs to another client');
    return verdict.record;
  };
  const pendingRecord = await prove('pending', pending.value.apiKey);
  if (pendingRecord.keyId !== client.pendingKeyId) throw new KeyVerificationFailedError('pending', 'its key id differs from the recorded one');
  if (deps.settings.verifyEndpointUrl) {
    await proveAgainstEndpoint(deps.settings.verifyEndpointUrl, pending.value.apiKey, context.clientId, { fetch: deps.fetch, allowLoopbackHttp: deps.allowLoopbackHttpProbe });
  }
  if (context.mode === RotationMode.EMERGENCY) return { pendingKeyId: pendingRecord.keyId, currentKeyId: client.currentKeyId };
  const current = await deps.secrets.readVersion(context.secretId, client.currentVersionId);
  if (!current) throw new KeyVerificationFailedError('current', `the current version ${client.currentVersionId} is missing`);
  const currentRecord = await prove('current', current.apiKey);
  return { pendingKeyId: pendingRecord.keyId, currentKeyId: currentRecord.keyId };
}
