/**
 * Test doubles for the client SDK (not a test file itself): a Secrets Manager stub that
 * answers GetSecretValue from a value the test sets, a scheduler driven by a ManualClock,
 * a logger that records every call, and a gate to hold a request in flight.
 */
import type { GetSecretValueCommand, GetSecretValueCommandOutput } from '@aws-sdk/client-secrets-manager';
import { generateApiKey, keyIdOf } from '../../lambdas/core/api-key';
import type { ManualClock } from '../../lambdas/core/clock';
import { serializeSecretValue, type SecretValue } from '../../lambdas/core/secret-value';
import type { ClientLogger } from '../../client/logger';
import type { SecretsManagerLike } from '../../client/secrets-manager';
import type { Scheduler } from '../../client/scheduler';

/** A fresh, well-formed key with its id. */
export function newSecretValue(prefix = 'krt'): SecretValue {
  const apiKey = generateApiKey(prefix);
  return { apiKey, keyId: keyIdOf(apiKey) };
}

/** A promise whose resolution the test controls. */
export class Gate {
  readonly promise: Promise<void>;
  open!: () => void;
  constructor() {
    this.promise = new Promise((resolve) => (this.open = resolve));
  }
}

/** An SDK-like error with the given name (as the SDK's service exceptions have). */
export function awsError(name: string, message = `${name} from the stub`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** Answers GetSecretValue with `value` (or `secretString`, or `failure`), recording each call. */
export class StubSecretsManager implements SecretsManagerLike {
  readonly calls: GetSecretValueCommand['input'][] = [];
  value: SecretValue;
  /** When set, sent as SecretString instead of `value`, even if undefined-like. */
  secretString: string | undefined | null = null;
  failure: Error | undefined;
  /** When set, each request waits for it before answering. */
  gate: Gate | undefined;
  versions = 1;

  constructor(value: SecretValue = newSecretValue()) {
    this.value = value;
  }

  /** Makes a new value current, as finishSecret would; returns it. */
  rotate(next: SecretValue = newSecretValue()): SecretValue {
    this.value = next;
    this.versions += 1;
    return next;
  }

  /** Answers with the state at the moment of the call, even when a gate holds the answer back. */
  async send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput> {
    this.calls.push(command.input);
    const failure = this.failure;
    const answer: GetSecretValueCommandOutput = {
      $metadata: {},
      Name: String(command.input.SecretId),
      VersionId: `v${this.versions}`,
      VersionStages: ['AWSCURRENT'],
      SecretString: this.secretString === null ? serializeSecretValue(this.value) : this.secretString,
    };
    if (this.gate) await this.gate.promise;
    if (failure) throw failure;
    return answer;
  }
}

/** Every call a logger received, with a flat text view for "no plaintext" assertions. */
export class RecordingLogger implements ClientLogger {
  readonly calls: { level: 'warn' | 'info'; message: string; attributes: Record<string, unknown>[] }[] = [];
  warn(message: string, ...attributes: Record<string, unknown>[]): void {
    this.calls.push({ level: 'warn', message, attributes });
  }
  info(message: string, ...attributes: Record<string, unknown>[]): void {
    this.calls.push({ level: 'info', message, attributes });
  }
  get warnings() {
    return this.calls.filter((c) => c.level === 'warn');
  }
  /** Everything logged, as one string. */
  text(): string {
    return JSON.stringify(this.calls);
  }
}

/** Everything an error exposes: name, message, stack, own properties, and the same for its cause chain. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push(current.name, current.message, current.stack ?? '', JSON.stringify(current), String(current));
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(JSON.stringify(current) ?? String(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

/** Lets pending promise callbacks (and chained awaits) run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A scheduler whose timers fire when the test advances the paired ManualClock. */
export class ManualScheduler implements Scheduler {
  #next = 0;
  readonly #timers = new Map<number, { dueMs: number; callback: () => void }>();
  constructor(readonly clock: ManualClock) {}

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = ++this.#next;
    this.#timers.set(id, { dueMs: this.clock.nowMs() + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Delays of the waiting timers from now. */
  pendingDelays(): number[] {
    return [...this.#timers.values()].map((t) => t.dueMs - this.clock.nowMs()).sort((a, b) => a - b);
  }

  /** Advances the clock by `ms`, firing due timers in order and letting their async work settle. */
  async advance(ms: number): Promise<void> {
    const target = this.clock.nowMs() + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.dueMs <= target).sort((a, b) => a[1].dueMs - b[1].dueMs)[0];
      if (!due) break;
      const [id, timer] = due;
      this.#timers.delete(id);
      if (timer.dueMs > this.clock.nowMs()) this.clock.advance(timer.dueMs - this.clock.nowMs());
      timer.callback();
      await settle();
    }
    if (target > this.clock.nowMs()) this.clock.advance(target - this.clock.nowMs());
    await settle();
  }
}
