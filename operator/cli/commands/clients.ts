/** `keyroll clients add|update|list|show|remove`: onboarding, delivery settings, the client list, one client, offboarding. */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { Option, type Command } from 'commander';
import { describeClient, offboardClient, onboardClient, parseRotationPolicy, policyBounds, updateClientDelivery, type DeliveryProjectionResult, type OpsDeps, type RotationPolicy } from '../../ops';
import { InvalidOperationInputError } from '../../../lambdas/core/errors';
import type { ClientRecord } from '../../../lambdas/core/model';
import { checkClientId, checkText, formatDuration, parseDurationSeconds, parseIntervalDays, parseScopes, parseTimeZone, parseWindow } from '../arguments';
import type { RunState } from '../context';
import { UsageError } from '../errors';
import { fields, relative, table, timestamp } from '../output';
import { MAX_TAGS, TAG_PATTERN } from '../../../lambdas/core/fleet';
import { containsApiKey } from '../../../lambdas/core/key-material';
import { auditTable, clientView, keysTable, keyViews, policyText, scheduleText, scheduleView } from '../views';
import { addDeliveryOptions, deliveryLines, deliveryRequestOf, deliveryView, type DeliveryFlags } from '../delivery-options';

interface AddOptions extends DeliveryFlags {
  scopes: string;
  intervalDays: string;
  overlap?: string;
  maxOverlap?: string;
  timezone: string;
  window: string;
  tags?: string;
  reason: string;
}

/**
 * What `clients add` assumes when an option is left out: a quarterly rotation starting in a
 * night window in UTC. The interval leaves room for the deployment's maximum overlap (30 days
 * unless the construct says otherwise) before the next scheduled start.
 */
const ADD_DEFAULTS = {
  intervalDays: '90',
  timezone: 'UTC',
  window: '02:00-04:00',
  reason: 'onboarding',
} as const;

const ADD_HELP = `
Defaults (the output lists those it applied under "defaults applied"):
  --interval-days ${ADD_DEFAULTS.intervalDays}     a quarterly rotation
  --timezone ${ADD_DEFAULTS.timezone}
  --window ${ADD_DEFAULTS.window}   a night window; scheduled starts spread over it
  --overlap              the deployment's defaultOverlap (24h unless configured), read at each rotation
  --max-overlap          the deployment's maxOverlap (30d unless configured); it must end before the
                         next scheduled start, so a short --interval-days needs a shorter --max-overlap
  --reason ${ADD_DEFAULTS.reason}
--scopes has no default. A key's scopes decide which routes it may call, and they are fixed at
onboarding (other scopes later are a RegistrationConflict; the only fix is to offboard and onboard
a new client id). A key without scopes may call only the routes that need none, which is every
route while auth.routeScopes is empty: no default is right for every deployment.
The scopes and the policy are stored as given; running the same command again changes nothing.

Delivery (each flag repeatable; change them later with \`keyroll clients update\`):
  --reader <arn>          an IAM role, user or account root (any account) that may read the client's
                          current key (AWSCURRENT only) from its secret
  --notify <endpoint>     sqs:<queue ARN> (any account), https://<url> or email:<address>; KeyRoll
                          creates the subscription, filtered to this client's notices
  --pickup-key <file>     a public JWK (EC P-256 or RSA 2048+) for key pickup outside AWS; a private
                          JWK is refused and never printed

Examples:
  keyroll clients add acme-payments --scopes orders:read,orders:write
  keyroll clients add acme-payments --scopes orders:read,orders:write --interval-days 30 \\
    --overlap 24h --max-overlap 7d --timezone Europe/Paris --window 02:00-04:00 --reason "contract 2026-114"
  keyroll clients add acme-payments --scopes orders:read --reader arn:aws:iam::210987654321:role/acme-app \\
    --notify sqs:arn:aws:sqs:eu-west-1:210987654321:acme-keyroll --pickup-key acme-public.jwk`;

const UPDATE_HELP = `
Each given kind replaces the stored list; kinds not given are kept. --no-readers, --no-notify and
--no-pickup-keys clear one. Without any flag the stored settings are projected again (repairs a
secret policy, grant or subscription that drifted). Asking for what is stored writes nothing.

Examples:
  keyroll clients update acme-payments --reader arn:aws:iam::210987654321:role/acme-app --reason "new app role"
  keyroll clients update acme-payments --pickup-key old.jwk --pickup-key new.jwk --reason "client rotates its pickup key"
  keyroll clients update acme-payments --no-notify --reason "queue retired"`;

/** CLI flag names for the policy's fields, so refusals name what the operator typed. */
const FLAG_OF: Record<string, string> = {
  intervalDays: '--interval-days',
  overlapSeconds: '--overlap',
  maxOverlapSeconds: '--max-overlap',
  timeZone: '--timezone',
  window: '--window',
};

export function registerClientCommands(program: Command, state: RunState): void {
  const clients = program.command('clients').description('Onboard, list, inspect and offboard the clients KeyRoll issues keys to.');

  const add = clients
    .command('add')
    .description('Onboard a client: its secret with a first key, its record with the rotation policy, and its rotation schedule. Never prints the key: the client reads it from its secret.')
    .argument('<clientId>', 'client id, 1-64 characters of [A-Za-z0-9._-]')
    .requiredOption('--scopes <list>', 'comma-separated scopes of its keys, e.g. orders:read,orders:write (required: see below)')
    .addOption(new Option('--interval-days <n>', 'rotate on schedule every N days (1-365)').default(ADD_DEFAULTS.intervalDays, ADD_DEFAULTS.intervalDays))
    .option('--overlap <duration>', 'how long the previous key keeps working after a scheduled rotation, e.g. 24h (default: the deployment default)')
    .option('--max-overlap <duration>', 'hard deadline of the previous key while it is still used, e.g. 7d (default: the deployment maximum)')
    .addOption(new Option('--timezone <iana>', 'IANA time zone of the window, e.g. Europe/Paris').default(ADD_DEFAULTS.timezone, ADD_DEFAULTS.timezone))
    .addOption(new Option('--window <HH:MM-HH:MM>', 'local window in which scheduled rotations start, e.g. 22:00-01:00').default(ADD_DEFAULTS.window, ADD_DEFAULTS.window))
    .option('--tags <list>', 'comma-separated tags that group clients for rotate-fleet, e.g. tier-1,region:eu')
    .addOption(new Option('--reason <text>', 'why (audit trail)').default(ADD_DEFAULTS.reason, ADD_DEFAULTS.reason))
    .addHelpText('after', ADD_HELP);
  addDeliveryOptions(add, false).action(async (rawId: string, options: AddOptions, command: Command) => {
    // Every argument is checked before anything is read.
    const clientId = checkClientId(rawId);
    const scopes = parseScopes(options.scopes);
    const intervalDays = parseIntervalDays(options.intervalDays);
    const overlapSeconds = options.overlap === undefined ? undefined : parseDurationSeconds(options.overlap, '--overlap');
    const maxOverlapSeconds = options.maxOverlap === undefined ? undefined : parseDurationSeconds(options.maxOverlap, '--max-overlap');
    const timeZone = parseTimeZone(options.timezone);
    const window = parseWindow(options.window);
    const reason = checkText(options.reason, '--reason', 512);
    const tags = options.tags === undefined ? undefined : parseTags(options.tags);
    const delivery = deliveryRequestOf(command, options);
    if (overlapSeconds !== undefined && maxOverlapSeconds !== undefined && overlapSeconds > maxOverlapSeconds) {
      throw new UsageError('--overlap must not be longer than --max-overlap.', ['overlap: longer than max-overlap']);
    }
    const policy: RotationPolicy = {
      intervalDays,
      ...(overlapSeconds !== undefined ? { overlapSeconds } : {}),
      ...(maxOverlapSeconds !== undefined ? { maxOverlapSeconds } : {}),
      timeZone,
      window,
    };
    const { output, session } = state.context(command);
    const deps = await session.opsDeps();
    checkPolicyAgainstDeployment(deps, policy);
    const actor = await session.actor();
    const result = await onboardClient(deps, { clientId, scopes, policy, ...(tags ? { tags } : {}), ...(delivery ? { delivery } : {}), requestedBy: actor, reason });
    const defaultsApplied = appliedDefaults(command, deps);
    const data = {
      clientId: result.client.clientId,
      registered: result.registered,
      currentKeyId: result.client.currentKeyId,
      secretId: result.client.secretId,
      scopes: result.client.scopes,
      policy: result.client.policy,
      schedule: { outcome: result.schedule, ...result.plan },
      delivery: deliveryView(result.client.delivery),
      ...(result.delivery ? { projection: result.delivery } : {}),
      defaultsApplied,
      actor,
    };
    output.result(data, () =>
      [
        `${result.registered ? 'Onboarded' : 'Already onboarded (nothing to change)'}: client ${clientId}`,
        fields([
          ['current key', `${result.client.currentKeyId} (the key itself is in secret ${result.client.secretId}; it is never printed)`],
          ['scopes', result.client.scopes.join(', ')],
          ['policy', policyText(result.client.policy)],
          [
            'schedule',
            `${result.schedule}: ${result.plan.expression} ${result.plan.timeZone}${result.plan.startDate ? `, first ${timestamp(result.plan.startDate)}` : ''}, flexible ${result.plan.flexibleWindowMinutes} min`,
          ],
          ...deliveryLines(result.client.delivery),
          ['projection', result.delivery ? projectionText(result.delivery) : undefined],
          [
            'defaults applied',
            Object.keys(defaultsApplied).length
              ? Object.entries(defaultsApplied)
                  .map(([flag, value]) => `${flag} ${value}`)
                  .join(', ')
              : 'none',
          ],
          ['audit actor', actor],
        ]),
      ].join('\n'),
    );
  });

  const update = clients
    .command('update')
    .description("Change a client's delivery settings (AWS readers, notification endpoints, pickup keys) and have KeyRoll's delivery function project them: the secret policy, KMS grants and subscriptions.")
    .argument('<clientId>', 'client id')
    .option('--reason <text>', 'why (audit trail)', 'delivery settings update')
    .addHelpText('after', UPDATE_HELP);
  addDeliveryOptions(update, true).action(async (rawId: string, options: DeliveryFlags & { reason: string }, command: Command) => {
    const clientId = checkClientId(rawId);
    const reason = checkText(options.reason, '--reason', 512);
    const delivery = deliveryRequestOf(command, options) ?? {};
    const { output, session } = state.context(command);
    const deps = await session.opsDeps();
    const actor = await session.actor();
    const result = await updateClientDelivery(deps, { clientId, delivery, requestedBy: actor, reason });
    output.result({ clientId, changed: result.changed, delivery: deliveryView(result.client.delivery), projection: result.projection, actor }, () =>
      [
        `${result.changed ? 'Updated' : 'Unchanged (already as asked; projected again)'}: delivery of client ${clientId}`,
        fields([...deliveryLines(result.client.delivery), ['projection', projectionText(result.projection)], ['audit actor', actor]]),
      ].join('\n'),
    );
  });

  clients
    .command('list')
    .description('List every client with its current key, lock and last rotation.')
    .action(async (_options: unknown, command: Command) => {
      const { output, session, nowMs } = state.context(command);
      const { outputs } = await session.discover();
      const records = await scanClients(session.clients().dynamoDb, outputs.TableName);
      records.sort((a, b) => a.clientId.localeCompare(b.clientId));
      const now = nowMs();
      output.result({ clients: records.map(clientView) }, () =>
        records.length === 0
          ? 'No clients yet (keyroll clients add <clientId> ...).'
          : table(
              ['CLIENT', 'STATUS', 'CURRENT KEY', 'SCOPES', 'ROTATION IN FLIGHT', 'LAST ROTATION'],
              records.map((client) => [
                client.clientId,
                client.offboardedAt ? 'offboarded' : 'active',
                client.currentKeyId,
                client.scopes.join(','),
                client.lock ? client.lock.rotationId : '-',
                client.lastRotation ? `${relative(client.lastRotation.finishedAt, now)}${client.lastRotation.emergency ? ' (emergency)' : ''}` : 'never',
              ]),
            ),
      );
    });

  clients
    .command('show')
    .description('Show one client: record, policy, schedule, keys and its latest audit events.')
    .argument('<clientId>', 'client id')
    .option('--audit-limit <n>', 'latest audit events to show', '10')
    .action(async (rawId: string, options: { auditLimit: string }, command: Command) => {
      const clientId = checkClientId(rawId);
      const limit = parseLimit(options.auditLimit, '--audit-limit');
      const { output, session, nowMs } = state.context(command);
      const deps = await session.opsDeps();
      const described = await describeClient(deps, clientId);
      const keys = keyViews(described.client, described.keys);
      const audit = described.audit.slice(-limit);
      const view = clientView(described.client);
      output.result({ client: view, keys, schedule: scheduleView(described.schedule) ?? null, audit }, () =>
        [
          `Client ${clientId} (${view.status})`,
          fields([
            ['secret', described.client.secretId],
            ['scopes', described.client.scopes.join(', ')],
            ['current key', described.client.currentKeyId],
            ['policy', policyText(described.client.policy)],
            ['schedule', scheduleText(described.schedule)],
            ...deliveryLines(described.client.delivery),
            ['rotation lock', described.client.lock ? `${described.client.lock.rotationId} since ${timestamp(described.client.lock.acquiredAt)}` : 'free'],
            ['offboarded', described.client.offboardedAt ? timestamp(described.client.offboardedAt) : undefined],
          ]),
          'Keys:',
          keysTable(keys, nowMs()),
          `Latest audit events (${audit.length} of ${described.audit.length}):`,
          auditTable(audit),
        ].join('\n'),
      );
    });

  clients
    .command('remove')
    .description('Offboard a client: revoke every key now, delete its schedule, stop a rotation in flight. The record and audit trail stay; the id cannot be onboarded again.')
    .argument('<clientId>', 'client id')
    .requiredOption('--reason <text>', 'why (audit trail)')
    .action(async (rawId: string, options: { reason: string }, command: Command) => {
      const clientId = checkClientId(rawId);
      const reason = checkText(options.reason, '--reason', 512);
      const { output, session } = state.context(command);
      const deps = await session.opsDeps();
      const actor = await session.actor();
      const result = await offboardClient(deps, { clientId, requestedBy: actor, reason });
      output.result({ ...result, actor }, () =>
        [
          `Offboarded client ${clientId} (since ${timestamp(result.offboardedAt)})`,
          fields([
            ['revoked now', result.revokedKeyIds.length ? result.revokedKeyIds.join(', ') : 'none (already revoked)'],
            ['schedule', result.scheduleDeleted ? 'deleted' : 'none left'],
            ['stopped rotation', result.stoppedRotationId],
            ['delivery', result.delivery ? `${projectionText(result.delivery)} (readers, grants and subscriptions removed)` : undefined],
            ['effect', 'every verifier rejects the revoked keys within 10 s'],
          ]),
        ].join('\n'),
      );
    });
}

/**
 * The options of `clients add` the operator left out, by flag, with what was used instead
 * (the overlaps by what they resolve to: the deployment's settings).
 */
function appliedDefaults(command: Command, deps: OpsDeps): Record<string, string> {
  const defaulted = (key: string) => command.getOptionValueSource(key) === 'default';
  const applied: Record<string, string> = {};
  if (defaulted('intervalDays')) applied['--interval-days'] = ADD_DEFAULTS.intervalDays;
  if (defaulted('timezone')) applied['--timezone'] = ADD_DEFAULTS.timezone;
  if (defaulted('window')) applied['--window'] = ADD_DEFAULTS.window;
  // No value at all: the policy leaves them out and the deployment's settings decide.
  const options = command.opts<AddOptions>();
  if (options.overlap === undefined) applied['--overlap'] = 'the deployment default';
  if (options.maxOverlap === undefined) applied['--max-overlap'] = `the deployment maximum (${formatDuration(deps.settings.overlapBounds.maxSeconds)})`;
  if (defaulted('reason')) applied['--reason'] = ADD_DEFAULTS.reason;
  return applied;
}

/** What a delivery projection did, in one line. */
function projectionText(result: DeliveryProjectionResult): string {
  const { grants, subscriptions } = result;
  const pending = subscriptions.pendingConfirmation ? `, ${subscriptions.pendingConfirmation} awaiting confirmation` : '';
  return (
    `secret policy ${result.secretPolicy}; grants +${grants.created} -${grants.revoked} (${grants.kept} kept); ` +
    `subscriptions +${subscriptions.created} -${subscriptions.removed} (${subscriptions.kept} kept${pending})`
  );
}

/** A positive limit (1-1000). */
export function parseLimit(text: string, option: string): number {
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new UsageError(`${option} must be a whole number between 1 and 1000.`, [`${option}: invalid`]);
  return Number(text);
}

/** The policy against the deployment's overlap bounds, with the refusal in the CLI's terms. */
function checkPolicyAgainstDeployment(deps: OpsDeps, policy: RotationPolicy): void {
  const { minSeconds, maxSeconds } = deps.settings.overlapBounds;
  const issues: string[] = [];
  for (const [value, flag] of [
    [policy.overlapSeconds, '--overlap'],
    [policy.maxOverlapSeconds, '--max-overlap'],
  ] as const) {
    if (value !== undefined && (value < minSeconds || value > maxSeconds)) {
      issues.push(`${flag} must be between ${formatDuration(minSeconds)} and ${formatDuration(maxSeconds)} in this deployment`);
    }
  }
  if (issues.length) throw new UsageError(`${issues.join('; ')}.`, issues);
  try {
    parseRotationPolicy(policy, policyBounds(deps.settings));
  } catch (error) {
    if (!(error instanceof InvalidOperationInputError)) throw error;
    const translated = error.issues.map((issue) => issue.replace(/^(\w+)/, (field) => FLAG_OF[field] ?? field).replace(/(\d+) s\b/g, (_m, s: string) => formatDuration(Number(s))));
    throw new UsageError(`Invalid rotation policy: ${translated.join('; ')}.`, translated);
  }
}

/** Every client record (a Scan of the table for the CLIENT items; operators list rarely). */
async function scanClients(doc: import('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient, tableName: string): Promise<ClientRecord[]> {
  const records: ClientRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: tableName, FilterExpression: 'sk = :client', ExpressionAttributeValues: { ':client': 'CLIENT' }, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      const { pk: _pk, sk: _sk, ...record } = item;
      records.push(record as unknown as ClientRecord);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return records;
}

/** `--tags a,b`: each a tag of 1-64 characters of [A-Za-z0-9._:/-], at most 20. */
function parseTags(text: string): string[] {
  const tags = text.split(',');
  if (tags.length > MAX_TAGS || tags.some((tag) => !TAG_PATTERN.test(tag) || containsApiKey(tag))) {
    throw new UsageError(`--tags must be a comma-separated list of at most ${MAX_TAGS} tags of 1-64 characters of [A-Za-z0-9._-].`, ['tags: invalid']);
  }
  return [...new Set(tags)];
}
