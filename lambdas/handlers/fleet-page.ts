/** Lambda entry point of the fleet rotation's page step; the logic lives in aws/fleet/fleet-page.ts. */
import { fleetPage, type FleetPageInput } from '../aws/fleet/fleet-page';
import { systemClock } from '../core/clock';
import { MAX_PAGE_SIZE } from '../core/fleet';
import { runtime, step } from './runtime';

const DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE;
/** Of the account's 50 Secrets Manager writes per second, what a fleet uses by default (the rest for onboarding and other rotations). */
const DEFAULT_WRITES_PER_SECOND = 48;

function positiveNumberEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

export const handler = step('fleetPage', (input: FleetPageInput) => {
  const deps = runtime();
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.floor(positiveNumberEnv('FLEET_PAGE_SIZE', DEFAULT_PAGE_SIZE)));
  const writesPerSecond = positiveNumberEnv('FLEET_WRITES_PER_SECOND', DEFAULT_WRITES_PER_SECOND);
  return fleetPage({ keys: deps.keys, clock: deps.clock, pacingClock: systemClock, pageSize, writesPerSecond }, input);
});
