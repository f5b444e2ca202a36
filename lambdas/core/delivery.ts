/**
 * How a client gets its key and its notices, as KeyRoll records it on the client record (the
 * table is the truth, docs/design.md "Where the truth lives"). Everything AWS holds about
 * delivery is a projection of this record that KeyRoll's delivery function reconciles:
 *
 * - `readers` → the statements of the client's secret resource policy and one KMS grant per
 *   reader, constrained to that secret (`lambdas/aws/delivery/`);
 * - `endpoints` → SNS subscriptions of the client topic that KeyRoll itself creates, each
 *   filtered on the client's id (nobody else may subscribe: the topic policy denies it);
 * - `pickupKeys` → the public keys the pickup endpoint verifies client assertions with and
 *   encrypts the key to (`lambdas/aws/pickup/`).
 *
 * Types and limits only; parsing lives in `delivery-request.ts`.
 */

/** The notification protocols KeyRoll subscribes for a client. */
export const NOTIFICATION_PROTOCOLS = ['sqs', 'https', 'email'] as const;
export type NotificationProtocol = (typeof NOTIFICATION_PROTOCOLS)[number];

/** One place a client's notices go. `endpoint` is an SQS queue ARN, an `https://` URL or an email address. */
export interface NotificationEndpoint {
  readonly protocol: NotificationProtocol;
  readonly endpoint: string;
}

/**
 * A public key the client registered for key pickup (a JWK without private members). The
 * client signs its pickup assertions with the private half, and the endpoint encrypts the key
 * to this public half. EC P-256 (ES256 / ECDH-ES+A256KW) or RSA of 2048 bits or more
 * (PS256, RS256 / RSA-OAEP-256).
 */
export interface PickupPublicKey {
  /** The key's id: the JWK's `kid`, or its RFC 7638 thumbprint when the JWK has none. */
  readonly kid: string;
  /** The public JWK as registered (members `kty`, `crv`, `x`, `y` or `n`, `e`; `kid`, `alg`, `use` optional). */
  readonly jwk: Readonly<Record<string, string>>;
}

/** A client's delivery settings. Each list may be empty. */
export interface ClientDelivery {
  /** IAM principal ARNs (a role, a user or an account root) allowed to read the client's AWSCURRENT. */
  readonly readers: readonly string[];
  /** Where KeyRoll subscribes the client's notices. */
  readonly endpoints: readonly NotificationEndpoint[];
  /** At most two, so that a client can rotate its own pickup key. */
  readonly pickupKeys: readonly PickupPublicKey[];
}

/** What the delivery function last projected, recorded on the client record next to {@link ClientDelivery}. */
export interface DeliveryProjectionState {
  /** The subscriptions KeyRoll created, so that removing an endpoint needs no topic-wide listing. */
  readonly subscriptions: readonly (NotificationEndpoint & { readonly subscriptionArn: string })[];
  /**
   * The readers whose secret-policy statement and KMS grant KeyRoll may have made, so that
   * removing one needs no key-wide ListGrants (absent: none yet). Written before the grants are
   * made, so a crash leaves no grant unaccounted for.
   */
  readonly readers?: readonly string[];
  /** When the projection last converged to the record. */
  readonly projectedAt: string;
}

export const MAX_READERS = 10;
export const MAX_ENDPOINTS = 5;
export const MAX_PICKUP_KEYS = 2;

/** No delivery: what a client registered without any has. */
export const NO_DELIVERY: ClientDelivery = { readers: [], endpoints: [], pickupKeys: [] };
