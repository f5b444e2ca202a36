/**
 * The consumers KeyRoll delivers keys and notices to, in the rehearsal: one outside AWS (key
 * pickup and an HTTPS webhook, no AWS credentials) and one in a second emulated account (its
 * secret through the account boundary, notices on a queue of its own account). Both use the
 * client SDK's KeyProvider and fetch wrapper like the other well-behaved consumers, and record
 * in wall-clock time when a notice reached them and when their key changed (the emergency
 * figures). Their set-up (clients, key pair, endpoints, second account, delivery settings given
 * through the operator API) is local/rehearsal/delivery-setup.ts.
 */
import type { Clock } from '../../lambdas/core/clock';
import { createAuthenticatedFetch, type FetchLike } from '../../client/authenticated-fetch';
import type { KeyProvider } from '../../client/key-provider';
import { outcomeOf, type CallerBehaviour, type RehearsalConsumer, type RequestOutcome } from './callers';
import type { DeliveryObservations } from './delivery-figures';
import type { RehearsalResources } from './provision';

/** Observations as they are recorded (the report reads them as {@link DeliveryObservations}). */
export interface ObservationLog {
  readonly keyChanges: DeliveryObservations['keyChanges'][number][];
  readonly notices: DeliveryObservations['notices'][number][];
  readonly pickups: DeliveryObservations['pickups'][number][];
}

/** A new, empty log. */
export const newObservationLog = (): ObservationLog => ({ keyChanges: [], notices: [], pickups: [] });

/** What a delivered consumer is made of. */
export interface DeliveredConsumerParts {
  readonly name: string;
  readonly clientId: string;
  readonly kind: Extract<CallerBehaviour, 'outside-aws' | 'cross-account'>;
  /** The SDK provider over the consumer's key source (pickup, or Secrets Manager across accounts). */
  readonly provider: KeyProvider;
  /** The protected API. */
  readonly apiUrl: string;
  readonly clock: Clock;
  readonly log: ObservationLog;
  /** Hears notices that must be fetched (an SQS poller); webhook consumers hear theirs as they arrive. */
  readonly poll?: () => Promise<void>;
  /** Stops what the consumer runs besides the provider (its webhook endpoint). */
  readonly close?: () => Promise<void>;
}

/** A consumer that KeyRoll delivers its key and notices to. */
export class DeliveredConsumer implements RehearsalConsumer {
  readonly spec: RehearsalConsumer['spec'];
  private readonly fetch: FetchLike;

  constructor(private readonly parts: DeliveredConsumerParts) {
    this.spec = { name: parts.name, clientId: parts.clientId, behaviour: parts.kind };
    this.fetch = createAuthenticatedFetch(parts.provider, { clock: parts.clock });
    parts.provider.onChange((change) => parts.log.keyChanges.push({ consumer: parts.name, wallMs: Date.now(), keyId: change.keyId }));
  }

  async start(): Promise<void> {
    await this.parts.provider.getKey();
  }

  async tick(): Promise<RequestOutcome> {
    await this.parts.poll?.();
    return outcomeOf(this.spec, this.parts.clock, await this.fetch(this.parts.apiUrl));
  }

  async close(): Promise<void> {
    this.parts.provider.stop();
    await this.parts.close?.();
  }
}

/** A fetch that records how long each pickup POST took, and its status, in `log`. */
export function timedPickupFetch(consumer: string, log: ObservationLog, inner: FetchLike = fetch): FetchLike {
  return async (input, init) => {
    const started = performance.now();
    const response = await inner(input, init);
    log.pickups.push({ consumer, ms: performance.now() - started, status: response.status });
    return response;
  };
}

/** The delivered consumers of one rehearsal, running. */
export interface DeliveryConsumers {
  /** The clients they belong to (provisioned here; the rehearsal rotates them with the others). */
  readonly clientIds: readonly string[];
  /** Clients whose last rotation is an emergency (the pickup consumer's). */
  readonly emergencyClientIds: readonly string[];
  readonly consumers: readonly RehearsalConsumer[];
  readonly observations: DeliveryObservations;
  /** What the account boundary decided on the cross-account consumer's reads so far. */
  boundaryDecisions(): readonly { readonly allowed: boolean }[];
  /** Picks the outside-AWS consumer's key up `samples` times in a row (timed into the observations), for the latency figures. */
  probePickupLatency(samples: number): Promise<void>;
  close(): Promise<void>;
}

/** What the set-up needs from the rehearsal. */
export interface DeliveryContext {
  readonly resources: RehearsalResources;
  readonly runId: string;
  readonly keyPrefix: string;
  readonly clock: Clock;
  readonly apiUrl: string;
}
