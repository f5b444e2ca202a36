/** `keyroll status <clientId>` and `keyroll audit <clientId>`: read-only views of a client. */
import type { Command } from 'commander';
import type { ClientRecord } from '../../../lambdas/core/model';
import { checkClientId } from '../arguments';
import type { RunState } from '../context';
import { describeRotation, runningExecutionsOf, type ExecutionView } from '../executions';
import { fields, relative, table, timestamp } from '../output';
import { auditTable, clientView, keysTable, keyViews } from '../views';
import { readSessionHealth } from '../deployment-health';
import { healthText } from '../health-text';
import { labelDisagreements } from '../../../lambdas/aws/label-projection';
import { labelsOfTable } from '../../../lambdas/aws/rotation/table-labels';
import { parseLimit } from './clients';

export function registerStatusCommands(program: Command, state: RunState): void {
  program
    .command('status')
    .description(
      'Where a client stands: its keys (state, age, last use, not-after), the rotation lock, the last rotation, its executions in flight, the alarms on the ops topic, and how many requests of all clients still use a previous key (CloudWatch).',
    )
    .argument('<clientId>', 'client id')
    .addHelpText(
      'after',
      [
        '',
        'Key states: PENDING (being created) -> ACTIVE (current) -> RETIRING (previous, until NOT AFTER) -> REVOKED.',
        'A key is rejected everywhere at most 10 s after it is REVOKED.',
        "Previous-key use: the authorizer's AuthSucceededByKeyRole metric over the last 15 min and 1 h, all clients together",
        '(the metric has no client dimension); per client, the figure is the LAST USED of its previous key. Where CloudWatch',
        'has no such metrics (a local emulator) or cannot be read (cloudwatch:GetMetricData, DescribeAlarms), status says so.',
      ].join('\n'),
    )
    .action(async (rawId: string, _options: unknown, command: Command) => {
      const clientId = checkClientId(rawId);
      const { output, session, nowMs } = state.context(command);
      const deps = await session.opsDeps();
      const client = await deps.keys.requireClient(clientId);
      // CloudWatch is read while the table and Step Functions are; it never rejects (its failures are part of the report).
      const health = readSessionHealth(session, nowMs());
      const keys = keyViews(client, await deps.keys.listClientKeys(clientId));
      const executions = await executionsOf(session.clients().stepFunctions, deps.executions.stateMachineArn, client);
      // The table is the truth; the labels are its projection (docs/design.md, invariant 7).
      const labels = labelDisagreements(await deps.secrets.versionStages(client.secretId), labelsOfTable(client));
      const { alarms, metrics } = await health;
      const now = nowMs();
      const view = clientView(client);
      output.result({ client: view, keys, executions, labels: { agree: labels.length === 0, disagreements: labels }, alarms, metrics }, () => {
        const lock = client.lock;
        const last = client.lastRotation;
        const lines = [
          `Client ${clientId} (${view.status})${client.offboardedAt ? ` since ${timestamp(client.offboardedAt)}` : ''}`,
          fields([
            ['current key', `${client.currentKeyId} (secret ${client.secretId}, AWSCURRENT)`],
            ['previous key', client.previousKeyId ? `${client.previousKeyId} (AWSPREVIOUS, in its overlap)` : undefined],
            ['labels', labels.length === 0 ? 'agree with the table' : `DISAGREE with the table: ${labels.join('; ')} (fix: keyroll repair ${clientId} --reason <why>)`],
            ['rotation lock', lock ? `held by ${lock.rotationId} since ${timestamp(lock.acquiredAt)} (expires ${timestamp(lock.expiresAt)})` : 'free'],
            [
              'last rotation',
              last
                ? `${last.rotationId} finished ${relative(last.finishedAt, now)}${last.emergency ? ' (EMERGENCY)' : ''}${client.currentVersionId !== last.rotationId ? ' (rolled back)' : ''}${last.revokedKeyIds.length ? `, revoked ${last.revokedKeyIds.join(', ')}` : ''}`
                : 'none yet',
            ],
          ]),
          'Keys:',
          keysTable(keys, now),
          'Executions:',
          executionsText(executions, now),
          healthText({ alarms, metrics }, now, keys),
        ];
        return lines.join('\n');
      });
    });

  program
    .command('audit')
    .description("A client's audit trail (who, what, why, when), newest last.")
    .argument('<clientId>', 'client id')
    .option('--limit <n>', 'latest events to show (1-1000)', '20')
    .action(async (rawId: string, options: { limit: string }, command: Command) => {
      const clientId = checkClientId(rawId);
      const limit = parseLimit(options.limit, '--limit');
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      await deps.keys.requireClient(clientId);
      const events = await deps.keys.listAudit(clientId);
      const shown = events.slice(-limit);
      output.result({ clientId, total: events.length, events: shown }, () => [`Audit trail of ${clientId} (latest ${shown.length} of ${events.length}):`, auditTable(shown)].join('\n'));
    });
}

/** What `status` shows of executions: the lock holder's, the last rotation's, and any running one of the client. */
interface ExecutionsReport {
  readonly lockHolder?: ExecutionView;
  readonly lastRotation?: ExecutionView;
  readonly running: readonly ExecutionView[];
  readonly scannedRunning: number;
  readonly truncated: boolean;
  /** Set when Step Functions could not be asked (e.g. no states:ListExecutions permission). */
  readonly unavailable?: string;
}

async function executionsOf(sfn: import('@aws-sdk/client-sfn').SFNClient, stateMachineArn: string, client: ClientRecord): Promise<ExecutionsReport> {
  try {
    // The lock of an operator's rollback is `<rotationId>.rollback`: no execution has that name.
    const lockId = client.lock?.rotationId;
    const [lockHolder, lastRotation, running] = await Promise.all([
      lockId && !lockId.includes('.') ? describeRotation(sfn, stateMachineArn, lockId) : undefined,
      client.lastRotation && client.lastRotation.rotationId !== lockId ? describeRotation(sfn, stateMachineArn, client.lastRotation.rotationId) : undefined,
      runningExecutionsOf(sfn, stateMachineArn, client.clientId),
    ]);
    const known = new Set([lockHolder?.rotationId, lastRotation?.rotationId]);
    return {
      ...(lockHolder ? { lockHolder } : {}),
      ...(lastRotation ? { lastRotation } : {}),
      running: running.executions.filter((execution) => !known.has(execution.rotationId)),
      scannedRunning: running.scanned,
      truncated: running.truncated,
    };
  } catch (error) {
    return { running: [], scannedRunning: 0, truncated: false, unavailable: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

function executionsText(report: ExecutionsReport, nowMs: number): string {
  if (report.unavailable) return `  unavailable (${report.unavailable})`;
  const rows: string[][] = [];
  const row = (view: ExecutionView, role: string) =>
    rows.push([
      view.rotationId,
      view.status === 'NOT_FOUND' ? 'not in Step Functions (local run?)' : view.status,
      role,
      view.mode ?? '-',
      view.startDate ? relative(view.startDate, nowMs) : '-',
      view.error ?? '-',
    ]);
  if (report.lockHolder) row(report.lockHolder, 'holds the lock');
  if (report.lastRotation) row(report.lastRotation, 'last finished rotation');
  for (const view of report.running) row(view, 'running');
  const note = report.truncated ? `\n  (scanned the ${report.scannedRunning} newest running executions of the state machine)` : '';
  if (rows.length === 0) return `  none in flight${note}`;
  return `${table(['ROTATION', 'STATUS', 'ROLE', 'MODE', 'STARTED', 'ERROR'], rows)
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')}${note}`;
}
