/**
 * Who the local emulation is acting as. On AWS every call is signed with a role: a Lambda
 * function's calls with its execution role, a state's direct integration with its state
 * machine's role. Locally everything runs in one process with one set of credentials, so the
 * runners say, for the code they run, which function or state it stands for; a harness (the
 * tests' IAM check) reads it to judge each call against that role's policy. Calls the
 * emulation makes without the SDK (a task token answered in-process, a Map item started
 * locally) are announced through {@link authorizeLocalCall} so they can be judged too.
 * Nothing here changes what runs when no harness listens.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A state of one of KeyRoll's state machines, or one of its Lambda functions invoked on its own. */
export type LocalPrincipal = { readonly machine: 'rotation' | 'fleet'; readonly state: string } | { readonly function: 'authorizer' | 'scheduledStart' | 'fleetPage' | (string & {}) };

/** An AWS call made without the SDK, as the SDK would name it. */
export interface LocalAwsCall {
  /** The SDK client's name without `Client` (`SFN`). */
  readonly service: string;
  /** The command without `Command` (`SendTaskSuccess`). */
  readonly command: string;
  readonly input: Record<string, unknown>;
}

const acting = new AsyncLocalStorage<LocalPrincipal>();

/** Runs `body` as `principal`: the AWS calls it makes are that function's or state's. */
export function actAs<T>(principal: LocalPrincipal, body: () => T): T {
  return acting.run(principal, body);
}

/** Runs `body` as no principal: code a harness injects into a running step (a test's hook) is not the step's. */
export function asNoPrincipal<T>(body: () => T): T {
  return acting.exit(body);
}

/** Who the current code acts as, if a runner said so. */
export function currentPrincipal(): LocalPrincipal | undefined {
  return acting.getStore();
}

type LocalCallListener = (call: LocalAwsCall, principal: LocalPrincipal | undefined) => Promise<void> | void;
let listener: LocalCallListener | undefined;

/** Sets (or, with undefined, removes) the one listener that sees the calls made without the SDK; it may throw to refuse one. */
export function onLocalAwsCall(next: LocalCallListener | undefined): void {
  listener = next;
}

/** Announces a call the emulation makes without the SDK; rejects if the listener refuses it (as AWS would). */
export async function authorizeLocalCall(call: LocalAwsCall): Promise<void> {
  await listener?.(call, currentPrincipal());
}
