/**
 * Named domain errors.
 *
 * Every error sets `name` explicitly: Step Functions `Catch`/`Retry` match on the
 * error name that a Lambda reports, so these names are part of the public contract
 * of the state machine. Messages never contain key material.
 */

/** Base class: sets `name` from the concrete class and keeps an optional cause. */
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

/** Another rotation holds the client's lock. */
export class RotationInProgressError extends KeyRollError {
  override readonly name = 'RotationInProgress';
  constructor(
    readonly clientId: string,
    readonly heldBy: string,
  ) {
    super(`Client '${clientId}' is already being rotated by '${heldBy}'; one rotation per client at a time.`);
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
  constructor(readonly rotationId: string) {
    super(
      `Rotation id must be 32-64 characters of [A-Za-z0-9_-] (it is the execution name and the ClientRequestToken); got ${rotationId.length} characters.`,
    );
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
