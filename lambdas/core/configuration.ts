/**
 * The one reader of every function's configuration (the environment the stack sets). Each
 * variable has a rule: a valibot schema over its text, what a valid value is, and whether it
 * is required or has a default. A required variable that is not set, or a value its schema
 * refuses (malformed, negative, out of bounds), is an InvalidConfigurationError naming the
 * variable, thrown when the handler is built, before anything is read or written. An unset
 * optional variable takes its default; a set value is never replaced by it.
 *
 * "Not set" is absent or empty: Lambda keeps an empty value, and every reader before this one
 * treated it as absent.
 */
import * as v from 'valibot';
import { InvalidConfigurationError } from './errors';

/** The environment as read: `process.env`, or a plain object in tests. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** How one variable is read. */
export interface Variable<T> {
  /** The text's schema: refusing it is the InvalidConfigurationError. */
  readonly schema: v.GenericSchema<string, T>;
  /** What a valid value is, for the error: `a non-negative number of milliseconds`. */
  readonly mustBe: string;
  /** The value when not set; absent: the variable is required. */
  readonly unset?: { readonly value: T };
}

/** A variable that must be set. */
export function required<T>(mustBe: string, schema: v.GenericSchema<string, T>): Variable<T> {
  return { schema, mustBe };
}

/** A variable that may be unset: then `fallback` (undefined when none is given). */
export function optional<T>(mustBe: string, schema: v.GenericSchema<string, T>, fallback: T): Variable<T>;
export function optional<T>(mustBe: string, schema: v.GenericSchema<string, T>): Variable<T | undefined>;
export function optional<T>(mustBe: string, schema: v.GenericSchema<string, T>, fallback?: T): Variable<T | undefined> {
  return { schema, mustBe, unset: { value: fallback } };
}

/** Bounds of a {@link decimal}; all inclusive except `above`. */
export interface DecimalBounds {
  readonly min?: number;
  /** Exclusive lower bound, e.g. 0 for "greater than 0". */
  readonly above?: number;
  readonly max?: number;
  /** Whole numbers only (seconds the stack writes with Duration.toSeconds()). */
  readonly integer?: boolean;
}

// Plain decimal text: no sign (so never negative), no exponent, no hex, no Infinity.
const DECIMAL = /^\d+(\.\d+)?$/;
const INTEGER = /^\d+$/;

/** A non-negative decimal number within `bounds`. */
export function decimal(bounds: DecimalBounds = {}): v.GenericSchema<string, number> {
  const { min = 0, above, max = Number.MAX_SAFE_INTEGER, integer = false } = bounds;
  return v.pipe(
    v.string(),
    v.regex(integer ? INTEGER : DECIMAL),
    v.transform(Number),
    v.check((n) => n >= min && (above === undefined || n > above) && n <= max),
  );
}

/** Text matching `pattern`. */
export function text(pattern: RegExp): v.GenericSchema<string, string> {
  return v.pipe(v.string(), v.regex(pattern));
}

/** Text that `test` accepts (a parser's verdict, e.g. a URL's rules). */
export function satisfying(test: (value: string) => boolean): v.GenericSchema<string, string> {
  return v.pipe(v.string(), v.check(test));
}

/** One of `values`, exactly. */
export function oneOf<T extends string>(values: readonly T[]): v.GenericSchema<string, T> {
  return v.pipe(
    v.string(),
    v.check((s) => (values as readonly string[]).includes(s)),
    v.transform((s) => s as T),
  );
}

/** Reads one variable by its rule (see the module comment). @throws InvalidConfigurationError */
export function readVariable<T>(env: Environment, name: string, rule: Variable<T>): T {
  const raw = env[name];
  if (raw === undefined || raw === '') {
    if (!rule.unset) throw new InvalidConfigurationError(name, `is not set; it must be ${rule.mustBe}`);
    return rule.unset.value;
  }
  const parsed = v.safeParse(rule.schema, raw);
  if (!parsed.success) throw new InvalidConfigurationError(name, `must be ${rule.mustBe}`);
  return parsed.output;
}

/** The values of a set of rules, by variable name. */
export type Configuration<R extends Record<string, Variable<unknown>>> = { readonly [K in keyof R]: R[K] extends Variable<infer T> ? T : never };

/** Reads every variable of `rules` (in order: the first bad one is the error). @throws InvalidConfigurationError */
export function readConfiguration<R extends Record<string, Variable<unknown>>>(env: Environment, rules: R): Configuration<R> {
  const values: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(rules)) values[name] = readVariable(env, name, rule);
  return values as Configuration<R>;
}

/** A rule between variables (e.g. MIN ≤ DEFAULT ≤ MAX): when `holds` is false, `name` is the error. @throws InvalidConfigurationError */
export function requireThat(holds: boolean, name: string, mustBe: string): void {
  if (!holds) throw new InvalidConfigurationError(name, `must be ${mustBe}`);
}
