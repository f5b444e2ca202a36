/**
 * The logging surface the client SDK writes to. `console` and Powertools' `Logger` both fit.
 * Messages and attributes carry key ids, source ids (secret, variable, path) and error names only, never a key.
 */

/**
 * A minimal structured logger. The SDK calls each method with a message and one attributes
 * object (rest parameters, so that Powertools' `Logger` and `console` are assignable).
 */
export interface ClientLogger {
  warn(message: string, ...attributes: Record<string, unknown>[]): void;
  info?(message: string, ...attributes: Record<string, unknown>[]): void;
}

/** Discards everything: the default when no logger is given. */
export const silentLogger: ClientLogger = { warn: () => undefined };
