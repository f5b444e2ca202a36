/**
 * The fleet page function's own configuration (lib/keyroll-fleet.ts sets it beside the rotation
 * environment): clients per page and the write rate the fleet paces to. Defaults and bounds are
 * the construct's; anything else is an InvalidConfigurationError naming the variable.
 */
import { decimal, optional, readConfiguration, type Environment } from '../../core/configuration';
import { DEFAULT_FLEET_WRITES_PER_SECOND, MAX_PAGE_SIZE, SECRETS_MANAGER_WRITES_PER_SECOND } from '../../core/fleet';

/** How a fleet page is cut and paced. */
export interface FleetPageSettings {
  /** Clients per Map run (the Map's items and results must fit the 256 KB state limit). */
  readonly pageSize: number;
  /** Secrets Manager writes per second the fleet may use (of the account's 50). */
  readonly writesPerSecond: number;
}

/** The construct's defaults: the largest page, 48 of the 50 writes per second. */
export const DEFAULT_FLEET_PAGE_SETTINGS: FleetPageSettings = { pageSize: MAX_PAGE_SIZE, writesPerSecond: DEFAULT_FLEET_WRITES_PER_SECOND };

const RULES = {
  FLEET_PAGE_SIZE: optional(`a whole number from 1 to ${MAX_PAGE_SIZE}`, decimal({ min: 1, max: MAX_PAGE_SIZE, integer: true }), DEFAULT_FLEET_PAGE_SETTINGS.pageSize),
  FLEET_WRITES_PER_SECOND: optional(
    `greater than 0 and at most ${SECRETS_MANAGER_WRITES_PER_SECOND} (Secrets Manager writes per second)`,
    decimal({ above: 0, max: SECRETS_MANAGER_WRITES_PER_SECOND }),
    DEFAULT_FLEET_PAGE_SETTINGS.writesPerSecond,
  ),
};

/** Reads and checks the fleet page settings (see the module comment). @throws InvalidConfigurationError */
export function readFleetPageEnvironment(environment: Environment = process.env): FleetPageSettings {
  const config = readConfiguration(environment, RULES);
  return { pageSize: config.FLEET_PAGE_SIZE, writesPerSecond: config.FLEET_WRITES_PER_SECOND };
}
