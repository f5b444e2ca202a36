/** The rehearsal's options, their defaults and bounds, checked with named errors. */
import * as v from 'valibot';

/** What a rehearsal runs. */
export interface RehearsalOptions {
  /** KeyRoll clients (tenants) provisioned. */
  readonly clients: number;
  /** Simulated API consumers, spread over the clients; the last one never updates its key. */
  readonly callers: number;
  /** Rotations per client. */
  readonly rotations: number;
  /** Make the last rotation of the first client an emergency rotation. */
  readonly emergency: boolean;
  /** Simulated length of the run in minutes (each client's rotations are spread over it). */
  readonly durationMinutes: number;
  /** Seeds the callers' propagation delays. */
  readonly seed: number;
  /** Add the consumers KeyRoll delivers to: one outside AWS (pickup + webhook), one in another account. */
  readonly delivery: boolean;
  /** Simulated time between two requests of a caller. */
  readonly tickMs: number;
}

/** The smallest simulated time per rotation: the max overlap plus room to start and retire. */
export const MIN_MINUTES_PER_ROTATION = 210;

/** Defaults: a run that finishes well within a minute of wall time on 2 cores. */
export const DEFAULT_REHEARSAL_OPTIONS: RehearsalOptions = {
  clients: 3,
  callers: 7,
  rotations: 2,
  emergency: true,
  durationMinutes: 2 * MIN_MINUTES_PER_ROTATION,
  seed: 1,
  delivery: true,
  tickMs: 60_000,
};

/** Options out of bounds. */
export class InvalidRehearsalOptionsError extends Error {
  override readonly name = 'InvalidRehearsalOptions';
}

const integer = (min: number, max: number, what: string) =>
  v.pipe(v.number(`${what} must be a number`), v.integer(`${what} must be a whole number`), v.minValue(min, `${what} must be at least ${min}`), v.maxValue(max, `${what} must be at most ${max}`));

const SCHEMA = v.object({
  clients: integer(1, 20, 'clients'),
  callers: integer(2, 60, 'callers'),
  rotations: integer(1, 10, 'rotations'),
  emergency: v.boolean('emergency must be true or false'),
  durationMinutes: integer(MIN_MINUTES_PER_ROTATION, 7 * 24 * 60, 'duration (minutes)'),
  seed: integer(0, 2 ** 31 - 1, 'seed'),
  delivery: v.boolean('delivery must be true or false'),
  tickMs: integer(10_000, 600_000, 'tick (ms)'),
});

/** Merges `partial` over the defaults and checks the result. */
export function resolveRehearsalOptions(partial: Partial<RehearsalOptions>): RehearsalOptions {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const merged = { ...DEFAULT_REHEARSAL_OPTIONS, ...defined };
  if (partial.durationMinutes === undefined) merged.durationMinutes = merged.rotations * MIN_MINUTES_PER_ROTATION;
  const result = v.safeParse(SCHEMA, merged);
  if (!result.success) throw new InvalidRehearsalOptionsError(result.issues.map((issue) => issue.message).join('; '));
  const options = result.output;
  if (options.durationMinutes < options.rotations * MIN_MINUTES_PER_ROTATION) {
    throw new InvalidRehearsalOptionsError(
      `duration must give each rotation at least ${MIN_MINUTES_PER_ROTATION} simulated minutes: at least ${options.rotations * MIN_MINUTES_PER_ROTATION} for ${options.rotations} rotations.`,
    );
  }
  if (options.callers < options.clients) throw new InvalidRehearsalOptionsError(`callers (${options.callers}) must be at least clients (${options.clients}), so every client has traffic.`);
  return options;
}
