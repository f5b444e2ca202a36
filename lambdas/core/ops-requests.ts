/**
 * The operator's requests (onboard, offboard, revoke a key, roll back), validated with
 * schemas before anything is read or written. Errors name fields, never values.
 */
import * as v from 'valibot';
import type { ClientDelivery } from './delivery';
import { checkDelivery, type DeliveryChange, type DeliveryParseOptions } from './delivery-request';
import { InvalidOperationInputError } from './errors';
import { tagsSchema } from './fleet';
import { actorSchema, clientIdSchema, objectIssueMessage, parseOperation, reasonSchema, rejectIssues } from './input-schema';
import { containsApiKey } from './key-material';
import type { RotationPolicy } from './model';
import { ROTATION_ID_PATTERN } from './rotation-request';
import { policyIssues, rotationPolicySchema, type PolicyBounds } from './rotation-policy';

/** Scopes: 1-64 characters of [A-Za-z0-9:._*\/-]. */
export const SCOPE_PATTERN = /^[A-Za-z0-9:._*/-]{1,64}$/;
/** Most scopes a client may have. */
export const MAX_SCOPES = 50;
/** Key ids as keyIdOf makes them: `<prefix>_kid_<16 hex>`. */
export const KEY_ID_PATTERN = /^[a-z][a-z0-9]{1,15}_kid_[0-9a-f]{16}$/;

/** Register a client: its first key, its policy, its schedule. */
export interface OnboardRequest {
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly policy: RotationPolicy;
  /** Groups for fleet rotations. */
  readonly tags?: readonly string[];
  /** How the client gets its key and notices (validated by {@link parseOnboardRequestWithDelivery}). */
  readonly delivery?: ClientDelivery;
  readonly requestedBy: string;
  readonly reason: string;
}

/** Revoke every key of a client, delete its schedule, refuse its rotations from now on. */
export interface OffboardRequest {
  readonly clientId: string;
  readonly requestedBy: string;
  readonly reason: string;
}

/** Kill switch: revoke one key. */
export interface RevokeKeyRequest {
  readonly clientId: string;
  readonly keyId: string;
  readonly requestedBy: string;
  readonly reason: string;
  /** Revoke even the client's current key (the client is locked out until it has a new one). */
  readonly force?: boolean;
}

/** Roll the last rotation back during its overlap. */
export interface RollbackRequest {
  readonly clientId: string;
  /** The rotation the operator means; refused if the last finished rotation is another. */
  readonly rotationId?: string;
  readonly requestedBy: string;
  readonly reason: string;
}

const scopesSchema = v.pipe(
  // A key fits the scope alphabet, and scopes are stored on the record and every key item (docs/design.md, invariant 5).
  v.array(
    v.pipe(
      v.string('must be a string'),
      v.regex(SCOPE_PATTERN, 'must be 1-64 characters of [A-Za-z0-9:._*/-]'),
      v.check((scope) => !containsApiKey(scope), 'must not be an API key'),
    ),
    'must be a list of scopes',
  ),
  v.maxLength(MAX_SCOPES, `must have at most ${MAX_SCOPES} scopes`),
);

const ONBOARD_FIELDS = ['clientId', 'scopes', 'policy', 'tags', 'delivery', 'requestedBy', 'reason'] as const;
const OFFBOARD_FIELDS = ['clientId', 'requestedBy', 'reason'] as const;
const REVOKE_FIELDS = ['clientId', 'keyId', 'requestedBy', 'reason', 'force'] as const;
const ROLLBACK_FIELDS = ['clientId', 'rotationId', 'requestedBy', 'reason'] as const;

/**
 * @throws InvalidOperationInputError listing every offending field, the policy's cross-field
 *   rules included (`policy.maxOverlapSeconds: ...`).
 */
export function parseOnboardRequest(raw: unknown, bounds: PolicyBounds): Omit<OnboardRequest, 'delivery'> {
  const schema = v.strictObject(
    {
      clientId: clientIdSchema,
      scopes: scopesSchema,
      policy: rotationPolicySchema(bounds),
      tags: v.optional(tagsSchema),
      // Checked by parseOnboardRequestWithDelivery (its public keys are imported, which is asynchronous).
      delivery: v.optional(v.unknown()),
      requestedBy: actorSchema,
      reason: reasonSchema,
    },
    objectIssueMessage(ONBOARD_FIELDS),
  );
  const { delivery: _delivery, ...request } = parseOperation('onboarding request', schema, raw);
  rejectIssues(
    'onboarding request',
    policyIssues(request.policy, bounds).map((issue) => `policy.${issue}`),
  );
  return request;
}

/**
 * {@link parseOnboardRequest} with the request's delivery settings (lambdas/core/delivery-request.ts):
 * the issues of both are listed together.
 *
 * @throws InvalidOperationInputError listing every offending field, never a value.
 */
export async function parseOnboardRequestWithDelivery(raw: unknown, bounds: PolicyBounds, options: DeliveryParseOptions = {}): Promise<OnboardRequest> {
  const issues: string[] = [];
  let request: Omit<OnboardRequest, 'delivery'> | undefined;
  try {
    request = parseOnboardRequest(raw, bounds);
  } catch (error) {
    if (!(error instanceof InvalidOperationInputError)) throw error;
    // Not an object at all: there is no delivery to look at.
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw error;
    issues.push(...error.issues);
  }
  const rawDelivery = (raw as { delivery?: unknown }).delivery;
  let delivery: ClientDelivery | undefined;
  if (rawDelivery !== undefined) {
    const checked = await checkDelivery(rawDelivery, options, 'delivery');
    issues.push(...checked.issues);
    delivery = { readers: checked.change.readers ?? [], endpoints: checked.change.endpoints ?? [], pickupKeys: checked.change.pickupKeys ?? [] };
  }
  rejectIssues('onboarding request', issues);
  return { ...request!, ...(delivery ? { delivery } : {}) };
}

/** @throws InvalidOperationInputError listing every offending field. */
export function parseOffboardRequest(raw: unknown): OffboardRequest {
  const schema = v.strictObject({ clientId: clientIdSchema, requestedBy: actorSchema, reason: reasonSchema }, objectIssueMessage(OFFBOARD_FIELDS));
  return parseOperation('offboarding request', schema, raw);
}

/** @throws InvalidOperationInputError listing every offending field. */
export function parseRevokeKeyRequest(raw: unknown): RevokeKeyRequest {
  const schema = v.strictObject(
    {
      clientId: clientIdSchema,
      keyId: v.pipe(v.string('must be a string'), v.regex(KEY_ID_PATTERN, 'must be a key id (<prefix>_kid_<16 hex>), never the key itself')),
      requestedBy: actorSchema,
      reason: reasonSchema,
      force: v.optional(v.boolean('must be true or false')),
    },
    objectIssueMessage(REVOKE_FIELDS),
  );
  return parseOperation('key revocation', schema, raw);
}

/** @throws InvalidOperationInputError listing every offending field. */
export function parseRollbackRequest(raw: unknown): RollbackRequest {
  const schema = v.strictObject(
    {
      clientId: clientIdSchema,
      rotationId: v.optional(v.pipe(v.string('must be a string'), v.regex(ROTATION_ID_PATTERN, 'must be 32-64 characters of [A-Za-z0-9_-]'))),
      requestedBy: actorSchema,
      reason: reasonSchema,
    },
    objectIssueMessage(ROLLBACK_FIELDS),
  );
  return parseOperation('rollback request', schema, raw);
}

/** Put a client's staging labels where its record says (`keyroll repair`). */
export interface RepairLabelsRequest {
  readonly clientId: string;
  readonly requestedBy: string;
  readonly reason: string;
}

const REPAIR_FIELDS = ['clientId', 'requestedBy', 'reason'] as const;

/** @throws InvalidOperationInputError listing every offending field. */
export function parseRepairLabelsRequest(raw: unknown): RepairLabelsRequest {
  const schema = v.strictObject({ clientId: clientIdSchema, requestedBy: actorSchema, reason: reasonSchema }, objectIssueMessage(REPAIR_FIELDS));
  return parseOperation('repair request', schema, raw);
}

/** Change a client's delivery settings (`keyroll clients update`). */
export interface DeliveryUpdateRequest {
  readonly clientId: string;
  /** Each given list replaces the stored one; absent ones are kept. */
  readonly delivery: DeliveryChange;
  readonly requestedBy: string;
  readonly reason: string;
}

const DELIVERY_UPDATE_FIELDS = ['clientId', 'delivery', 'requestedBy', 'reason'] as const;

/**
 * Validates a delivery update: the request's own fields and its delivery change, every issue listed at once.
 *
 * @throws InvalidOperationInputError listing every offending field, never a value.
 */
export async function parseDeliveryUpdateRequest(raw: unknown, options: DeliveryParseOptions = {}): Promise<DeliveryUpdateRequest> {
  const schema = v.strictObject({ clientId: clientIdSchema, delivery: v.unknown(), requestedBy: actorSchema, reason: reasonSchema }, objectIssueMessage(DELIVERY_UPDATE_FIELDS));
  const issues: string[] = [];
  let request: { clientId: string; requestedBy: string; reason: string } | undefined;
  try {
    request = parseOperation('delivery update', schema, raw);
  } catch (error) {
    if (!(error instanceof InvalidOperationInputError)) throw error;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw error;
    issues.push(...error.issues);
  }
  const rawDelivery = (raw as { delivery?: unknown }).delivery;
  let delivery: DeliveryChange = {};
  // A missing delivery is already an issue ("is required").
  if (rawDelivery !== undefined) {
    const checked = await checkDelivery(rawDelivery, options, 'delivery');
    issues.push(...checked.issues);
    delivery = checked.change;
  }
  rejectIssues('delivery update', issues);
  return { clientId: request!.clientId, delivery, requestedBy: request!.requestedBy, reason: request!.reason };
}
