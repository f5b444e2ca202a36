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

/** How a caller follows rotations. */
export type CallerBehaviour = 'prompt' | 'lagging' | 'never';

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
export class SimulatedCaller {
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
    const body = (await response.json().catch(() => ({}))) as { keyRole?: 'current' | 'previous'; reason?: string };
    const base = { atMs: this.clock.nowMs(), caller: this.spec.name, clientId: this.spec.clientId, behaviour: this.spec.behaviour };
    return response.ok ? { ...base, ok: true, keyRole: body.keyRole } : { ...base, ok: false, reason: body.reason ?? `http-${response.status}` };
  }
}
