/**
 * What every handler shares: configuration read once from the environment, SDK clients
 * built once per container, the Powertools logger, and a wrapper that logs a step
 * without ever logging its payload's secrets (payloads carry ids only).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { systemClock } from '../core/clock';
import { describeError } from '../core/errors';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../core/zombie-window';
import { dynamoDbClient, secretsManagerClient } from '../aws/clients';
import { KeyRepository } from '../aws/key-repository';
import type { RotationDeps, RotationSettings } from '../aws/rotation/context';
import { SecretStore } from '../aws/secret-store';

/** The Powertools logger shared by the handlers (JSON, no event logging). */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'keyroll' });

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set; the stack sets it on every rotation function.`);
  return value;
}

function numberEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new Error(`Environment variable ${name} must be a number; got '${raw}'.`);
  return value;
}

/** Reads the rotation settings from the environment the stack sets. */
export function settingsFromEnv(): RotationSettings {
  return {
    keyPrefix: requiredEnv('KEY_PREFIX'),
    defaultOverlapSeconds: numberEnv('DEFAULT_OVERLAP_SECONDS', 24 * 3600),
    overlapBounds: { minSeconds: numberEnv('MIN_OVERLAP_SECONDS', 60), maxSeconds: numberEnv('MAX_OVERLAP_SECONDS', 30 * 24 * 3600) },
    lockTtlSeconds: numberEnv('LOCK_TTL_SECONDS', 31 * 24 * 3600),
    usageWindowSeconds: numberEnv('USAGE_WINDOW_SECONDS', 3600),
    reminderIntervalSeconds: numberEnv('REMINDER_INTERVAL_SECONDS', 6 * 3600),
    usageCheckLeadSeconds: numberEnv('USAGE_CHECK_LEAD_SECONDS', 300),
    verifyEndpointUrl: process.env.VERIFY_ENDPOINT_URL || undefined,
    zombieWindowSeconds: numberEnv('ZOMBIE_WINDOW_SECONDS', DEFAULT_ZOMBIE_WINDOW_SECONDS),
  };
}

let deps: RotationDeps | undefined;

/** The handlers' dependencies, built on first use and reused for the container's lifetime. */
export function runtime(): RotationDeps {
  return (deps ??= {
    secrets: new SecretStore(secretsManagerClient()),
    keys: new KeyRepository(dynamoDbClient(), requiredEnv('TABLE_NAME')),
    clock: systemClock,
    settings: settingsFromEnv(),
  });
}

/**
 * Replaces (part of) the dependencies, e.g. a manual clock for the workflow tests that
 * compress the overlap wait. Pass undefined to go back to the environment's.
 */
export function overrideRuntime(overrides: Partial<RotationDeps> | undefined): void {
  if (!overrides) {
    deps = undefined;
    return;
  }
  const complete = overrides.secrets && overrides.keys && overrides.clock && overrides.settings;
  // Complete dependencies (the local runners) need no environment at all.
  deps = complete ? (overrides as RotationDeps) : { ...runtime(), ...overrides };
}

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
