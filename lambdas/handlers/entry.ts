/**
 * What every Lambda entry module shares, and nothing heavier (the scheduled start loads no
 * rotation adapter): the Powertools logger, the step wrapper that logs a step without ever
 * logging its payload's secrets (payloads carry ids only), and building a handler from its
 * environment on the first invocation, so that importing an entry module needs no environment.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { POWERTOOLS_SERVICE_NAME } from '../core/common-variables';
import { readVariable } from '../core/configuration';
import { describeError } from '../core/errors';

/** The Powertools logger shared by the handlers (JSON, no event logging). */
export const logger = new Logger({ serviceName: readVariable(process.env, 'POWERTOOLS_SERVICE_NAME', POWERTOOLS_SERVICE_NAME) });

// What a valid id looks like (client ids, rotation ids, modes); execution names are at most 80.
const LOGGABLE_ID = /^[A-Za-z0-9._-]{1,80}$/;

/** An id as it may be logged: the first step logs its input before validating it. */
function loggable(id: unknown): unknown {
  if (id === undefined) return undefined;
  return typeof id === 'string' && LOGGABLE_ID.test(id) ? id : '(invalid)';
}

/** Ids worth a log line; the payloads are built to contain nothing else. */
function idsOf(value: unknown): Record<string, unknown> {
  const source = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const rotation = (typeof source.rotation === 'object' && source.rotation !== null ? source.rotation : source) as Record<string, unknown>;
  return { rotationId: loggable(rotation.rotationId), clientId: loggable(rotation.clientId), mode: loggable(rotation.mode) };
}

/** Wraps a step: structured start/finish/failure log lines with the rotation's ids, errors re-thrown with their names. */
export function step<I, O>(name: string, run: (input: I) => Promise<O>): (input: I) => Promise<O> {
  return async (input: I) => {
    const ids = idsOf(input);
    logger.info('step started', { step: name, ...ids });
    try {
      const output = await run(input);
      logger.info('step finished', { step: name, ...ids });
      return output;
    } catch (error) {
      logger.error('step failed', { step: name, ...ids, error: describeError(error) });
      throw error;
    }
  };
}

/**
 * A Lambda entry's handler, built by `build` (from the environment) on the first invocation and
 * kept for the container's lifetime. A build that fails (InvalidConfiguration) is logged and
 * thrown with its name, and tried again on the next invocation.
 */
export function onFirstCall<I, O>(name: string, build: () => (input: I) => Promise<O>): (input: I) => Promise<O> {
  let built: ((input: I) => Promise<O>) | undefined;
  return async (input: I) => {
    if (!built) {
      try {
        built = build();
      } catch (error) {
        logger.error('handler not built', { handler: name, error: describeError(error) });
        throw error;
      }
    }
    return built(input);
  };
}
