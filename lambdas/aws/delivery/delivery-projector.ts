/**
 * The contract between the operator API and KeyRoll's delivery function: after a client's
 * delivery settings change in the table (or the client is offboarded), the projection makes
 * AWS match the record — the secret's resource policy, the KMS grants and the SNS
 * subscriptions. Only the delivery function's role may write those (the topic policy and each
 * secret policy deny everyone else), so the operator side asks it rather than doing it.
 */

/** What one projection did. Re-running it on an unchanged record changes nothing. */
export interface DeliveryProjectionResult {
  readonly clientId: string;
  /** `put`: the secret policy was written; `unchanged`: it already matched. */
  readonly secretPolicy: 'put' | 'unchanged';
  readonly grants: { readonly created: number; readonly revoked: number; readonly kept: number };
  readonly subscriptions: { readonly created: number; readonly removed: number; readonly kept: number; readonly pendingConfirmation: number };
}

/** Projects a client's delivery record onto AWS (in process in tests and locally, by Lambda invoke from the CLI). */
export interface DeliveryProjector {
  /**
   * Reconciles AWS to the client's record. An offboarded client (or one without delivery
   * settings) is left with no reader, grant or subscription.
   *
   * @throws UnknownClient
   */
  project(clientId: string): Promise<DeliveryProjectionResult>;
}
