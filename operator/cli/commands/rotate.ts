/**
 * `keyroll rotate <clientId>`: start a manual or emergency rotation (StartExecution, the
 * execution name a fresh rotation id), optionally wait for it; or, with --local, run it in
 * this process against the emulator.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { startRotation, type OpsDeps } from '../../ops';
import { assertRotationIdUsable } from '../../../lambdas/aws/rotation/rotation-id-guard';
import { ClientOffboardedError, RotationInProgressError } from '../../../lambdas/core/errors';
import type { ClientRecord } from '../../../lambdas/core/model';
import { parseRotationRequest, RotationMode, type RotationRequest } from '../../../lambdas/core/rotation-request';
import { checkClientId, checkRotationId, checkText, formatDuration, parseDurationSeconds } from '../arguments';
import type { CommandContext, RunState } from '../context';
import { EnvironmentError, ExitCode, UsageError } from '../errors';
import { describeRotation } from '../executions';
import { fields, timestamp } from '../output';
import { rotationProgress } from '../progress';

interface RotateOptions {
  reason: string;
  emergency?: boolean;
  revokeImmediately?: boolean;
  overlap?: string;
  rotationId?: string;
  wait?: boolean;
  waitTimeout: string;
  local?: boolean;
  leaveInOverlap?: boolean;
}

/**
 * How a rotation the CLI started (or ran) stands when the command ends: STARTED,
 * ALREADY_STARTED, IN_OVERLAP, WAIT_TIMED_OUT, or the execution's own status (SUCCEEDED,
 * FAILED, ABORTED, TIMED_OUT, ...).
 */
type RotationStatus = string;

const SUCCESS: ReadonlySet<string> = new Set(['STARTED', 'ALREADY_STARTED', 'IN_OVERLAP', 'SUCCEEDED']);

export function registerRotateCommand(program: Command, state: RunState): void {
  program
    .command('rotate')
    .description("Rotate a client's key now: a manual rotation with an overlap, or an emergency rotation that revokes every other key of the client.")
    .argument('<clientId>', 'client id')
    .requiredOption('--reason <text>', 'why (audit trail, and the ops record of the incident)')
    .option('--emergency', 'incident mode: no overlap; every other key of the client is revoked once the new key is current; a rotation in flight is preempted')
    .option('--revoke-immediately', 'with --emergency: revoke every existing key before the new key is even created (the client fails until it re-reads its secret)')
    .option('--overlap <duration>', "how long the previous key keeps working, e.g. 90m, 24h, 7d (not with --emergency; default: the client's policy, else the deployment default)")
    .option(
      '--rotation-id <id>',
      "rotation id to use (32-64 of [A-Za-z0-9_-]; default: a fresh one). Reusing one never runs it twice: a rotation that still holds the client's lock and has not finished is resumed; one that finished, is in its overlap, was rolled back or failed is reported (RotationAlreadyRan) and nothing changes; an id of an existing version of the client's secret is refused (RotationIdCollision). Deployed, an execution that exists under the id is reported, not started again",
    )
    .option('--wait', 'wait until the new key is current (and, for an emergency, the execution has ended), showing progress on stderr')
    .option('--wait-timeout <duration>', 'give up waiting after this long (the rotation goes on)', '15m')
    .option(
      '--local',
      'EMULATOR DEMOS ONLY: run the execution in this process (the synthesized state machine and the real handlers against AWS_ENDPOINT_URL) instead of Step Functions; waits are compressed on a simulated clock. Also KEYROLL_LOCAL=1',
    )
    .option('--leave-in-overlap', 'with --local: stop where a deployed execution waits out the overlap (new key current, previous key RETIRING, lock held), so status/rollback can be rehearsed')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  keyroll rotate acme-payments --reason "quarterly rotation" --overlap 24h --wait',
        '  keyroll rotate acme-payments --emergency --reason "INC-4711 key in a public gist" --wait',
        '  keyroll rotate acme-payments --emergency --revoke-immediately --reason "INC-4711 active abuse"',
        '',
        'Exit codes: 0 started (or, with --wait, current/succeeded); 1 refused (RotationInProgress, UnknownClient,',
        'ClientOffboarded, RotationAlreadyRan, RotationIdCollision, NativeRotationEnabled) or the rotation failed;',
        '2 bad arguments (nothing started); 3 stack/credentials/emulator problem.',
      ].join('\n'),
    )
    .action(async (rawId: string, options: RotateOptions, command: Command) => {
      const clientId = checkClientId(rawId);
      const reason = checkText(options.reason, '--reason', 512);
      const emergency = Boolean(options.emergency);
      if (options.revokeImmediately && !emergency) throw new UsageError('--revoke-immediately needs --emergency.', ['revoke-immediately: without --emergency']);
      if (options.overlap !== undefined && emergency) throw new UsageError('--overlap cannot be used with --emergency: an emergency rotation has no overlap.', ['overlap: with --emergency']);
      const overlapSeconds = options.overlap === undefined ? undefined : parseDurationSeconds(options.overlap, '--overlap');
      const rotationIdGiven = options.rotationId === undefined ? undefined : checkRotationId(options.rotationId);
      const waitTimeoutSeconds = parseDurationSeconds(options.waitTimeout, '--wait-timeout');
      const local = Boolean(options.local) || state.env.KEYROLL_LOCAL === '1';
      if (options.leaveInOverlap && !local) throw new UsageError('--leave-in-overlap needs --local.', ['leave-in-overlap: without --local']);
      if (options.leaveInOverlap && emergency) throw new UsageError('--leave-in-overlap cannot be used with --emergency: an emergency rotation has no overlap.', ['leave-in-overlap: with --emergency']);
      if (local && options.wait) throw new UsageError('--wait is implied by --local (the run ends when the rotation does).', ['wait: with --local']);
      if (local && !state.localRotation) {
        throw new EnvironmentError(
          '--local runs the synthesized state machine in this process and needs a KeyRoll checkout (npm run -s keyroll -- rotate ... --local); this keyroll starts rotations in Step Functions only.',
        );
      }
      if (local) state.localRotation?.assertEmulator(state.env);

      const context = state.context(command);
      const { output, session } = context;
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const mode = emergency ? RotationMode.EMERGENCY : RotationMode.MANUAL;
      // The same schema the state machine applies, against this deployment's bounds.
      const request = parseRotationRequest(
        { clientId, mode, reason, requestedBy: actor, ...(overlapSeconds !== undefined ? { overlapSeconds } : {}), ...(options.revokeImmediately ? { revokeImmediately: true } : {}) },
        deps.settings.overlapBounds,
      );
      const rotationId = rotationIdGiven ?? `${mode}-${randomUUID()}`;
      const client = await deps.keys.requireClient(clientId);
      if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
      checkLock(context, client, rotationId, emergency);

      if (local) {
        // The state machine's first step makes the same check; made here too, the run is reported
        // before anything runs (no stand-in execution, no failed run in the output).
        if (rotationIdGiven) await assertRotationIdUsable(deps, client, rotationId);
        output.note(`Running rotation ${rotationId} locally against ${state.env.AWS_ENDPOINT_URL} (emulator; waits compressed)...`);
        const outcome = await state.localRotation!.run(session, deps, rotationId, request, { leaveInOverlap: Boolean(options.leaveInOverlap) });
        await report(context, deps, request, rotationId, {
          status: outcome.status,
          local: true,
          ...(outcome.error ? { error: outcome.error, cause: outcome.cause } : {}),
          ...(outcome.standInExecutionArn ? { executionArn: outcome.standInExecutionArn } : {}),
          simulatedSeconds: outcome.simulatedSeconds,
          wallMs: outcome.wallMs,
        });
        return;
      }

      if (rotationIdGiven) {
        // A rotation id reused on purpose: say what exists under it rather than start anything.
        const existing = await describeRotation(session.clients().stepFunctions, deps.executions.stateMachineArn, rotationId);
        if (existing.status !== 'NOT_FOUND') {
          await report(context, deps, request, rotationId, { status: 'ALREADY_STARTED', executionArn: existing.executionArn, local: false, cause: `its execution is ${existing.status}` });
          return;
        }
        // No execution under it (a local run, or history expired): an id that ran is reported, not started.
        await assertRotationIdUsable(deps, client, rotationId);
      }
      const started = await startRotation(deps, { ...request, rotationId });
      if (!options.wait) {
        await report(context, deps, request, rotationId, { status: started.started ? 'STARTED' : 'ALREADY_STARTED', executionArn: started.executionArn, local: false });
        return;
      }
      output.note(`Started rotation ${rotationId}; waiting (up to ${formatDuration(waitTimeoutSeconds)})...`);
      const waited = await waitForRotation(context, deps, request, rotationId, waitTimeoutSeconds * 1000);
      await report(context, deps, request, rotationId, { ...waited, executionArn: started.executionArn, local: false });
    });
}

/** One rotation per client: refused before anything starts, unless an emergency preempts it. */
function checkLock({ output, nowMs }: CommandContext, client: ClientRecord, rotationId: string, emergency: boolean): void {
  const lock = client.lock;
  if (!lock || lock.rotationId === rotationId || Date.parse(lock.expiresAt) <= nowMs()) return;
  if (!emergency) throw new RotationInProgressError(client.clientId, lock.rotationId);
  output.note(`Emergency: rotation ${lock.rotationId} holds the lock of ${client.clientId}; it will be stopped (preempted) and cleaned up.`);
}

interface Waited {
  readonly status: RotationStatus;
  readonly error?: string;
  readonly cause?: string;
}

/** Polls DescribeExecution and the client record until the new key is current (normal) or the execution ended. */
async function waitForRotation(context: CommandContext, deps: OpsDeps, request: RotationRequest, rotationId: string, timeoutMs: number): Promise<Waited> {
  const { output, session, state } = context;
  const sfn = session.clients().stepFunctions;
  const pollMs = Math.max(50, Number(state.env.KEYROLL_POLL_INTERVAL_MS ?? 3000) || 3000);
  const progress = rotationProgress(output, rotationId.slice(0, 24));
  const deadline = Date.now() + timeoutMs;
  const emergency = request.mode === RotationMode.EMERGENCY;
  try {
    for (;;) {
      const [execution, client] = await Promise.all([describeRotation(sfn, deps.executions.stateMachineArn, rotationId), deps.keys.getClient(request.clientId)]);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- false positive: tsc rejects the line without it
      const record = client as (ClientRecord & { pendingRotationId?: string }) | undefined;
      const current = record?.currentVersionId === rotationId || record?.lastRotation?.rotationId === rotationId;
      const stage = current ? 3 : record?.pendingRotationId === rotationId ? 2 : record?.lock?.rotationId === rotationId ? 1 : 0;
      progress.update(stage, execution.status === 'NOT_FOUND' ? undefined : execution.status);
      if (execution.status !== 'RUNNING' && execution.status !== 'NOT_FOUND') {
        if (execution.status === 'SUCCEEDED') progress.update(4);
        return { status: execution.status, ...(execution.error ? { error: execution.error } : {}), ...(execution.cause ? { cause: execution.cause } : {}) };
      }
      if (current && !emergency) return { status: 'IN_OVERLAP' };
      if (Date.now() >= deadline) return { status: 'WAIT_TIMED_OUT', cause: `still ${execution.status} after ${formatDuration(timeoutMs / 1000)}; the rotation goes on (keyroll status ${request.clientId})` };
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    progress.stop();
  }
}

/** Prints where the rotation stands, with the client's keys as they are now, and sets the exit code. */
async function report(
  { output, state }: CommandContext,
  deps: OpsDeps,
  request: RotationRequest,
  rotationId: string,
  outcome: Waited & { executionArn?: string; local: boolean; simulatedSeconds?: number; wallMs?: number },
): Promise<void> {
  const client = await deps.keys.getClient(request.clientId);
  const last = client?.lastRotation?.rotationId === rotationId ? client.lastRotation : undefined;
  const newKeyCurrent = client?.currentVersionId === rotationId;
  const data = {
    rotationId,
    clientId: request.clientId,
    mode: request.mode,
    ...(request.revokeImmediately ? { revokeImmediately: true } : {}),
    status: outcome.status,
    local: outcome.local,
    ...(outcome.executionArn ? { executionArn: outcome.executionArn } : {}),
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.cause ? { cause: outcome.cause } : {}),
    requestedBy: request.requestedBy,
    ...(client ? { currentKeyId: client.currentKeyId, newKeyCurrent } : {}),
    ...(last
      ? {
          previousKeyId: last.previousKeyId,
          ...(last.previousKeyNotAfter ? { previousKeyNotAfter: last.previousKeyNotAfter } : {}),
          revokedKeyIds: last.revokedKeyIds,
          ...(last.preemptedRotationId ? { preemptedRotationId: last.preemptedRotationId } : {}),
        }
      : {}),
    ...(outcome.simulatedSeconds !== undefined ? { simulatedSeconds: outcome.simulatedSeconds, wallMs: outcome.wallMs } : {}),
  };
  if (!SUCCESS.has(outcome.status)) state.exitCode = ExitCode.REFUSED;
  output.result(data, () => {
    const headline: Record<string, string> = {
      STARTED: `Started ${request.mode} rotation ${rotationId} of ${request.clientId}.`,
      ALREADY_STARTED: `Rotation ${rotationId} already exists; it was not started again (follow it with keyroll status ${request.clientId}).`,
      IN_OVERLAP: `Rotation ${rotationId}: the new key is current; the previous key keeps working until its not-after (overlap).`,
      SUCCEEDED: `Rotation ${rotationId} SUCCEEDED.`,
    };
    return [
      headline[outcome.status] ?? `Rotation ${rotationId} ${outcome.status}${outcome.error ? `: ${outcome.error}` : ''}.`,
      fields([
        ['mode', `${request.mode}${request.revokeImmediately ? ' (revoke immediately)' : ''}`],
        ['where', outcome.local ? `local run (emulator; ${formatDuration(outcome.simulatedSeconds ?? 0)} simulated in ${outcome.wallMs} ms)` : 'Step Functions'],
        ['execution', outcome.executionArn],
        ['cause', outcome.cause],
        ['current key', client ? `${client.currentKeyId}${newKeyCurrent ? ' (new)' : ''}` : undefined],
        ['previous key', last ? `${last.previousKeyId}${last.previousKeyNotAfter ? ` valid until ${timestamp(last.previousKeyNotAfter)}` : ''}` : undefined],
        ['revoked', last?.revokedKeyIds.length ? last.revokedKeyIds.join(', ') : undefined],
        ['preempted', last?.preemptedRotationId],
        ['next', outcome.status === 'STARTED' ? `keyroll status ${request.clientId}` : undefined],
      ]),
    ].join('\n');
  });
}
