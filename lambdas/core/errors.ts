/**
 * Base class of every error the Lambdas' code (`lambdas/`) defines, with an optional cause; the
 * tools (CLI, bench, local harness) extend `Error` instead. Each subclass sets `name`: Step
 * Functions `Catch`/`Retry` match on the error name a Lambda reports, so these names are part of
 * the public contract of the state machine. Messages never contain key material.
 */
export abstract class KeyRollError extends Error {
  abstract override readonly name: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The rotation input failed schema validation; nothing was changed. */
export class InvalidRotationInputError extends KeyRollError {
  override readonly name = 'InvalidRotationInput';
  constructor(
    message: string,
    /** One line per offending field, e.g. `overlapSeconds: must be at most 2592000`. */
    readonly issues: readonly string[],
  ) {
    super(message);
  }
}

/** The client id names no registered client. */
export class UnknownClientError extends KeyRollError {
  override readonly name = 'UnknownClient';
  constructor(readonly clientId: string) {
    super(`No client is registered with id '${clientId}'.`);
  }
}

/** A fleet rotation whose selection (a tag, or all) names no live client: nothing to start. */
export class NoClientsSelectedError extends KeyRollError {
  override readonly name = 'NoClientsSelected';
  constructor(selection: string) {
    super(`No live client is selected by ${selection}; nothing was started.`);
  }
}

/**
 * A fleet's explicit selection (written to the table before the fleet starts) disagrees with
 * what the fleet was started with, or the same fleet id was given a different list: refused,
 * nothing changed (a fleet id names one selection for good).
 */
export class FleetSelectionConflictError extends KeyRollError {
  override readonly name = 'FleetSelectionConflict';
  constructor(
    readonly fleetId: string,
    why: string,
  ) {
    super(`Fleet ${fleetId}: ${why}; nothing was changed. Start a fleet with a new fleet id for a different list.`);
  }
}

/** Another rotation holds the client's lock (or held it until moments ago: see `retryAfter`). */
export class RotationInProgressError extends KeyRollError {
  override readonly name = 'RotationInProgress';
  constructor(
    readonly clientId: string,
    readonly heldBy: string,
    /** Why the lock cannot be taken yet, and when to try again (ids and timestamps only). */
    readonly detail?: { readonly why: string; readonly retryAfter?: string },
  ) {
    super(
      `Client '${clientId}' is already being rotated by '${heldBy}'; one rotation per client at a time.` +
        (detail ? ` ${detail.why.charAt(0).toUpperCase()}${detail.why.slice(1)}${detail.retryAfter ? `; retry after ${detail.retryAfter}, when nothing of it can still write` : ''}.` : ''),
    );
  }
}

/** A presented or stored key does not have the KeyRoll format or its checksum is wrong. */
export class MalformedKeyError extends KeyRollError {
  override readonly name = 'MalformedKey';
  constructor(readonly reason: 'length' | 'format' | 'prefix' | 'checksum') {
    super(`The key is malformed (${reason}).`);
  }
}

/** A key state change that the state model does not allow. */
export class IllegalKeyTransitionError extends KeyRollError {
  override readonly name = 'IllegalKeyTransition';
  constructor(
    readonly keyId: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(`Key ${keyId} cannot move from ${from} to ${to}.`);
  }
}

/** testSecret could not prove that a key authenticates. */
export class KeyVerificationFailedError extends KeyRollError {
  override readonly name = 'KeyVerificationFailed';
  constructor(
    readonly which: 'pending' | 'current',
    readonly reason: string,
  ) {
    super(`The ${which} key does not authenticate: ${reason}.`);
  }
}

/**
 * Stored state disagrees with what a step expects (e.g. the lock is held by another
 * rotation, the secret has no AWSCURRENT version). Not retried: a human must look.
 */
export class RotationStateConflictError extends KeyRollError {
  override readonly name = 'RotationStateConflict';
}

/** The rotation id (execution name) cannot serve as a Secrets Manager ClientRequestToken. */
export class InvalidRotationIdError extends KeyRollError {
  override readonly name = 'InvalidRotationId';
  constructor(
    readonly rotationId: string,
    /** The id is a well-formed API key: it is not kept on the error, and the message says so. */
    isApiKey = false,
  ) {
    super(
      isApiKey
        ? 'Rotation id must not be an API key (it is the execution name and the ClientRequestToken, and appears in logs).'
        : `Rotation id must be 32-64 characters of [A-Za-z0-9_-] (it is the execution name and the ClientRequestToken); got ${rotationId.length} characters.`,
    );
    if (isApiKey) this.rotationId = '';
  }
}

/** Returns a message safe to surface to a caller: the error's name and message, never a serialized object. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'UnknownError', message: 'A non-Error value was thrown.' };
}

/** retire ran before the previous key's not-after: the state machine waits and retries. */
export class OverlapNotElapsedError extends KeyRollError {
  override readonly name = 'OverlapNotElapsed';
  constructor(
    readonly keyId: string,
    readonly notAfter: string,
  ) {
    super(`Key ${keyId} is accepted until ${notAfter}; it cannot be retired before then.`);
  }
}

/** The client was offboarded: its keys are revoked and it can be neither rotated nor registered again. */
export class ClientOffboardedError extends KeyRollError {
  override readonly name = 'ClientOffboarded';
  constructor(
    readonly clientId: string,
    readonly offboardedAt: string,
  ) {
    super(`Client '${clientId}' was offboarded at ${offboardedAt}; its keys are revoked and it cannot be rotated or registered again.`);
  }
}

/** An operator request (register, offboard, revoke, rollback, start) failed validation; nothing was changed. */
export class InvalidOperationInputError extends KeyRollError {
  override readonly name = 'InvalidOperationInput';
  constructor(
    message: string,
    /** One line per offending field, e.g. `policy.window.start: must be HH:MM (24-hour)`. Never the value. */
    readonly issues: readonly string[],
  ) {
    super(message);
  }
}

/** The client is already registered with other scopes or another rotation policy than requested. */
export class RegistrationConflictError extends KeyRollError {
  override readonly name = 'RegistrationConflict';
  constructor(
    readonly clientId: string,
    /** Names of the fields that differ (never their values). */
    readonly fields: readonly string[],
  ) {
    // Delivery settings, unlike scopes and the policy, may change after onboarding.
    const hint = fields.includes('delivery') ? ' Change delivery settings with `keyroll clients update` (the operator API: updateClientDelivery).' : '';
    super(`Client '${clientId}' is already registered with a different ${fields.join(' and ')}; nothing was changed.${hint}`);
  }
}

/** No key with this key id belongs to the client. */
export class UnknownKeyError extends KeyRollError {
  override readonly name = 'UnknownKey';
  constructor(
    readonly clientId: string,
    readonly keyId: string,
  ) {
    super(`Client '${clientId}' has no key with id '${keyId}'.`);
  }
}

/**
 * Revoking the client's current (AWSCURRENT) key would lock the client out until it gets a new
 * one: refused unless forced. An emergency rotation replaces the key instead.
 */
export class CurrentKeyRevocationRefusedError extends KeyRollError {
  override readonly name = 'CurrentKeyRevocationRefused';
  constructor(
    readonly clientId: string,
    readonly keyId: string,
  ) {
    super(
      `Key '${keyId}' is the current key of client '${clientId}'; revoking it locks the client out until it has a new key. ` +
        'Start an emergency rotation (optionally with revokeImmediately) instead, or force the revocation.',
    );
  }
}

/** There is no finished rotation in its overlap to roll back (none yet, emergency, already retired, or another rotation holds the lock). */
export class RollbackNotPossibleError extends KeyRollError {
  override readonly name = 'RollbackNotPossible';
  constructor(
    readonly clientId: string,
    readonly why: string,
  ) {
    super(`The last rotation of client '${clientId}' cannot be rolled back: ${why}.`);
  }
}

/**
 * The rotation id names a version the client's secret already has (its current or previous
 * version, or an older one such as the computable `initial-...` version). The rotation id
 * becomes the new version's id (ClientRequestToken), so it must be new: refused, nothing changed.
 */
export class RotationIdCollisionError extends KeyRollError {
  override readonly name = 'RotationIdCollision';
  constructor(
    readonly clientId: string,
    readonly rotationId: string,
    /** Which version it collides with, e.g. `it is the client's current version`. */
    readonly why: string,
  ) {
    super(`Rotation id '${rotationId}' cannot be used for client '${clientId}': ${why}. A rotation id becomes the new secret version's id and must be new; nothing was changed.`);
  }
}

/** How a rotation that already ran ended, as {@link RotationAlreadyRanError} reports it. */
export type RotationOutcome = 'in-overlap' | 'finished' | 'rolled-back' | 'failed';

/**
 * The rotation id already ran for this client and does not hold its lock now (or finished
 * while holding it): it is reported, never run again, and nothing is changed. Start a new
 * rotation with a fresh id.
 */
export class RotationAlreadyRanError extends KeyRollError {
  override readonly name = 'RotationAlreadyRan';
  constructor(
    readonly clientId: string,
    readonly rotationId: string,
    readonly outcome: RotationOutcome,
    /** The outcome in words, with its timestamps and key ids (never key material). */
    readonly summary: string,
  ) {
    super(`Rotation '${rotationId}' of client '${clientId}' already ran: ${summary}. A rotation id runs once; nothing was changed (start a new rotation for a new key).`);
  }
}

/**
 * Secrets Manager's own rotation is turned on for the client's secret (DescribeSecret
 * `RotationEnabled`). It would make a key current that has no hash in the table, and KeyRoll
 * would strip its AWSPENDING: refused until it is turned off (CancelRotateSecret). KeyRoll's
 * state machine is the only rotator.
 */
export class NativeRotationEnabledError extends KeyRollError {
  override readonly name = 'NativeRotationEnabled';
  constructor(
    readonly clientId: string,
    readonly secretId: string,
  ) {
    super(
      `Secrets Manager rotation is turned on for secret '${secretId}' of client '${clientId}'; KeyRoll is the only rotator of its clients' secrets. ` +
        'Turn it off (aws secretsmanager cancel-rotate-secret) and rotate again; nothing was changed.',
    );
  }
}

/**
 * testSecret's verification endpoint is unusable: not a URL, not `https:`, or it carries
 * credentials (userinfo). Refused at synth by the construct and again before the probe sends
 * the new key anywhere (docs/design.md invariant 5: the key goes only to the authorizer).
 */
export class InvalidVerifyEndpointError extends KeyRollError {
  override readonly name = 'InvalidVerifyEndpoint';
  constructor(reason: string) {
    super(`The verification endpoint ${reason}.`);
  }
}

/**
 * A function's configuration (its environment, set by the stack) is missing a required value or
 * has one that is malformed, negative or out of bounds. Thrown when the handler is built, before
 * anything is read or written; no value is ever replaced by a default (docs/design.md invariant 6).
 * The message names the variable and what it must be, never its value (a URL may carry userinfo).
 */
export class InvalidConfigurationError extends KeyRollError {
  override readonly name = 'InvalidConfiguration';
  constructor(
    /** The environment variable, e.g. `CACHE_TTL_MS`. */
    readonly variable: string,
    /** What is wrong, e.g. `is not set` or `must be a non-negative number`. */
    readonly problem: string,
  ) {
    super(`Environment variable ${variable} ${problem}.`);
  }
}

/**
 * Delivery settings were given but this deployment's operator API has no delivery projector
 * (a stack without the delivery function: no `DeliveryFunctionName` output). Refused before
 * anything is written: settings KeyRoll cannot project would be a record that lies.
 */
/**
 * Offboarding revoked every key, but the client's readers, grants and subscriptions could not be
 * removed: this session has no delivery function to ask. Re-run the offboarding with one.
 */
export class DeliveryCleanupPendingError extends KeyRollError {
  override readonly name = 'DeliveryCleanupPending';
  constructor(readonly clientId: string) {
    super(
      `Client '${clientId}' is offboarded and every key is revoked, but its secret policy readers, KMS grants and subscriptions remain: this deployment's outputs name no delivery function (DeliveryFunctionName). Update the stack (or the outputs file) and run the same offboarding again.`,
    );
  }
}

export class DeliveryUnavailableError extends KeyRollError {
  override readonly name = 'DeliveryUnavailable';
  constructor(readonly clientId: string) {
    super(
      `Delivery settings of client '${clientId}' cannot be changed: this deployment has no delivery function (stack output DeliveryFunctionName). Deploy a KeyRoll version with delivery; nothing was changed.`,
    );
  }
}

/** The delivery function ran and failed (its error name and message, which never carry key material). */
export class DeliveryProjectionFailedError extends KeyRollError {
  override readonly name = 'DeliveryProjectionFailed';
  constructor(
    readonly clientId: string,
    /** The function's error name, e.g. `UnknownClient`. */
    readonly errorName: string,
    detail: string,
  ) {
    super(`The delivery projection of client '${clientId}' failed (${errorName}): ${detail}. The table holds the settings; run \`keyroll clients update ${clientId}\` again to project them.`);
  }
}
