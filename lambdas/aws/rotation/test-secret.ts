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
import { Stage } from '../secret-store';
import { proveAgainstEndpoint } from './endpoint-probe';
import { clientLockedBy, type RotationContext, type RotationDeps } from './context';

/** Result of testSecret: the key ids that were proven. */
export interface TestSecretResult {
  readonly pendingKeyId: string;
  readonly currentKeyId: string;
}

export async function testSecret(deps: RotationDeps, context: RotationContext): Promise<TestSecretResult> {
  const client = await clientLockedBy(deps, context);
  if (client.pendingRotationId !== context.rotationId) {
    throw new RotationStateConflictError(`testSecret: rotation ${context.rotationId} has no pending key.`);
  }
  const pending = await deps.secrets.readStage(context.secretId, Stage.PENDING);
  if (!pending || pending.versionId !== context.rotationId) {
    throw new KeyVerificationFailedError('pending', 'the AWSPENDING version is not the one this rotation created');
  }
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
    await proveAgainstEndpoint(deps.settings.verifyEndpointUrl, pending.value.apiKey, context.clientId, deps.fetch);
  }
  if (context.mode === RotationMode.EMERGENCY) return { pendingKeyId: pendingRecord.keyId, currentKeyId: client.currentKeyId };
  const current = await deps.secrets.readStage(context.secretId, Stage.CURRENT);
  if (!current) throw new KeyVerificationFailedError('current', 'the secret has no AWSCURRENT version');
  const currentRecord = await prove('current', current.value.apiKey);
  return { pendingKeyId: pendingRecord.keyId, currentKeyId: currentRecord.keyId };
}
