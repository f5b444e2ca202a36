/**
 * The fleet rotation's one Lambda step, run before each page and once after the last: it
 * validates the request (first call), adds the previous page's outcomes to the totals and
 * lists the next page of client ids. Idempotent: its output depends only on its input and
 * the table, so a retried call lists the same page.
 *
 * Its output stays far below Step Functions' 256 KiB state limit whatever the fleet's size: an
 * explicit list is read from the table a page at a time (fleet-selections.ts), the page holds
 * `pageSize` items of a client id and a start time, and the Map's results come back in place
 * of the page (`results`), then only the bounded totals remain.
 */
import type { Clock } from '../../core/clock';
import { isoNow } from '../../core/clock';
import {
  fleetNotice,
  fleetRequestInput,
  itemRotationId,
  startTimes,
  NO_TOTALS,
  parseFleetExecutionInput,
  tallyFleetPage,
  type FleetItemResult,
  type FleetNotice,
  type FleetRequest,
  type FleetRequestInput,
  type FleetTotals,
} from '../../core/fleet';
import type { KeyRepository } from '../key-repository';

/** Where a fleet rotation is between pages. Empty before the first page. */
export interface FleetProgress {
  /** The last client id of the previous page; null when no page is left. */
  readonly cursor?: string | null;
  readonly totals?: FleetTotals;
}

/** What the state machine passes in. */
export interface FleetPageInput {
  readonly request: unknown;
  readonly fleetId: string;
  readonly state: FleetProgress;
  /** The previous page's Map results (the Map writes them over the page's items); empty before the first page. */
  readonly results?: readonly FleetItemResult[];
}

/** The fleet's state between pages (what the Map and the next call read). */
export interface FleetPageOutput {
  /** Validated and normalized: the next call and the Map's items read it. */
  readonly request: FleetRequestInput;
  readonly fleetId: string;
  readonly state: { readonly cursor: string | null; readonly totals: FleetTotals };
  /** The clients of this page with when each may start (paced to the write quota); empty when the fleet is done. The Map's results replace it. */
  readonly page: readonly { readonly clientId: string; readonly startAt: string; readonly rotationId: string }[];
  /** Set when the fleet is done: the ops notice, and whether every client was rotated. */
  readonly done?: { readonly notice: FleetNotice; readonly allRotated: boolean; readonly finishedAt: string };
}

/** Dependencies of the fleet page step. */
export interface FleetPageDeps {
  readonly keys: KeyRepository;
  readonly clock: Clock;
  /** Clients per Map run (the Map's items and results must fit the 256 KB state limit). */
  readonly pageSize: number;
  /** Secrets Manager writes per second the fleet may use (of the account's 50). */
  readonly writesPerSecond: number;
  /** Real time, for the start times the Map's Wait states read (the rotation clock may be simulated locally). */
  readonly pacingClock: Clock;
}

/** Lists the next page of a fleet rotation; see the module comment. */
export async function fleetPage(deps: FleetPageDeps, input: FleetPageInput): Promise<FleetPageOutput> {
  const request = parseFleetExecutionInput(input.request);
  const progress = input.state ?? {};
  const first = progress.totals === undefined;
  const totals = progress.totals === undefined ? NO_TOTALS : tallyFleetPage(progress.totals, input.results ?? []);
  const more = first || typeof progress.cursor === 'string';
  const { clientIds, cursor } = more ? await listPage(deps, input.fleetId, request, first ? undefined : (progress.cursor ?? undefined)) : { clientIds: [], cursor: null };
  const page = startTimes(clientIds, request.mode, deps.writesPerSecond, deps.pacingClock.nowMs()).map((item) => ({ ...item, rotationId: itemRotationId(input.fleetId, item.clientId) }));
  const base = { request: fleetRequestInput(request), fleetId: input.fleetId, state: { cursor, totals }, page };
  if (page.length > 0) return base;
  const notice = fleetNotice(input.fleetId, request, totals);
  return { ...base, done: { notice, allRotated: totals.failed === 0, finishedAt: isoNow(deps.clock) } };
}

async function listPage(deps: FleetPageDeps, fleetId: string, request: FleetRequest, after: string | undefined): Promise<{ clientIds: string[]; cursor: string | null }> {
  const { selector } = request;
  if ('listed' in selector) {
    // An explicit list is read from the table by position; the cursor is the next position.
    const start = after === undefined ? 0 : Number(after);
    const clientIds = await deps.keys.fleetSelections().read(fleetId, selector.listed, start, deps.pageSize);
    const end = start + clientIds.length;
    return { clientIds, cursor: end < selector.listed.count ? String(end) : null };
  }
  if ('clientIds' in selector) throw new Error('unreachable: parseFleetExecutionInput refuses an inline list');
  const page = await deps.keys.listClientIds({ ...('tag' in selector ? { tag: selector.tag } : {}), limit: deps.pageSize, ...(after ? { after } : {}) });
  return { clientIds: page.clientIds, cursor: page.last ?? null };
}
