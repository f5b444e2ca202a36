/**
 * Onboarding: register a client (its secret with a first key and a resource policy that denies
 * secretsmanager:RotateSecret, the client record with its policy and its delivery settings)
 * and create its schedule. With a delivery projector, the secret policy is the delivery
 * function's to write (it also denies PutResourcePolicy to everyone else), and the projection
 * runs after registration: readers, grants and subscriptions as the record says. Every input is validated before anything is read or
 * written. Idempotent: re-running it converges (the existing key is kept, a missing policy is
 * added, the schedule created or brought up to date); asking for other scopes or another
 * policy than the registered ones is a RegistrationConflict, and an offboarded client id
 * cannot be registered again (its audit trail stays under that id).
 */
import { isoNow } from '../../lambdas/core/clock';
import { NO_DELIVERY } from '../../lambdas/core/delivery';
import { sameDelivery } from '../../lambdas/core/delivery-request';
import { ClientOffboardedError, DeliveryUnavailableError, RegistrationConflictError } from '../../lambdas/core/errors';
import type { ClientRecord, RotationPolicy } from '../../lambdas/core/model';
import { parseOnboardRequestWithDelivery, type OnboardRequest } from '../../lambdas/core/ops-requests';
import type { DeliveryProjectionResult } from '../../lambdas/aws/delivery/delivery-projector';
import { planSchedule, type SchedulePlan } from '../../lambdas/core/schedule-plan';
import { registerClient } from '../../lambdas/aws/client-provisioning';
import type { SchedulePutOutcome } from '../../lambdas/aws/client-schedules';
import { deliveryParseOptions, policyBounds, type OpsDeps } from './ops-deps';

/** What onboarding did. Never carries the key: the client reads it from its secret. */
export interface OnboardResult {
  readonly client: ClientRecord;
  /** False when the client was already registered (a re-run). */
  readonly registered: boolean;
  readonly schedule: SchedulePutOutcome;
  readonly plan: SchedulePlan;
  /** What the delivery projection did (absent without a delivery projector). */
  readonly delivery?: DeliveryProjectionResult;
}

/**
 * Registers a client with its rotation policy and creates its schedule.
 *
 * @param raw an {@link OnboardRequest} (validated here).
 * @throws InvalidOperationInput (nothing changed), DeliveryUnavailable (delivery settings without a
 *   delivery projector; nothing changed), ClientOffboarded, RegistrationConflict
 */
export async function onboardClient(deps: OpsDeps, raw: unknown): Promise<OnboardResult> {
  const request = await parseOnboardRequestWithDelivery(raw, policyBounds(deps.settings), deliveryParseOptions(deps));
  if (!deps.delivery && request.delivery && !sameDelivery(request.delivery, NO_DELIVERY)) throw new DeliveryUnavailableError(request.clientId);
  const existing = await deps.keys.getClient(request.clientId);
  if (existing?.offboardedAt) throw new ClientOffboardedError(existing.clientId, existing.offboardedAt);
  const client = existing ? await adoptExisting(deps, existing, request) : await register(deps, request);
  // Registration attaches it to a new secret; a client registered before KeyRoll did gets it on a re-run.
  // With a projector the delivery function owns the secret policy (and denies PutResourcePolicy to us).
  if (existing && !deps.delivery) await deps.secrets.denyNativeRotation(client.secretId);
  const plan = planSchedule(request.policy, deps.clock);
  const schedule = await deps.schedules.put(client.clientId, plan);
  if (schedule !== 'unchanged') {
    await deps.keys.applyChange({
      audit: [{ clientId: client.clientId, at: isoNow(deps.clock), action: `schedule.${schedule}`, actor: request.requestedBy, reason: request.reason, detail: `${plan.expression} ${plan.timeZone}` }],
    });
  }
  // Offboarded while we were creating the schedule: take the schedule away again.
  const after = await deps.keys.requireClient(client.clientId);
  if (after.offboardedAt) {
    await deps.schedules.delete(client.clientId);
    throw new ClientOffboardedError(after.clientId, after.offboardedAt);
  }
  // Every run projects: a re-run repairs a projection that drifted or was cut short by a crash.
  // Last, so that a reader AWS refuses (DeliveryTargetRejected) leaves a client that is registered,
  // scheduled and protected (the projection fails closed), fixed with `clients update`.
  const delivery = deps.delivery ? await deps.delivery.project(client.clientId) : undefined;
  return { client: after, registered: !existing, schedule, plan, ...(delivery ? { delivery } : {}) };
}

async function register(deps: OpsDeps, request: OnboardRequest): Promise<ClientRecord> {
  const client = await registerClient(
    { secrets: deps.secrets, keys: deps.keys, clock: deps.clock, settings: deps.settings },
    {
      clientId: request.clientId,
      scopes: request.scopes,
      overlapSeconds: request.policy.overlapSeconds,
      policy: request.policy,
      ...(request.tags ? { tags: request.tags } : {}),
      ...(request.delivery ? { delivery: request.delivery } : {}),
      secretPolicy: deps.delivery ? 'delivery' : 'keyroll',
      requestedBy: request.requestedBy,
      reason: request.reason,
    },
  );
  // registerClient may return a record that a concurrent registration wrote: it must match too.
  if (!client.policy) return adoptExisting(deps, client, request);
  assertSame(client, request);
  return client;
}

/** A registered client: the same scopes and policy converge; a client registered without a policy gets this one. */
async function adoptExisting(deps: OpsDeps, client: ClientRecord, request: OnboardRequest): Promise<ClientRecord> {
  assertSame(client, request);
  if (client.policy) return client;
  const now = isoNow(deps.clock);
  try {
    await deps.keys.applyChange({
      client: {
        clientId: client.clientId,
        expect: { policy: null, offboardedAt: null },
        set: { policy: plain(request.policy), ...(request.policy.overlapSeconds !== undefined ? { overlapSeconds: request.policy.overlapSeconds } : {}), updatedAt: now },
      },
      audit: [{ clientId: client.clientId, at: now, action: 'client.policy_set', actor: request.requestedBy, reason: request.reason }],
    });
  } catch (error) {
    if ((error as Error).name !== 'ConditionFailed') throw error;
    // Someone set a policy (or offboarded the client) in between: decide on what is there now.
    const current = await deps.keys.requireClient(client.clientId);
    if (current.offboardedAt) throw new ClientOffboardedError(current.clientId, current.offboardedAt);
    assertSame(current, request);
  }
  return deps.keys.requireClient(client.clientId);
}

function assertSame(client: ClientRecord, request: OnboardRequest): void {
  const differing: string[] = [];
  if (JSON.stringify([...client.scopes].sort()) !== JSON.stringify([...request.scopes].sort())) differing.push('scopes');
  if (client.policy && canonical(client.policy) !== canonical(request.policy)) differing.push('policy');
  if (JSON.stringify([...new Set(client.tags ?? [])].sort()) !== JSON.stringify([...new Set(request.tags ?? [])].sort())) differing.push('tags');
  // A re-run without delivery settings means none, like tags: `clients update` changes them.
  if (!sameDelivery(client.delivery, request.delivery)) differing.push('delivery');
  if (differing.length) throw new RegistrationConflictError(client.clientId, differing);
}

/** A policy as plain JSON without undefined fields (what DynamoDB stores). */
function plain(policy: RotationPolicy): RotationPolicy {
  return JSON.parse(JSON.stringify(policy)) as RotationPolicy;
}

function canonical(policy: RotationPolicy): string {
  const { intervalDays, overlapSeconds, maxOverlapSeconds, timeZone, window } = policy;
  return JSON.stringify({ intervalDays, overlapSeconds, maxOverlapSeconds, timeZone, window: { start: window.start, end: window.end } });
}
