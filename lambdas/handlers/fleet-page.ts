/** Lambda entry point of the fleet rotation's page step; the logic lives in aws/fleet/fleet-page.ts. */
import { fleetPage, type FleetPageInput } from '../aws/fleet/fleet-page';
import { DEFAULT_FLEET_PAGE_SETTINGS, readFleetPageEnvironment, type FleetPageSettings } from '../aws/fleet/fleet-page-environment';
import type { RotationDeps } from '../aws/rotation/context';
import { systemClock } from '../core/clock';
import { onFirstCall, rotationDepsFromEnvironment, step } from './runtime';

/** The fleet page step over `deps` and `settings`, with its log lines; start times are paced on real time. */
export function createHandler(deps: Pick<RotationDeps, 'keys' | 'clock'>, settings: FleetPageSettings = DEFAULT_FLEET_PAGE_SETTINGS) {
  const pageDeps = { keys: deps.keys, clock: deps.clock, pacingClock: systemClock, pageSize: settings.pageSize, writesPerSecond: settings.writesPerSecond };
  return step('fleetPage', (input: FleetPageInput) => fleetPage(pageDeps, input));
}

export const handler = onFirstCall('fleetPage', () => createHandler(rotationDepsFromEnvironment(), readFleetPageEnvironment()));
