/**
 * Registers a client: its secret with a first key as AWSCURRENT (and a resource policy that
 * denies secretsmanager:RotateSecret to everyone: KeyRoll's state machine is its only
 * rotator), and the client record with that key ACTIVE. Idempotent: registering the same client again converges to the
 * same state (the secret's current key is adopted, not replaced).
 */
import { createHash } from 'node:crypto';
import { generateApiKey, hashApiKey, keyIdOf } from '../core/api-key';
import { isoNow, type Clock } from '../core/clock';
import { InvalidRotationInputError } from '../core/errors';
import { KeyState } from '../core/key-state';
import type { ClientDelivery } from '../core/delivery';
import type { ClientRecord, KeyRecord, RotationPolicy } from '../core/model';
import { MAX_TAGS, TAG_PATTERN } from '../core/fleet';
import { SCOPE_PATTERN } from '../core/ops-requests';
import { CLIENT_ID_PATTERN } from '../core/rotation-request';
import type { KeyRepository } from './key-repository';
import { Stage, type SecretStore } from './secret-store';

/** A client to register. */
export interface ClientRegistration {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly overlapSeconds?: number;
  /** The scheduled-rotation policy, already validated (lambdas/core/rotation-policy.ts). Stored on the record. */
  readonly policy?: RotationPolicy;
  /** Groups for fleet rotations. */
  readonly tags?: readonly string[];
  /** Delivery settings, already validated (lambdas/core/delivery-request.ts). Stored on the record; the delivery function projects them. */
  readonly delivery?: ClientDelivery;
  /**
   * Who puts the secret's resource policy: `keyroll` (the default) attaches the policy that
   * denies RotateSecret here; `delivery` leaves it to the delivery function, whose policy
   * also denies PutResourcePolicy to everyone but its own role, so nobody else may write it.
   */
  readonly secretPolicy?: 'keyroll' | 'delivery';
  readonly requestedBy: string;
  readonly reason: string;
}

/** Where and how client secrets are created. */
export interface ProvisioningSettings {
  readonly keyPrefix: string;
  /** Secret names are `<secretNamePrefix><clientId>`. */
  readonly secretNamePrefix: string;
  /** KMS key that encrypts client secrets. */
  readonly kmsKeyId?: string;
}

/** The secret name of a client. */
export function secretNameFor(settings: ProvisioningSettings, clientId: string): string {
  return `${settings.secretNamePrefix}${clientId}`;
}

/** Registers a client (or returns it unchanged if it exists). Never returns the key. */
export async function registerClient(deps: { secrets: SecretStore; keys: KeyRepository; clock: Clock; settings: ProvisioningSettings }, registration: ClientRegistration): Promise<ClientRecord> {
  const issues: string[] = [];
  if (!CLIENT_ID_PATTERN.test(registration.clientId)) issues.push('clientId: must be 1-64 characters of [A-Za-z0-9._-]');
  if (registration.scopes.length > 50 || registration.scopes.some((scope) => !SCOPE_PATTERN.test(scope))) {
    issues.push('scopes: at most 50 scopes of 1-64 characters [A-Za-z0-9:._*/-]');
  }
  if (registration.tags && (registration.tags.length > MAX_TAGS || registration.tags.some((tag) => !TAG_PATTERN.test(tag)))) {
    issues.push(`tags: at most ${MAX_TAGS} tags of 1-64 characters [A-Za-z0-9._-]`);
  }
  if (issues.length) throw new InvalidRotationInputError(`Invalid client registration: ${issues.join('; ')}`, issues);

  const existing = await deps.keys.getClient(registration.clientId);
  if (existing) return existing;

  const secretId = secretNameFor(deps.settings, registration.clientId);
  // Deterministic first version id, so a retried registration reuses the same version.
  const initialVersionId = `initial-${createHash('sha256').update(registration.clientId).digest('hex').slice(0, 40)}`;
  const apiKey = generateApiKey(deps.settings.keyPrefix);
  const created = await deps.secrets.createClientSecret({
    name: secretId,
    value: { apiKey, keyId: keyIdOf(apiKey) },
    clientRequestToken: initialVersionId,
    kmsKeyId: deps.settings.kmsKeyId,
    description: `KeyRoll API key of client ${registration.clientId}`,
    tags: { 'keyroll:client-id': registration.clientId },
  });
  // Before the client record: a retry after a crash attaches it again (registration returns early once the record exists).
  if (registration.secretPolicy !== 'delivery') await deps.secrets.denyNativeRotation(secretId);
  const current = created ? undefined : await deps.secrets.readStage(secretId, Stage.CURRENT);
  const value = current?.value ?? { apiKey, keyId: keyIdOf(apiKey) };
  const versionId = current?.versionId ?? initialVersionId;
  const now = isoNow(deps.clock);
  const key: KeyRecord = {
    keyHash: hashApiKey(value.apiKey),
    keyId: value.keyId,
    clientId: registration.clientId,
    secretVersionId: versionId,
    rotationId: 'initial',
    state: KeyState.ACTIVE,
    scopes: [...registration.scopes],
    createdAt: now,
    activatedAt: now,
  };
  const client: ClientRecord = {
    clientId: registration.clientId,
    secretId,
    scopes: [...registration.scopes],
    ...(registration.overlapSeconds !== undefined ? { overlapSeconds: registration.overlapSeconds } : {}),
    ...(registration.tags?.length ? { tags: [...new Set(registration.tags)] } : {}),
    ...(registration.policy ? { policy: JSON.parse(JSON.stringify(registration.policy)) as RotationPolicy } : {}),
    ...(registration.delivery && hasDelivery(registration.delivery) ? { delivery: JSON.parse(JSON.stringify(registration.delivery)) as ClientDelivery } : {}),
    currentKeyHash: key.keyHash,
    currentKeyId: key.keyId,
    currentVersionId: versionId,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await deps.keys.createClient(client, key, {
      clientId: client.clientId,
      at: now,
      action: 'client.registered',
      actor: registration.requestedBy,
      reason: registration.reason,
      keyId: key.keyId,
    });
  } catch (error) {
    const raced = await deps.keys.getClient(registration.clientId);
    if (raced) return raced;
    throw error;
  }
  return client;
}

/** Whether any delivery setting is given (a record without any keeps no `delivery` attribute). */
function hasDelivery(delivery: ClientDelivery): boolean {
  return delivery.readers.length + delivery.endpoints.length + delivery.pickupKeys.length > 0;
}
