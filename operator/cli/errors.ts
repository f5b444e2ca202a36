/**
 * Errors of the `keyroll` CLI and the exit code each one maps to.
 *
 * | code | meaning                                                                        |
 * |------|--------------------------------------------------------------------------------|
 * | 0    | done                                                                           |
 * | 1    | the operation was refused or failed (RotationInProgress, UnknownClient, ...)   |
 * | 2    | bad arguments or usage; nothing was changed                                     |
 * | 3    | environment or configuration (stack not found, outputs missing, no credentials) |
 */

/** Exit codes, as a public contract (runbooks and scripts test them). */
export const ExitCode = {
  OK: 0,
  REFUSED: 1,
  USAGE: 2,
  ENVIRONMENT: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A bad argument or option, found before anything was read or written. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** One line per offending argument (never the value). */
    readonly issues: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * A `--pickup-key` file holds a private JWK. Refused before anything is read or written, and
 * without printing the file: the private key must stay with the client (register its public half).
 */
export class PrivateKeyFileError extends Error {
  override readonly name = 'PrivateKeyFile';
  constructor(
    /** Which flag, e.g. `--pickup-key #1`. */
    readonly flag: string,
    /** The private member found, e.g. `d` (never its value). */
    readonly member: string,
  ) {
    super(
      `${flag}: the file holds a private key (it has the private member '${member}'). Register the public key only (e.g. a JWK without d, p, q, dp, dq, qi); the private key stays with the client. Nothing was read from the deployment or changed.`,
    );
  }
}

/** The environment is not usable: stack or outputs missing, no credentials, emulator not reachable. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An operation ran and ended in a state that is not success (e.g. a rotation that FAILED). */
export class OperationFailedError extends Error {
  override readonly name = 'OperationFailed';
}

/** A well-formed key that KeyRoll has no record of (`identify`). */
export class KeyNotFoundError extends Error {
  override readonly name = 'UnknownKey';
  constructor(readonly keyId: string) {
    super(`No client has a key with id ${keyId}: the key is well-formed but was not issued by this deployment (another stack or region?).`);
  }
}

/** Errors of KeyRoll's domain and of commander that mean "bad input, nothing changed". */
const USAGE_ERRORS = new Set(['UsageError', 'PrivateKeyFile', 'InvalidOperationInput', 'InvalidRotationInput', 'InvalidRotationId']);

/** Named refusals of the operator API: the request was understood and refused. */
const REFUSALS = new Set([
  'RotationInProgress',
  'RotationAlreadyRan',
  'RotationIdCollision',
  'NativeRotationEnabled',
  'NoClientsSelected',
  'UnknownClient',
  'UnknownKey',
  'ClientOffboarded',
  'RegistrationConflict',
  'CurrentKeyRevocationRefused',
  'RollbackNotPossible',
  'ConditionFailed',
  'RotationStateConflict',
  'OperationFailed',
  'DeliveryProjectionFailed',
  'DeliveryCleanupPending',
]);

/** SDK errors that say "who you are" or "where you point" is wrong, not the request. */
const ENVIRONMENT_ERRORS = new Set([
  'EnvironmentError',
  // The stack has no delivery function (an older deployment): update the stack.
  'DeliveryUnavailable',
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'AccessDeniedException',
  'NotAuthorized',
  'UnauthorizedOperation',
  'StateMachineDoesNotExist',
  'ResourceNotFoundException',
  'MotoUnavailableError',
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** The network error code behind `error` (SDK errors keep it on the error or its cause). */
function networkCode(error: unknown): string | undefined {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; current && depth < 4; current = current.cause as typeof current, depth++) {
    if (typeof current.code === 'string' && NETWORK_CODES.has(current.code)) return current.code;
    if (isError(current) && NETWORK_CODES.has(current.name)) return current.name;
    // The SDK wraps a cross-realm error as "AWS SDK error wrapper for Error: connect ECONNREFUSED ...".
    const named = isError(current) ? /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH)\b/.exec(current.message) : null;
    if (named) return named[1];
  }
  return undefined;
}

/**
 * An Error by shape: errors from Node's core (a refused connection) may come from another
 * realm (a vm context, a test runner's sandbox) where `instanceof Error` is false.
 */
function isError(error: unknown): error is Error {
  return typeof error === 'object' && error !== null && typeof (error as Error).name === 'string' && typeof (error as Error).message === 'string';
}

/** The exit code for an error that reached the top of a command. */
export function exitCodeFor(error: unknown): ExitCode {
  if (!isError(error)) return ExitCode.REFUSED;
  if (USAGE_ERRORS.has(error.name)) return ExitCode.USAGE;
  if (REFUSALS.has(error.name)) return ExitCode.REFUSED;
  if (ENVIRONMENT_ERRORS.has(error.name) || networkCode(error)) return ExitCode.ENVIRONMENT;
  return ExitCode.REFUSED;
}

/** What a failed command reports: a name, a one-line message, and issue lines. Never a serialized error object. */
export interface ErrorReport {
  readonly name: string;
  readonly message: string;
  readonly issues?: readonly string[];
  readonly exitCode: ExitCode;
}

/** The report of `error` for stderr and --json. */
export function reportOf(error: unknown): ErrorReport {
  const exitCode = exitCodeFor(error);
  if (!isError(error)) return { name: 'UnknownError', message: 'A non-Error value was thrown.', exitCode };
  const code = networkCode(error);
  if (code && !(error.name === 'EnvironmentError')) {
    return {
      name: 'EnvironmentError',
      message: `Cannot reach the AWS endpoint (${code}). Check AWS_ENDPOINT_URL / your network; for the emulator, is \`npm run keyroll:local-env\` still running?`,
      exitCode,
    };
  }
  let message = error.message;
  if (error.name === 'CredentialsProviderError') {
    message = 'No AWS credentials found. Configure them (aws configure / AWS_PROFILE / --profile / environment variables) and try again.';
  } else if (error.name === 'ResourceNotFoundException') {
    message = `${error.message} (do the stack outputs point at the deployed table, topics and schedule group?)`;
  }
  const issues = (error as { issues?: unknown }).issues;
  return { name: error.name, message, ...(Array.isArray(issues) && issues.length ? { issues: issues as string[] } : {}), exitCode };
}
