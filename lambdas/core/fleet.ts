/**
 * Fleet rotation: one execution that rotates every client, or the clients with a tag, or a
 * given list. The fleet state machine pages through the clients; each page is a Distributed
 * Map whose items start one ordinary rotation each and wait (task token) until its new key
 * is current. This module is the pure part: the request schema and the tally of outcomes.
 */
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

/** Which clients a fleet rotation covers: exactly one of all, a tag, or a list. */
export type FleetSelector = { readonly all: true } | { readonly tag: string } | { readonly clientIds: readonly string[] };

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
  readonly clientIds?: readonly string[];
}

/** The normalized input form of a validated request. */
export function fleetRequestInput(request: FleetRequest): FleetRequestInput {
  const { selector, ...rest } = request;
  return { ...rest, ...selector };
}

const tagSchema = v.pipe(
  v.string('must be a string'),
  v.regex(TAG_PATTERN, 'must be 1-64 characters of [A-Za-z0-9._-]'),
  v.check((text) => !containsApiKey(text), 'must not be an API key'),
);

/** The schema of a client's tags (also used at onboarding). */
export const tagsSchema = v.pipe(
  v.array(tagSchema, 'must be a list of tags'),
  v.maxLength(MAX_TAGS, `must have at most ${MAX_TAGS} tags`),
);

const FLEET_FIELDS = ['mode', 'reason', 'requestedBy', 'revokeImmediately', 'all', 'tag', 'clientIds'] as const;

const fleetSchema = v.strictObject(
  {
    mode: v.picklist(Object.values(RotationMode), 'must be one of scheduled, manual, emergency'),
    reason: reasonSchema,
    requestedBy: actorSchema,
    revokeImmediately: v.optional(v.boolean('must be true or false')),
    all: v.optional(v.literal(true, 'must be true')),
    tag: v.optional(tagSchema),
    clientIds: v.optional(
      v.pipe(
        v.array(clientIdSchema, 'must be a list of client ids'),
        v.minLength(1, 'must not be empty'),
        v.maxLength(MAX_LISTED_CLIENTS, `must have at most ${MAX_LISTED_CLIENTS} client ids`),
      ),
    ),
  },
  objectIssueMessage(FLEET_FIELDS),
);

/**
 * Validates a fleet rotation request.
 *
 * @throws InvalidOperationInputError naming every offending field, never echoing a value.
 */
export function parseFleetRequest(raw: unknown): FleetRequest {
  const { mode, reason, requestedBy, revokeImmediately, all, tag, clientIds } = parseOperation('fleet rotation request', fleetSchema, raw);
  const chosen = [all !== undefined, tag !== undefined, clientIds !== undefined].filter(Boolean).length;
  const issues: string[] = [];
  if (chosen !== 1) issues.push('(input): give exactly one of all, tag, clientIds');
  if (revokeImmediately && mode !== RotationMode.EMERGENCY) issues.push('revokeImmediately: only an emergency rotation may revoke every key at once');
  if (clientIds && new Set(clientIds).size !== clientIds.length) issues.push('clientIds: must not repeat a client');
  rejectIssues('fleet rotation request', issues);
  const selector: FleetSelector = all ? { all: true } : tag !== undefined ? { tag } : { clientIds: clientIds! };
  return { mode, reason, requestedBy, revokeImmediately: revokeImmediately ?? false, selector };
}

/**
 * Quota-bound Secrets Manager writes one rotation makes before it reports to the fleet, in
 * every mode: PutSecretValue (the new key, taking AWSPENDING) and UpdateSecretVersionStage
 * moving AWSCURRENT (Secrets Manager moves AWSPREVIOUS itself). The labels are left there
 * (docs/design.md, "Where the truth lives"); test/workflow/quota-writes.test.ts counts them.
 * A rotation that takes over another's lock fences the other's version first (one more
 * PutSecretValue, refused when that version exists): not counted, the fleet's clients are
 * normally idle.
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

/** What one Map item reported: rotated, or not (with the rotation's error name). */
export type FleetItemResult = { readonly ok: true } | { readonly ok: false; readonly clientId: string; readonly error: string };

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
    byError[error] = (byError[error] ?? 0) + 1;
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
  readonly summary: string;
}

/** Builds the notice sent when the last page is done. */
export function fleetNotice(fleetId: string, request: FleetRequest, totals: FleetTotals): FleetNotice {
  const summary =
    totals.failed === 0
      ? `Fleet rotation ${fleetId}: ${totals.rotated} clients rotated.`
      : `Fleet rotation ${fleetId}: ${totals.rotated} clients rotated, ${totals.failed} NOT rotated (${Object.entries(totals.failuresByError)
          .map(([error, count]) => `${error} ${count}`)
          .join(', ')}).`;
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
    summary,
  };
}
