/**
 * The pickup function's configuration, read from the environment the stack sets: TABLE_NAME
 * and PICKUP_AUDIENCE (the pickup URL exactly, which every assertion's `aud` must equal). A
 * missing or bad value is an InvalidConfigurationError naming the variable.
 */
import { TABLE_NAME } from '../../core/common-variables';
import { readConfiguration, required, satisfying, type Environment } from '../../core/configuration';

/** What the pickup function is configured with. */
export interface PickupEnvironment {
  readonly tableName: string;
  readonly audience: string;
}

/** An https URL without userinfo, query or fragment: what a pickup URL is. */
export function isPickupAudience(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.username === '' && url.password === '' && url.search === '' && url.hash === '' && url.href === value;
}

const RULES = {
  TABLE_NAME,
  PICKUP_AUDIENCE: required('the pickup URL (https, no query, fragment or userinfo, in canonical form)', satisfying(isPickupAudience)),
};

/** Reads and checks the pickup function's environment. @throws InvalidConfigurationError */
export function readPickupEnvironment(environment: Environment = process.env): PickupEnvironment {
  const config = readConfiguration(environment, RULES);
  return { tableName: config.TABLE_NAME, audience: config.PICKUP_AUDIENCE };
}
