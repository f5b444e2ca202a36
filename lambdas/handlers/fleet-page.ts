/** Lambda entry point of the fleet rotation's page step; the logic lives in aws/fleet/fleet-page.ts. */
import { fleetPage, type FleetPageInput } from '../aws/fleet/fleet-page';
import { runtime, step } from './runtime';

const DEFAULT_PAGE_SIZE = 1000;

export const handler = step('fleetPage', (input: FleetPageInput) => {
  const deps = runtime();
  const pageSize = Number(process.env.FLEET_PAGE_SIZE ?? DEFAULT_PAGE_SIZE);
  return fleetPage({ keys: deps.keys, clock: deps.clock, pageSize: Number.isInteger(pageSize) && pageSize > 0 ? pageSize : DEFAULT_PAGE_SIZE }, input);
});
