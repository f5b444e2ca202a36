/**
 * Fleet rotation: one execution that rotates every client, or the clients with a tag, or a
 * given list. The fleet state machine pages through the clients; each page is a Distributed
 * Map whose items start one ordinary rotation each and wait (task token) until its new key
 * is current. This module is the pure part: the request schema and the tally of outcomes.
 *
 * Nothing that grows with the fleet travels in the state (Step Functions' 256 KiB limit on
 * every state's input and output): an explicit list of clients is written to the table before
 * the fleet starts (lambdas/aws/fleet/fleet-selections.ts) and the execution input names it by
 * count and digest; a page's items carry a client id and a start time; the Map's results
 * replace the page's items; the totals name at most {@link MAX_REPORTED_FAILURES} clients and
 * {@link MAX_ERROR_KINDS} error names.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { actorSchema, clientIdSchema, objectIssueMessage, parseOperation, reasonSchema, rejectIssues } from './input-schema';
import { containsApiKey } from './key-material';
import { RotationMode } from './rotation-request';

/** Tags group clients for fleet rotations: 1-64 characters of [A-Za-z0-9._-] (the client id alphabet), e.g. tier-1, region.eu. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Most tags a client may carry. */
export const MAX_TAGS = 20;
/** Most clients an explicit fleet list may name (larger fleets: use a tag or all). */
export const MAX_LISTED_CLIENTS = 10_000;

/** An explicit list as the fleet execution names it: written to the table under the fleet id, checked by count and digest. */
export interface ListedSelection {
  readonly count: number;
  /** {@link selectionDigest} of the list. */
  readonly digest: string;
}

/** Which clients a fleet rotation covers: exactly one of all, a tag, or a list (inline from the operator, or `listed` in the table). */
export type FleetSelector = { readonly all: true } | { readonly tag: string } | { readonly clientIds: readonly string[] } | { readonly listed: ListedSelection };

/** The digest that identifies an explicit list (SHA-256 of the ids, newline-separated, hex). */
export function selectionDigest(clientIds: readonly string[]): string {
  return createHash('sha256').update(clientIds.join('\n')).digest('hex');
}

/** A validated fleet rotation request. Overlaps come from each client's policy. */
export interface FleetRequest {
  readonly mode: RotationMode;
  readonly reason: string;
  readonly requestedBy: string;
  /** Emergency only: revoke every existing key of each client at its createSecret. */
  readonly revokeImmediately: boolean;
  readonly selector: FleetSelector;
}

/** The request as the fleet state carries it (what {@link parseFleetRequest} accepts again). */
export interface FleetRequestInput {
  readonly mode: RotationMode;
  readonly reason: string;
  readonly requestedBy: string;
  /** Always present, so the Map's items can pass it on as is. */
  readonly revokeImmediately: boolean;
  readonly all?: true;
  readonly tag?: string;
  readonly listed?: ListedSelection;
}

/**
 * The normalized input form of a validated execution request (never an inline list: see
 * {@link parseFleetExecutionInput}).
 */
export function fleetRequestInput(request: FleetRequest): FleetRequestInput {
  const { selector, ...rest } = request;
  if ('clientIds' in selector) throw new Error('An inline client list never enters the fleet state; write it as a fleet selection first.');
  return { ...rest, ...selector };
}

const tagSchema = v.pipe(
  v.string('must be a string'),
  v.regex(TAG_PATTERN, 'must be 1-64 characters of [A-Za-z0-9._-]'),
  v.check((text) => !containsApiKey(text), 'must not be an API key'),
);

/** The schema of a client's tags (also used at onboarding). */
export const tagsSchema = v.pipe(v.array(tagSchema, 'must be a list of tags'), v.maxLength(MAX_TAGS, `must have at most ${MAX_TAGS} tags`));

const FLEET_FIELDS = ['mode', 'reason', 'requestedBy', 'revokeImmediately', 'all', 'tag', 'clientIds', 'listed'] as const;

const listedSchema = v.strictObject(
  {
    count: v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'), v.maxValue(MAX_LISTED_CLIENTS, `must be at most ${MAX_LISTED_CLIENTS}`)),
    digest: v.pipe(v.string('must be a string'), v.regex(/^[0-9a-f]{64}$/, 'must be 64 hex characters')),
  },
  () => 'listed: must be { count, digest }',
);

const fleetSchema = v.strictObject(
  {
    mode: v.picklist(Object.values(RotationMode), 'must be one of scheduled, manual, emergency'),
    reason: reasonSchema,
    requestedBy: actorSchema,
    revokeImmediately: v.optional(v.boolean('must be true or false')),
    all: v.optional(v.literal(true, 'must be true')),
    tag: v.optional(tagSchema),
    clientIds: v.optional(
      v.pipe(v.array(clientIdSchema, 'must be a list of client ids'), v.minLength(1, 'must not be empty'), v.maxLength(MAX_LISTED_CLIENTS, `must have at most ${MAX_LISTED_CLIENTS} client ids`)),
    ),
    listed: v.optional(listedSchema),
  },
  objectIssueMessage(FLEET_FIELDS),
);

function parseFleet(raw: unknown, listForm: 'clientIds' | 'listed'): FleetRequest {
  const { mode, reason, requestedBy, revokeImmediately, all, tag, clientIds, listed } = parseOperation('fleet rotation request', fleetSchema, raw);
  const chosen = [all !== undefined, tag !== undefined, clientIds !== undefined, listed !== undefined].filter(Boolean).length;
  const issues: string[] = [];
  if (chosen !== 1) issues.push(`(input): give exactly one of all, tag, ${listForm}`);
  else if (listForm === 'listed' && clientIds !== undefined)
    issues.push('clientIds: a fleet execution names its list as `listed` (written to the table first, e.g. by keyroll rotate-fleet --clients), never inline');
  else if (listForm === 'clientIds' && listed !== undefined) issues.push('listed: give the list as clientIds');
  if (revokeImmediately && mode !== RotationMode.EMERGENCY) issues.push('revokeImmediately: only an emergency rotation may revoke every key at once');
  if (clientIds && new Set(clientIds).size !== clientIds.length) issues.push('clientIds: must not repeat a client');
  rejectIssues('fleet rotation request', issues);
  const selector: FleetSelector = all ? { all: true } : tag !== undefined ? { tag } : clientIds !== undefined ? { clientIds } : { listed: listed! };
  return { mode, reason, requestedBy, revokeImmediately: revokeImmediately ?? false, selector };
}

/**
 * Validates a fleet rotation request as an operator gives it (all, a tag, or an inline list of
 * at most {@link MAX_LISTED_CLIENTS} ids).
 *
 * @throws InvalidOperationInputError naming every offending field, never echoing a value.
 */
export function parseFleetRequest(raw: unknown): FleetRequest {
  return parseFleet(raw, 'clientIds');
}

/**
 * Validates a fleet execution's input: all, a tag, or `listed` (a selection already in the
 * table). An inline list is refused: it would travel through every state.
 *
 * @throws InvalidOperationInputError naming every offending field, never echoing a value.
 */
export function parseFleetExecutionInput(raw: unknown): FleetRequest {
  return parseFleet(raw, 'listed');
}

/**
 * Quota-bound Secrets Manager writes one rotation makes before it reports to the fleet, in
 * every mode: PutSecretValue (the new key, taking AWSPENDING) and UpdateSecretVersionStage
 * moving AWSCURRENT (Secrets Manager moves AWSPREVIOUS itself). The labels are left there
 * (docs/design.md, "Where the truth lives"); test/workflow/quota-writes.test.ts counts them.
 * A rotation that takes over the lock of one caught between createSecret and finishSecret
 * makes two more (docs/design.md, "Writes against the quota"): not counted, that window is
 * seconds long; a client in its overlap costs nothing more.
 */
export const SECRETS_WRITES_PER_ROTATION = 2;

/** {@link SECRETS_WRITES_PER_ROTATION}, the same in every mode since emergencies leave AWSPREVIOUS where Secrets Manager puts it. */
export function writesPerRotation(_mode: RotationMode): number {
  return SECRETS_WRITES_PER_ROTATION;
}

/**
 * When each client of a page may start, so that starts come at `writesPerSecond` ÷ the
 * writes of one rotation: the i-th at `pageStartMs + i / rate`. A rotation's writes follow
 * its start within seconds, so paced starts keep the account's write rate at the quota
 * instead of bursting past it and waiting out throttling.
 */
export function startTimes(clientIds: readonly string[], mode: RotationMode, writesPerSecond: number, pageStartMs: number): { clientId: string; startAt: string }[] {
  const intervalMs = (1000 * writesPerRotation(mode)) / writesPerSecond;
  return clientIds.map((clientId, i) => ({ clientId, startAt: new Date(pageStartMs + Math.round(i * intervalMs)).toISOString() }));
}

/**
 * The rotation id (execution name) a fleet gives its item for `clientId`: SHA-256 of
 * `<fleetId>/<clientId>` in hex, 64 characters of [0-9a-f], so a valid execution name (≤ 80) and
 * ClientRequestToken (32-64 of [A-Za-z0-9_-]) whatever the ids. The same fleet and client
 * always get the same id: a retried StartExecution cannot start a second rotation, and a
 * rotation id runs once (lambdas/aws/rotation/rotation-id-guard.ts).
 */
export function itemRotationId(fleetId: string, clientId: string): string {
  return createHash('sha256').update(`${fleetId}/${clientId}`).digest('hex');
}

/** What one Map item reported: rotated, or not (with the rotation's error name). */
export type FleetItemResult = { readonly ok: true } | { readonly ok: false; readonly clientId: string; readonly error: string };

/** SendTaskFailure's `error`, the longest error name an item can report, is at most 256 characters (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html). */
export const MAX_ITEM_ERROR_LENGTH = 256;

/** The largest result one Map item produces (a failure naming a 64-character client id and a 256-character error), with its comma in the results array. */
export const WORST_ITEM_RESULT_BYTES = JSON.stringify({ ok: false, clientId: 'x'.repeat(64), error: 'E'.repeat(MAX_ITEM_ERROR_LENGTH) }).length + 1;

/**
 * Most clients per page: the page's results replace its items in the fleet state, so
 * pageSize × {@link WORST_ITEM_RESULT_BYTES} (500 × 358 = 179,000 bytes) plus the request and
 * the bounded totals (~12 KB) stay below Step Functions' 262,144-byte state limit with ~25% margin.
 */
export const MAX_PAGE_SIZE = 500;

/** Secrets Manager's write quota (PutSecretValue, UpdateSecretVersionStage, UpdateSecret), per account and Region; not adjustable. */
export const SECRETS_MANAGER_WRITES_PER_SECOND = 50;

/** Of the account's 50 Secrets Manager writes per second, what a fleet uses by default (the rest for onboarding and other rotations). */
export const DEFAULT_FLEET_WRITES_PER_SECOND = 48;

/** Running totals of a fleet rotation, carried from page to page. */
export interface FleetTotals {
  readonly rotated: number;
  readonly failed: number;
  /** Error name → count, e.g. RotationInProgress: 2. */
  readonly failuresByError: Readonly<Record<string, number>>;
  /** The first failed clients (at most {@link MAX_REPORTED_FAILURES}), for the operator. */
  readonly failedClients: readonly { readonly clientId: string; readonly error: string }[];
  readonly pages: number;
}

/** How many failed clients the summary names; the counts stay exact. */
export const MAX_REPORTED_FAILURES = 50;
/** How many distinct error names the totals keep; the rest are counted under {@link OTHER_ERRORS}. */
export const MAX_ERROR_KINDS = 20;
/** Where failures with an error name beyond the first {@link MAX_ERROR_KINDS} are counted. */
export const OTHER_ERRORS = 'OtherErrors';

/** Totals before the first page. */
export const NO_TOTALS: FleetTotals = { rotated: 0, failed: 0, failuresByError: {}, failedClients: [], pages: 0 };

// Error names reach the summary and the ops notice: keep them short and plain.
const ERROR_NAME = /^[A-Za-z0-9_.]{1,80}$/;

/** Adds one page's item results to the totals. */
export function tallyFleetPage(totals: FleetTotals, results: readonly FleetItemResult[]): FleetTotals {
  let rotated = totals.rotated;
  let failed = totals.failed;
  const byError: Record<string, number> = { ...totals.failuresByError };
  const failedClients = [...totals.failedClients];
  for (const result of results) {
    if (result.ok) {
      rotated += 1;
      continue;
    }
    failed += 1;
    const error = ERROR_NAME.test(result.error) ? result.error : 'UnnamedError';
    const kind = error in byError || Object.keys(byError).length < MAX_ERROR_KINDS ? error : OTHER_ERRORS;
    byError[kind] = (byError[kind] ?? 0) + 1;
    if (failedClients.length < MAX_REPORTED_FAILURES) failedClients.push({ clientId: result.clientId, error });
  }
  return { rotated, failed, failuresByError: byError, failedClients, pages: totals.pages + 1 };
}

/** The ops notice at the end of a fleet rotation (ids and counts only). */
export interface FleetNotice {
  readonly eventType: 'fleet.finished';
  readonly fleetId: string;
  readonly mode: RotationMode;
  readonly requestedBy: string;
  readonly reason: string;
  readonly rotated: number;
  readonly failed: number;
  readonly failuresByError: Readonly<Record<string, number>>;
  readonly failedClients: FleetTotals['failedClients'];
  /** Failed clients not named in `failedClients` (each failed rotation is in the audit trail and the fleet's Map run). */
  readonly moreFailedClients: number;
  readonly summary: string;
}

/** Builds the notice sent when the last page is done. */
export function fleetNotice(fleetId: string, request: FleetRequest, totals: FleetTotals): FleetNotice {
  const summary =
    totals.failed === 0
      ? `Fleet rotation ${fleetId}: ${totals.rotated} clients rotated.`
      : `Fleet rotation ${fleetId}: ${totals.rotated} clients rotated, ${totals.failed} NOT rotated (${Object.entries(totals.failuresByError)
          .map(([error, count]) => `${error} ${count}`)
          .join(', ')}).${totals.failed > totals.failedClients.length ? ` The first ${totals.failedClients.length} are named, and ${totals.failed - totals.failedClients.length} more.` : ''}`;
  return {
    eventType: 'fleet.finished',
    fleetId,
    mode: request.mode,
    requestedBy: request.requestedBy,
    reason: request.reason,
    rotated: totals.rotated,
    failed: totals.failed,
    failuresByError: totals.failuresByError,
    failedClients: totals.failedClients,
    moreFailedClients: totals.failed - totals.failedClients.length,
    summary,
  };
}
