/**
 * `rotate --local`: the rotation runs in this process instead of in Step Functions — the real
 * synthesized state machine in the local interpreter, the real step handlers, against the
 * emulator (moto) that AWS_ENDPOINT_URL names. For demos, rehearsals and tests only.
 *
 * Waits are compressed as in the rehearsal: the clock jumps to each Wait state's target,
 * so a 24-hour overlap passes at once (the timestamps written after such a jump lie in the
 * future). With `leaveInOverlap` the run ends where a deployed execution starts waiting out
 * the overlap (new key current, previous key RETIRING, lock held), and a stand-in execution
 * with the rotation's name is started in the emulator's state machine, so `status` shows it
 * and `rollback` (or an emergency rotation) stops it as it would stop a real one.
 */
import type { OpsDeps } from '../operator/ops';
import type { RotationSettings } from '../lambdas/aws/rotation/context';
import type { Clock } from '../lambdas/core/clock';
import type { RotationRequest } from '../lambdas/core/rotation-request';
import { logger } from '../lambdas/handlers/runtime';
import { LocalRotationRunner, type LocalRotationResult } from './local-rotation-runner';
import { RotationStates } from '../lib/rotation-definition';
import { resolveWorkflow, synthesizeKeyRoll, type SynthesizedKeyRoll, type SynthesizedWorkflow } from './synthesized-workflow';
import { EnvironmentError } from '../operator/cli/errors';
import type { Session } from '../operator/cli/session';
import type { LocalRotation, LocalRunOutcome } from '../operator/cli/context';

/** The construct's defaults for what the stack does not export (lib/keyroll-rotation.ts). */
const DEFAULTS = { defaultOverlapSeconds: 24 * 3600, usageWindowSeconds: 3600, reminderIntervalSeconds: 6 * 3600, usageCheckLeadSeconds: 300 } as const;

/**
 * The wall clock plus the simulated time skipped so far: steps keep their real order and
 * spacing (audit entries of one run do not share a timestamp), and a Wait jumps ahead.
 */
export class CompressedClock implements Clock {
  private skippedMs = 0;
  nowMs(): number {
    return Date.now() + this.skippedMs;
  }
  /** Jumps to `targetMs` if it lies ahead. */
  advanceTo(targetMs: number): void {
    const now = this.nowMs();
    if (targetMs > now) this.skippedMs += targetMs - now;
  }
  get simulatedMs(): number {
    return this.skippedMs;
  }
}

let synthesized: SynthesizedKeyRoll | undefined;

/** The stack synthesized once per process (a few seconds); shared with the local environment. */
export function synth(): SynthesizedKeyRoll {
  return (synthesized ??= synthesizeKeyRoll());
}

/** Name of the end state that {@link endingInOverlap} adds. */
export const LEFT_IN_OVERLAP = 'LeftInOverlap';

/**
 * A copy of `workflow` that ends where a deployed execution starts waiting out the overlap:
 * AfterRotated's non-emergency branch (the usage checks, the overlap wait, retirement and the
 * lock release) is replaced by a Succeed state. Every step up to there is the real one, and
 * what is left undone is what the stand-in execution represents: nothing keeps running here.
 */
export function endingInOverlap(workflow: SynthesizedWorkflow): SynthesizedWorkflow {
  const definition = JSON.parse(JSON.stringify(workflow.definition)) as { States: Record<string, Record<string, unknown>> };
  const choice = definition.States[RotationStates.AFTER_ROTATED];
  if (choice?.Type !== 'Choice' || choice.Default !== RotationStates.CHECK_USAGE) {
    throw new Error(`The synthesized definition no longer has ${RotationStates.AFTER_ROTATED} → ${RotationStates.CHECK_USAGE}; --leave-in-overlap needs updating.`);
  }
  choice.Default = LEFT_IN_OVERLAP;
  definition.States[LEFT_IN_OVERLAP] = { Type: 'Succeed', Comment: 'keyroll rotate --local --leave-in-overlap: the execution would wait out the overlap here' };
  // States only reachable from the replaced branch go, so the definition stays valid.
  const reachable = new Set<string>();
  const visit = (name: string | undefined) => {
    if (!name || reachable.has(name) || !definition.States[name]) return;
    reachable.add(name);
    const state = definition.States[name];
    visit(state.Next as string | undefined);
    visit(state.Default as string | undefined);
    for (const choice of (state.Choices as { Next?: string }[] | undefined) ?? []) visit(choice.Next);
    for (const handler of (state.Catch as { Next?: string }[] | undefined) ?? []) visit(handler.Next);
  };
  visit((definition as unknown as { StartAt: string }).StartAt);
  for (const name of Object.keys(definition.States)) if (!reachable.has(name)) delete definition.States[name];
  return { ...workflow, definition };
}

/** Refuses to run handlers in-process unless an emulator is configured. */
export function assertEmulator(env: NodeJS.ProcessEnv): void {
  if (!env.AWS_ENDPOINT_URL) {
    throw new EnvironmentError(
      '--local runs the rotation in this process and is for emulator demos only: set AWS_ENDPOINT_URL to the emulator (npm run keyroll:local-env prints the variables), or drop --local to start the rotation in Step Functions.',
    );
  }
}

/** Runs rotation `rotationId` locally. */
export async function runLocalRotation(session: Session, deps: OpsDeps, rotationId: string, request: RotationRequest, options: { readonly leaveInOverlap: boolean }): Promise<LocalRunOutcome> {
  assertEmulator(session.env);
  const { outputs } = await session.discover();
  if (!outputs.ClientTopicArn || !outputs.OpsTopicArn) throw new EnvironmentError('--local needs the stack outputs ClientTopicArn and OpsTopicArn.');
  // The handlers' step log lines would mix into the CLI's output.
  logger.setLogLevel('SILENT');
  const resolved = resolveWorkflow(synth(), { tableName: outputs.TableName, clientTopicArn: outputs.ClientTopicArn, opsTopicArn: outputs.OpsTopicArn });
  const workflow = options.leaveInOverlap ? endingInOverlap(resolved) : resolved;
  const { overlapBounds, keyPrefix } = deps.settings;
  const defaultOverlap = Number(outputs.DefaultOverlapSeconds ?? DEFAULTS.defaultOverlapSeconds);
  const settings: RotationSettings = {
    keyPrefix,
    defaultOverlapSeconds: Number.isInteger(defaultOverlap) && defaultOverlap > 0 ? defaultOverlap : DEFAULTS.defaultOverlapSeconds,
    overlapBounds,
    lockTtlSeconds: overlapBounds.maxSeconds + 2 * 3600,
    usageWindowSeconds: DEFAULTS.usageWindowSeconds,
    reminderIntervalSeconds: DEFAULTS.reminderIntervalSeconds,
    usageCheckLeadSeconds: DEFAULTS.usageCheckLeadSeconds,
    ...(deps.settings.zombieWindowSeconds !== undefined ? { zombieWindowSeconds: deps.settings.zombieWindowSeconds } : {}),
  };
  const startMs = Date.now();
  const clock = new CompressedClock();
  const runner = new LocalRotationRunner(workflow, { secrets: deps.secrets, keys: deps.keys, clock, settings, executions: deps.executions });

  const waitUntil = async (targetMs: number): Promise<void> => clock.advanceTo(targetMs);
  const result: LocalRotationResult = await runner.run(request, rotationId, waitUntil);
  const simulatedSeconds = Math.round(clock.simulatedMs / 1000);
  const wallMs = Date.now() - startMs;
  if (options.leaveInOverlap && result.status === 'SUCCEEDED') {
    // Through the operator API's adapter: a name already used (a reused --rotation-id) is not an error.
    const standIn = await deps.executions.start(rotationId, request);
    return { status: 'IN_OVERLAP', simulatedSeconds, wallMs, standInExecutionArn: standIn.executionArn };
  }
  return { status: result.status, ...(result.error ? { error: result.error } : {}), ...(result.cause ? { cause: result.cause } : {}), simulatedSeconds, wallMs };
}

/** `rotate --local` as the checkout's `keyroll` (bin/keyroll.ts) provides it. */
export const localRotation: LocalRotation = { assertEmulator, run: runLocalRotation };
