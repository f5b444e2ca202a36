/**
 * Projects a client's delivery record (ClientRecord.delivery, lambdas/core/delivery.ts) onto
 * AWS: the secret's resource policy (secret-policy.ts), one KMS grant per reader
 * (kms-grants.ts) and one SNS subscription per endpoint (subscriptions.ts). An offboarded
 * client, or one without delivery settings, is projected as no reader and no endpoint: the
 * policy keeps its denies, every grant and subscription goes.
 *
 * Crash-safe by a write-ahead record: before anything is created, the client record's
 * `deliveryProjection` is compare-and-set to the union of what was recorded and what is about
 * to be made (readers, and endpoints with PENDING_SUBSCRIBE for an ARN not known yet). So a
 * crash anywhere leaves nothing KeyRoll made unrecorded, and the next run removes whatever the
 * record no longer asks for. The last write records exactly what is live.
 *
 * Concurrent runs: every write of the state is a compare-and-set; a run that loses one merges
 * what it made into the winner's state (nothing is forgotten) and starts over from a fresh read.
 * A run also ends only after re-reading the record and finding the delivery settings it
 * projected, so a run that worked from a stale record projects again. Two runs therefore end
 * with AWS matching the record as it is when the later one finishes.
 */
import { GetResourcePolicyCommand, PutResourcePolicyCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isoNow, type Clock } from '../../core/clock';
import type { DeliveryProjectionState, NotificationEndpoint } from '../../core/delivery';
import { UnknownClientError } from '../../core/errors';
import { classifyTransient } from '../transient';
import { DeliveryProjectionConflictError, DeliveryTargetRejectedError } from './delivery-errors';
import type { DeliveryProjectionResult, DeliveryProjector } from './delivery-projector';
import { DeliveryStateStore, nextProjectedAt, type DeliveryView } from './delivery-state';
import { reconcileGrants } from './kms-grants';
import { sameSecretPolicy, secretPolicyFor } from './secret-policy';
import { ClientSubscriptions, endpointKey, PENDING_SUBSCRIBE, reconcileSubscriptions, type RecordedSubscription } from './subscriptions';

/** The deployment a projection writes to (the delivery function's environment). */
export interface DeliveryProjectionSettings {
  /** The KMS key that encrypts client secrets (stack output KeyArn): grants are made on it. */
  readonly keyArn: string;
  /** The client topic (stack output ClientTopicArn): subscriptions are made on it. */
  readonly clientTopicArn: string;
  /** KeyRoll's own roles that read client secrets (createSecret's, testSecret's, the pickup function's). */
  readonly keyrollSecretReaderArns: readonly string[];
  /** The delivery function's own role: the only principal that may change a secret's policy. */
  readonly deliveryRoleArn: string;
  /** The deployment's partition (`aws`, `aws-cn`, `aws-us-gov`). */
  readonly partition: string;
}

/** What a projection uses, injected. */
export interface DeliveryProjectionDeps {
  /** A document client with `removeUndefinedValues: true`. */
  readonly dynamoDb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly secretsManager: SecretsManagerClient;
  readonly kms: KMSClient;
  readonly sns: SNSClient;
  readonly clock: Clock;
  readonly settings: DeliveryProjectionSettings;
}

/**
 * Makes AWS match client `clientId`'s delivery record. Idempotent (a re-run on an unchanged
 * record changes nothing), crash-safe (a re-run after a crash anywhere converges) and safe to
 * run twice at once (both converge to the record they end with).
 *
 * @throws UnknownClient when no client has this id
 */
export async function projectDelivery(deps: DeliveryProjectionDeps, clientId: string): Promise<DeliveryProjectionResult> {
  const store = new DeliveryStateStore(deps.dynamoDb, deps.tableName);
  const totals = { secretPolicy: 'unchanged' as 'put' | 'unchanged', grants: { created: 0, revoked: 0, kept: 0 }, subscriptions: { created: 0, removed: 0, kept: 0, pendingConfirmation: 0 } };
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const view = await store.read(clientId);
    if (!view) throw new UnknownClientError(clientId);
    const wanted = wantedOf(view);
    const recorded = view.deliveryProjection;

    // 1. Write ahead what may be made, so a crash from here on leaves it recorded.
    const intent = intentOf(recorded, wanted, isoNow(deps.clock));
    if (!sameState(recorded, intent) && !(await store.compareAndSet(clientId, recorded, intent))) continue;
    const baseline = sameState(recorded, intent) ? recorded : intent;

    // 2. The secret policy first: a removed reader's access ends before anything is added.
    const secret = await projectSecretPolicy(deps, view, wanted.readers);
    if (secret.outcome === 'put') totals.secretPolicy = 'put';
    // 3. Grants: revoke removed readers', create new readers'.
    const grants = await reconcileGrants({ kms: deps.kms, keyArn: deps.settings.keyArn, clientId, secretArn: secret.secretArn }, secret.readers, baseline?.readers ?? []);
    // 4. Subscriptions: remove, then subscribe.
    const subscriptions = await reconcileSubscriptions(new ClientSubscriptions(deps.sns, deps.settings.clientTopicArn, clientId), wanted.endpoints, baseline?.subscriptions ?? []);
    add(totals, grants, subscriptions);

    // 5. Record exactly what is live (unless it is what was recorded: a re-run writes nothing).
    const final: DeliveryProjectionState = { subscriptions: subscriptions.subscriptions, readers: [...secret.readers], projectedAt: nextProjectedAt(isoNow(deps.clock), baseline) };
    if (!sameState(baseline, final) && !(await store.compareAndSet(clientId, baseline, final))) {
      await mergeInto(store, clientId, final, deps.clock);
      continue;
    }
    // 6. Done only if the record still asks for what was projected.
    const after = await store.read(clientId);
    if (after && settingsKey(after) === settingsKey(view)) {
      // Recorded and the rest projected: now say that AWS refused part of the record.
      if (secret.rejected) throw secret.rejected;
      return { clientId, secretPolicy: totals.secretPolicy, grants: totals.grants, subscriptions: { ...totals.subscriptions, pendingConfirmation: subscriptions.pendingConfirmation } };
    }
  }
  throw new DeliveryProjectionConflictError(clientId);
}

/** Attempts before a projection gives up to a record that keeps changing. */
const MAX_ATTEMPTS = 5;

/** What AWS should hold for `view`: nothing for an offboarded client or one without delivery. */
function wantedOf(view: DeliveryView): { readers: string[]; endpoints: NotificationEndpoint[] } {
  if (view.offboardedAt || !view.delivery) return { readers: [], endpoints: [] };
  const seen = new Set<string>();
  const endpoints = view.delivery.endpoints.filter((e) => !seen.has(endpointKey(e)) && seen.add(endpointKey(e)));
  return { readers: [...new Set(view.delivery.readers)].sort(), endpoints: endpoints.map((e) => ({ protocol: e.protocol, endpoint: e.endpoint })) };
}

/** The delivery settings a projection follows, as a comparable string. */
function settingsKey(view: DeliveryView): string {
  return JSON.stringify(wantedOf(view));
}

/** `recorded` plus what is about to be made: every wanted reader, every wanted endpoint not recorded yet (ARN unknown). */
function intentOf(recorded: DeliveryProjectionState | undefined, wanted: { readers: string[]; endpoints: NotificationEndpoint[] }, now: string): DeliveryProjectionState {
  const subscriptions: RecordedSubscription[] = [...(recorded?.subscriptions ?? [])];
  const known = new Set(subscriptions.map(endpointKey));
  for (const endpoint of wanted.endpoints) if (!known.has(endpointKey(endpoint))) subscriptions.push({ ...endpoint, subscriptionArn: PENDING_SUBSCRIBE });
  return { subscriptions, readers: [...new Set([...(recorded?.readers ?? []), ...wanted.readers])].sort(), projectedAt: nextProjectedAt(now, recorded) };
}

/** Same readers and subscriptions (projectedAt aside). */
function sameState(a: DeliveryProjectionState | undefined, b: DeliveryProjectionState): boolean {
  const key = (s: DeliveryProjectionState | undefined) => JSON.stringify([[...(s?.readers ?? [])].sort(), (s?.subscriptions ?? []).map((x) => `${endpointKey(x)} ${x.subscriptionArn}`).sort()]);
  return key(a) === key(b);
}

/** After a lost compare-and-set: adds what this run made to the state another run wrote, so the next pass removes it if unwanted. */
async function mergeInto(store: DeliveryStateStore, clientId: string, made: DeliveryProjectionState, clock: Clock): Promise<void> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = (await store.read(clientId))?.deliveryProjection;
    const seen = new Set((current?.subscriptions ?? []).map((s) => `${endpointKey(s)} ${s.subscriptionArn}`));
    const merged: DeliveryProjectionState = {
      subscriptions: [...(current?.subscriptions ?? []), ...made.subscriptions.filter((s) => !seen.has(`${endpointKey(s)} ${s.subscriptionArn}`))],
      readers: [...new Set([...(current?.readers ?? []), ...(made.readers ?? [])])].sort(),
      projectedAt: nextProjectedAt(isoNow(clock), current),
    };
    if (current && sameState(current, merged)) return;
    if (await store.compareAndSet(clientId, current, merged)) return;
  }
  throw new DeliveryProjectionConflictError(clientId);
}

interface Totals {
  secretPolicy: 'put' | 'unchanged';
  grants: { created: number; revoked: number; kept: number };
  subscriptions: { created: number; removed: number; kept: number; pendingConfirmation: number };
}

/** Adds one pass's changes; `kept` is the last pass's (what was already right when the run ended). */
function add(totals: Totals, grants: { created: number; revoked: number; kept: number }, subscriptions: { created: number; removed: number; kept: number }): void {
  totals.grants = { created: totals.grants.created + grants.created, revoked: totals.grants.revoked + grants.revoked, kept: grants.kept };
  totals.subscriptions = { ...totals.subscriptions, created: totals.subscriptions.created + subscriptions.created, removed: totals.subscriptions.removed + subscriptions.removed, kept: subscriptions.kept };
}

/** Secrets Manager errors of a secret that is gone or scheduled for deletion. */
const SECRET_GONE = new Set(['ResourceNotFoundException', 'InvalidRequestException']);

/** What the secret policy step did, and which readers the policy now admits. */
interface SecretPolicyOutcome {
  readonly outcome: 'put' | 'unchanged';
  readonly secretArn?: string;
  /** The readers the policy now lets read: `readers` unless AWS refused one of them. */
  readonly readers: readonly string[];
  /** Set when AWS refused the wanted policy (e.g. a reader that does not exist). */
  readonly rejected?: DeliveryTargetRejectedError;
}

/**
 * Puts the secret policy for `readers` unless the secret already has it. Returns the secret's
 * full ARN (the grants' encryption-context constraint), or none when the secret of an
 * offboarded client is gone (nothing left to protect: its grants are revoked all the same).
 *
 * Fails closed: when AWS refuses the policy (IAM rejects a principal that does not exist), the
 * readers both wanted and accepted before are put instead, and failing that none, so that a
 * reader the record removed loses its access even when a new one is misspelt. The caller grants
 * only the readers returned, and reports the refusal after recording.
 */
async function projectSecretPolicy(deps: DeliveryProjectionDeps, view: DeliveryView, readers: readonly string[]): Promise<SecretPolicyOutcome> {
  const sm = deps.secretsManager;
  let held: { ARN?: string; ResourcePolicy?: string };
  try {
    held = await classifyTransient(() => sm.send(new GetResourcePolicyCommand({ SecretId: view.secretId })));
  } catch (error) {
    // A live client's secret missing is an inconsistency the operator must see (ResourceNotFoundException).
    if (view.offboardedAt && error instanceof Error && SECRET_GONE.has(error.name)) return { outcome: 'unchanged', readers: [] };
    throw error;
  }
  const accepted = new Set(view.deliveryProjection?.readers ?? []);
  const tried = new Set<string>();
  let rejected: DeliveryTargetRejectedError | undefined;
  for (const candidate of [readers, readers.filter((reader) => accepted.has(reader)), []]) {
    if (tried.has(candidate.join(' '))) continue;
    tried.add(candidate.join(' '));
    const wanted = secretPolicyFor({ readers: candidate, ...deps.settings });
    if (sameSecretPolicy(held.ResourcePolicy, wanted)) return { outcome: 'unchanged', secretArn: held.ARN, readers: candidate, ...(rejected ? { rejected } : {}) };
    try {
      await classifyTransient(() => sm.send(new PutResourcePolicyCommand({ SecretId: view.secretId, ResourcePolicy: wanted, BlockPublicPolicy: true })));
      return { outcome: 'put', secretArn: held.ARN, readers: candidate, ...(rejected ? { rejected } : {}) };
    } catch (error) {
      if (view.offboardedAt && error instanceof Error && SECRET_GONE.has(error.name)) return { outcome: 'unchanged', readers: [] };
      if (!(error instanceof Error && error.name === 'MalformedPolicyDocumentException')) throw error;
      rejected = new DeliveryTargetRejectedError(view.clientId, 'secretPolicy', { cause: error });
    }
  }
  throw rejected ?? new DeliveryTargetRejectedError(view.clientId, 'secretPolicy');
}

/** {@link DeliveryProjector} over {@link projectDelivery}, in process (tests, local runs, the Lambda handler). */
export class InProcessDeliveryProjector implements DeliveryProjector {
  constructor(private readonly deps: DeliveryProjectionDeps) {}

  project(clientId: string): Promise<DeliveryProjectionResult> {
    return projectDelivery(this.deps, clientId);
  }
}
