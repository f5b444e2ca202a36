/**
 * `keyroll rotate-fleet`: rotate every client, a tagged group or a list with one execution
 * of the fleet state machine (a Distributed Map paced to the Secrets Manager write quota;
 * lib/fleet-definition.ts). Optionally waits and prints the fleet's summary.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { ClientOffboardedError, NoClientsSelectedError } from '../../../lambdas/core/errors';
import { parseFleetRequest, type FleetNotice } from '../../../lambdas/core/fleet';
import { containsApiKey } from '../../../lambdas/core/key-material';
import { RotationMode } from '../../../lambdas/core/rotation-request';
import { checkClientId, checkText, formatDuration, parseDurationSeconds } from '../arguments';
import type { RunState } from '../context';
import { EnvironmentError, ExitCode, UsageError } from '../errors';
import { fields } from '../output';
import { readSessionHealth } from '../deployment-health';
import { healthText } from '../health-text';

interface FleetOptions {
  reason: string;
  all?: boolean;
  tag?: string;
  clients?: string;
  emergency?: boolean;
  revokeImmediately?: boolean;
  wait?: boolean;
  waitTimeout: string;
  fleetId?: string;
}

/** A fleet id is the fleet execution's name: at most 80 characters of the CloudWatch-safe alphabet, `fleet-` first (as the default `fleet-<uuid>`). */
const FLEET_ID_PATTERN = /^fleet-[A-Za-z0-9_-]{1,74}$/;

const POLL_MS = 5_000;

export function registerFleetCommand(program: Command, state: RunState): void {
  program
    .command('rotate-fleet')
    .description('Rotate many clients with one execution: every client (--all), a tagged group (--tag) or a list (--clients), paced to the Secrets Manager write quota.')
    .requiredOption('--reason <text>', 'why (audit trail of every rotation, and the fleet.finished ops notice)')
    .option('--all', 'every client that is not offboarded')
    .option('--tag <tag>', 'the clients onboarded with this tag')
    .option('--clients <ids>', 'a comma-separated list of client ids')
    .option('--emergency', 'incident mode for every client: no overlap, every other key revoked at finish, rotations in flight preempted')
    .option('--revoke-immediately', 'with --emergency: revoke every existing key of each client at its createSecret')
    .option('--wait', "wait for the fleet to finish and print its summary, the ops topic's alarms and the previous-key use (CloudWatch)")
    .option('--wait-timeout <duration>', 'give up waiting after this long (the fleet goes on)', '2h')
    .option('--fleet-id <id>', 'the fleet execution name, fleet-... (default: fleet-<uuid>); re-running with the same id and clients starts nothing new')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  keyroll rotate-fleet --all --emergency --reason "INC-5000 key store exposed" --wait',
        '  keyroll rotate-fleet --tag region:eu --reason "annual rotation"',
        '',
        'Exit codes: 0 started (with --wait: every client rotated); 1 the fleet failed or some clients were not',
        'rotated (FleetRotationIncomplete); 2 bad arguments (nothing started); 3 stack/credentials problem.',
      ].join('\n'),
    )
    .action(async (options: FleetOptions, command: Command) => {
      const reason = checkText(options.reason, '--reason', 512);
      const selectors = [options.all, options.tag, options.clients].filter((s) => s !== undefined);
      if (selectors.length !== 1) throw new UsageError('Give exactly one of --all, --tag <tag>, --clients <ids>.', ['selector: exactly one of all, tag, clients']);
      if (options.revokeImmediately && !options.emergency) throw new UsageError('--revoke-immediately needs --emergency.', ['revoke-immediately: without --emergency']);
      const clientIds = options.clients?.split(',').map((id) => checkClientId(id));
      if (options.fleetId !== undefined && (!FLEET_ID_PATTERN.test(options.fleetId) || containsApiKey(options.fleetId)))
        throw new UsageError('--fleet-id must be fleet- and 1-74 characters of [A-Za-z0-9_-], and not an API key.', ['fleet-id: fleet- and 1-74 characters of [A-Za-z0-9_-], not an API key']);
      const waitTimeoutSeconds = parseDurationSeconds(options.waitTimeout, '--wait-timeout');
      const context = state.context(command);
      const { output, session } = context;
      const actor = await session.actor();
      // The same schema the fleet's first step applies: bad input is refused here, before anything starts.
      const request = parseFleetRequest({
        mode: options.emergency ? RotationMode.EMERGENCY : RotationMode.MANUAL,
        reason,
        requestedBy: actor,
        ...(options.revokeImmediately ? { revokeImmediately: true } : {}),
        ...(options.all ? { all: true } : options.tag !== undefined ? { tag: options.tag } : { clientIds }),
      });
      // Refuse a selection that names nothing before starting anything: an unknown or offboarded
      // client in a list, or a tag (or a fleet) with no live client.
      const deps = await session.opsDeps();
      const { selector } = request;
      if ('clientIds' in selector) {
        for (const clientId of selector.clientIds) {
          const client = await deps.keys.requireClient(clientId);
          if (client.offboardedAt) throw new ClientOffboardedError(client.clientId, client.offboardedAt);
        }
      } else {
        const found = await deps.keys.listClientIds({ ...('tag' in selector ? { tag: selector.tag } : {}), limit: 1 });
        if (found.clientIds.length === 0) throw new NoClientsSelectedError('tag' in selector ? `tag '${selector.tag}'` : 'all');
      }
      const { outputs, source } = await session.discover();
      const fleetArn = (outputs as { FleetStateMachineArn?: string }).FleetStateMachineArn;
      if (!fleetArn) throw new EnvironmentError(`The stack outputs from ${source} have no FleetStateMachineArn: deploy a KeyRoll version with fleet rotation.`);
      const { mode, reason: why, requestedBy, revokeImmediately } = request;
      const name = options.fleetId ?? `fleet-${randomUUID()}`;
      // An explicit list never travels in the fleet's state (256 KiB per state): it is written to
      // the table under the fleet id first (idempotent for the same list) and named by count and digest.
      const selection = 'clientIds' in selector ? { listed: await deps.keys.fleetSelections().write(name, selector.clientIds) } : selector;
      const input = { mode, reason: why, requestedBy, ...(revokeImmediately ? { revokeImmediately } : {}), ...selection };
      const sfn = session.clients().stepFunctions;
      const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: fleetArn, name, input: JSON.stringify(input) }));
      if (!options.wait) {
        output.result({ fleetId: name, status: 'STARTED', executionArn: started.executionArn, ...input }, () =>
          [
            `Started fleet rotation ${name}.`,
            fields([
              ['execution', started.executionArn],
              ['clients', describeSelector(input)],
              ['mode', mode],
            ]),
          ].join('\n'),
        );
        return;
      }
      output.note(`Started fleet rotation ${name}; waiting (up to ${formatDuration(waitTimeoutSeconds)})...`);
      const deadline = Date.now() + waitTimeoutSeconds * 1000;
      for (;;) {
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
        if (described.status !== 'RUNNING') {
          const notice = described.output ? (JSON.parse(described.output) as FleetNotice) : undefined;
          // What to watch next: the alarms, and how many requests still use the previous keys now in their overlap.
          const { alarms, metrics } = await readSessionHealth(session, context.nowMs());
          const data = {
            fleetId: name,
            status: described.status,
            executionArn: started.executionArn,
            ...(notice ? { notice } : {}),
            ...(described.error ? { error: described.error, cause: described.cause } : {}),
            alarms,
            metrics,
          };
          const health = () => healthText({ alarms, metrics }, context.nowMs());
          if (described.status !== 'SUCCEEDED') {
            // One result, as `rotate --wait` gives for a failed rotation: with --json, stdout stays one JSON document.
            context.state.exitCode = ExitCode.REFUSED;
            output.result(data, () => [`Fleet rotation ${name} ${described.status}: ${described.error ?? ''} ${described.cause ?? ''}`.trim(), health()].join('\n'));
            return;
          }
          output.result(data, () => [notice?.summary ?? `Fleet rotation ${name} SUCCEEDED.`, health()].join('\n'));
          return;
        }
        if (Date.now() > deadline) {
          output.result(
            { fleetId: name, status: 'WAIT_TIMED_OUT', executionArn: started.executionArn },
            () => `Still running after ${formatDuration(waitTimeoutSeconds)}: ${started.executionArn} (it goes on).`,
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    });
}

function describeSelector(input: { all?: true; tag?: string; listed?: { count: number } }): string {
  if (input.all) return 'all';
  if (input.tag !== undefined) return `tag ${input.tag}`;
  return `${input.listed!.count} listed`;
}
