/**
 * The rotation functions' configuration (lib/keyroll-rotation.ts sets it on every step and on
 * the fleet page): the table and the rotation settings. Defaults are the construct's; the
 * bounds are the construct's checks, so a value the stack writes always passes and anything
 * else is an InvalidConfigurationError naming the variable (core/configuration.ts).
 */
import { KEY_PREFIX, TABLE_NAME } from '../../core/common-variables';
import { decimal, optional, readConfiguration, requireThat, satisfying, type Environment } from '../../core/configuration';
import { parseVerifyEndpointUrl } from '../../core/verify-endpoint';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS, REQUEST_SLACK_SECONDS } from '../../core/zombie-window';
import type { RotationSettings } from './context';

const HOUR = 3600;
const DAY = 24 * HOUR;
/** The construct's bound: the longest overlap leaves the state machine under its 1-year limit. */
const MAX_OVERLAP_LIMIT_SECONDS = 365 * DAY - 2 * HOUR;

const seconds = (mustBe: string, bounds: { min?: number; above?: number; max?: number }, fallback: number) => optional(`a whole number of seconds, ${mustBe}`, decimal({ ...bounds, integer: true }), fallback);

/** An https URL without userinfo, as testSecret's probe requires (core/verify-endpoint.ts). */
function isVerifyEndpoint(url: string): boolean {
  try {
    parseVerifyEndpointUrl(url);
    return true;
  } catch {
    return false;
  }
}

const RULES = {
  TABLE_NAME,
  KEY_PREFIX,
  MIN_OVERLAP_SECONDS: seconds('at least 60', { min: 60 }, 60),
  MAX_OVERLAP_SECONDS: seconds(`at most ${MAX_OVERLAP_LIMIT_SECONDS}`, { min: 60, max: MAX_OVERLAP_LIMIT_SECONDS }, 30 * DAY),
  DEFAULT_OVERLAP_SECONDS: seconds('between MIN_OVERLAP_SECONDS and MAX_OVERLAP_SECONDS', { min: 60, max: MAX_OVERLAP_LIMIT_SECONDS }, DAY),
  LOCK_TTL_SECONDS: seconds('greater than MAX_OVERLAP_SECONDS', { above: 0 }, 31 * DAY),
  USAGE_WINDOW_SECONDS: seconds('at least 60', { min: 60 }, HOUR),
  USAGE_CHECK_LEAD_SECONDS: seconds('greater than 0', { above: 0 }, 300),
  REMINDER_INTERVAL_SECONDS: seconds('at least twice USAGE_CHECK_LEAD_SECONDS', { above: 0 }, 6 * HOUR),
  VERIFY_ENDPOINT_URL: optional('an https:// URL without user:password@', satisfying(isVerifyEndpoint)),
  ZOMBIE_WINDOW_SECONDS: seconds(`greater than ${REQUEST_SLACK_SECONDS} (the longest step timeout + ${REQUEST_SLACK_SECONDS} s)`, { above: REQUEST_SLACK_SECONDS }, DEFAULT_ZOMBIE_WINDOW_SECONDS),
};

/** The table and settings of a rotation function. */
export interface RotationEnvironment {
  readonly tableName: string;
  readonly settings: RotationSettings;
}

/** Reads and checks a rotation function's environment (see the module comment). @throws InvalidConfigurationError */
export function readRotationEnvironment(environment: Environment = process.env): RotationEnvironment {
  const config = readConfiguration(environment, RULES);
  const { MIN_OVERLAP_SECONDS: min, MAX_OVERLAP_SECONDS: max, DEFAULT_OVERLAP_SECONDS: overlap } = config;
  requireThat(min <= max, 'MIN_OVERLAP_SECONDS', 'at most MAX_OVERLAP_SECONDS');
  requireThat(min <= overlap && overlap <= max, 'DEFAULT_OVERLAP_SECONDS', 'between MIN_OVERLAP_SECONDS and MAX_OVERLAP_SECONDS');
  // A lock younger than the longest overlap could be taken over while its rotation waits (docs/design.md invariant 4).
  requireThat(config.LOCK_TTL_SECONDS > max, 'LOCK_TTL_SECONDS', 'greater than MAX_OVERLAP_SECONDS');
  requireThat(config.REMINDER_INTERVAL_SECONDS >= 2 * config.USAGE_CHECK_LEAD_SECONDS, 'REMINDER_INTERVAL_SECONDS', 'at least twice USAGE_CHECK_LEAD_SECONDS');
  const url = config.VERIFY_ENDPOINT_URL;
  return {
    tableName: config.TABLE_NAME,
    settings: {
      keyPrefix: config.KEY_PREFIX,
      defaultOverlapSeconds: overlap,
      overlapBounds: { minSeconds: min, maxSeconds: max },
      lockTtlSeconds: config.LOCK_TTL_SECONDS,
      usageWindowSeconds: config.USAGE_WINDOW_SECONDS,
      reminderIntervalSeconds: config.REMINDER_INTERVAL_SECONDS,
      usageCheckLeadSeconds: config.USAGE_CHECK_LEAD_SECONDS,
      ...(url === undefined ? {} : { verifyEndpointUrl: url }),
      zombieWindowSeconds: config.ZOMBIE_WINDOW_SECONDS,
    },
  };
}
