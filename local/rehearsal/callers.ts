/**
 * The simulated API consumers of the rehearsal. Each calls the protected endpoint once per
 * tick and follows rotations its own way:
 * - prompt: the SDK's SNS→SQS poller hears key.rotated; it switches after its own propagation delay;
 * - lagging: no notifications; the SDK's provider re-reads the secret only every `lagMs`;
 * - never: read its key once and never again, no retry on refusal (the one that breaks).
 * Prompt and lagging callers use the SDK's fetch wrapper (one refresh + retry on 401/403):
 * they are the well-behaved ones, and must never see a failure.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../../lambdas/core/clock';
import { createAuthenticatedFetch, type FetchLike } from '../../client/authenticated-fetch';
import type { ApiKeySource, RefreshReason, RefreshResult } from '../../client/key-provider';
import { SecretsManagerKeyProvider } from '../../client/secrets-manager';
import { SqsNotificationPoller } from '../../client/poller';

/**
 * How a consumer gets and follows its key (its kind, in the report):
 * - prompt, lagging, never: in KeyRoll's account, reading Secrets Manager (see above);
 * - outside-aws: no AWS credentials: key pickup (a JWE to its registered public key) and
 *   notices on its HTTPS webhook (local/rehearsal/delivery-consumers.ts);
 * - cross-account: in another AWS account: reads its secret through the secret's resource
 *   policy and hears notices on an SQS queue of its own account.
 */
export type CallerBehaviour = 'prompt' | 'lagging' | 'never' | 'outside-aws' | 'cross-account';

/** Every kind, in the order the report lists them. */
export const CALLER_BEHAVIOURS: readonly CallerBehaviour[] = ['prompt', 'lagging', 'never', 'outside-aws', 'cross-account'];

/** A consumer as the rehearsal drives it: one request per tick. */
export interface RehearsalConsumer {
  readonly spec: { readonly name: string; readonly clientId: string; readonly behaviour: CallerBehaviour };
  /** Reads the first key (and whatever else the consumer sets up). */
  start(): Promise<void>;
  /** One tick: hear notifications, switch if due, make one request. */
  tick(): Promise<RequestOutcome>;
  /** Stops what start() started. */
  close?(): Promise<void>;
}

/** One simulated consumer. */
export interface CallerSpec {
  readonly name: string;
  readonly clientId: string;
  readonly behaviour: CallerBehaviour;
  /** prompt: delay between hearing of a rotation and switching; lagging: how stale its key may get. */
  readonly delayMs: number;
  /** prompt only: the SQS queue subscribed to the client topic for this client. */
  readonly queueUrl?: string;
}

/** What one request got. */
export interface RequestOutcome {
  readonly atMs: number;
  readonly caller: string;
  readonly clientId: string;
  readonly behaviour: CallerBehaviour;
  readonly ok: boolean;
  /** On success: which key of the client was used. */
  readonly keyRole?: 'current' | 'previous';
  /** On success: the id of the key used (the authorizer's context; an id, never the key). */
  readonly keyId?: string;
  /** Wall-clock time of the answer (emergency recovery is measured in real milliseconds). */
  readonly wallMs?: number;
  /** On failure: the authorizer's reason (or the HTTP status). */
  readonly reason?: string;
}

/**
 * A key source that hears refresh requests now and carries them out after a delay: the
 * propagation delay of a real deployment (config reload, rolling restart).
 */
class DelayedRefresh implements ApiKeySource {
  dueAtMs: number | undefined;
  constructor(
    private readonly inner: SecretsManagerKeyProvider,
    private readonly clock: Clock,
    private readonly delayMs: number,
  ) {}
  getKey(): Promise<string> {
    return this.inner.getKey();
  }
  currentKeyId(): string | undefined {
    return this.inner.currentKeyId();
  }
  async refresh(_reason: RefreshReason): Promise<RefreshResult> {
    this.dueAtMs ??= this.clock.nowMs() + this.delayMs;
    const keyId = this.inner.currentKeyId() ?? '';
    return { keyId, previousKeyId: keyId, changed: false };
  }
}

/** A running simulated consumer. */
export class SimulatedCaller implements RehearsalConsumer {
  private readonly provider: SecretsManagerKeyProvider;
  private readonly fetch: FetchLike;
  private readonly poller?: SqsNotificationPoller;
  private readonly delayed?: DelayedRefresh;
  private staticKey?: string;

  constructor(
    readonly spec: CallerSpec,
    private readonly url: string,
    private readonly clock: Clock,
    secretNamePrefix: string,
    clients: { secretsManager: SecretsManagerClient; sqs: SQSClient },
  ) {
    // Prompt callers rely on notifications (and a daily safety refresh); lagging ones on their timer.
    const refreshIntervalMs = spec.behaviour === 'lagging' ? spec.delayMs : 24 * 3_600_000;
    this.provider = new SecretsManagerKeyProvider({ clientId: spec.clientId, secretNamePrefix, secretsManager: clients.secretsManager, refreshIntervalMs, clock });
    this.fetch = createAuthenticatedFetch(this.provider, { clock });
    if (spec.behaviour === 'prompt') {
      if (!spec.queueUrl) throw new Error(`Caller ${spec.name} is prompt but has no queue.`);
      this.delayed = new DelayedRefresh(this.provider, clock, spec.delayMs);
      this.poller = new SqsNotificationPoller({ queueUrl: spec.queueUrl, provider: this.delayed, clientId: spec.clientId, sqs: clients.sqs, waitTimeSeconds: 0 });
    }
  }

  /** Reads the first key (the never-updating caller keeps it forever). */
  async start(): Promise<void> {
    const key = await this.provider.getKey();
    if (this.spec.behaviour === 'never') this.staticKey = key;
  }

  /** One tick: hear notifications, switch if due, make one request. */
  async tick(): Promise<RequestOutcome> {
    if (this.poller && this.delayed) {
      await this.poller.pollOnce();
      if (this.delayed.dueAtMs !== undefined && this.delayed.dueAtMs <= this.clock.nowMs()) {
        this.delayed.dueAtMs = undefined;
        await this.provider.refresh('notification');
      }
    }
    const response = this.staticKey ? await fetch(this.url, { headers: { authorization: `Bearer ${this.staticKey}` } }) : await this.fetch(this.url);
    return outcomeOf(this.spec, this.clock, response);
  }
}

/** What a response of the protected API says about a consumer's request. */
export async function outcomeOf(spec: RehearsalConsumer['spec'], clock: Clock, response: Response): Promise<RequestOutcome> {
  const body = (await response.json().catch(() => ({}))) as { keyRole?: 'current' | 'previous'; keyId?: string; reason?: string };
  const base = { atMs: clock.nowMs(), wallMs: Date.now(), caller: spec.name, clientId: spec.clientId, behaviour: spec.behaviour };
  return response.ok ? { ...base, ok: true, keyRole: body.keyRole, keyId: body.keyId } : { ...base, ok: false, reason: body.reason ?? `http-${response.status}` };
}
