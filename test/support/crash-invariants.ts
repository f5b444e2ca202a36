/**
 * The invariants of docs/design.md as checks that return what is broken (instead of
 * failing at the first), so the crash matrix can report every point and a planted fault
 * can be shown to be caught. Reads moto state through the rotation dependencies.
 */
import { hashApiKey } from '../../lambdas/core/api-key';
import { KeyState } from '../../lambdas/core/key-state';
import { verifyApiKey } from '../../lambdas/core/verification';
import type { ClientWithPending, RotationDeps } from '../../lambdas/aws/rotation/context';
import { Stage } from '../../lambdas/aws/secret-store';
import { parseRotationNotification } from '../../client/notifications';
import { restingLabelViolations } from './resting-labels';

/** How a rotation should have ended. */
export type Expected = 'rotated' | 'emergency' | 'rolled-back';

/** The client as it was before the rotation. */
export interface Before {
  readonly clientId: string;
  readonly secretId: string;
  readonly versionId: string;
  readonly keyId: string;
  readonly apiKey: string;
}

/** A message as the recorded topic returns it. */
export interface Published {
  readonly message: string;
  readonly attributes: Record<string, string>;
}

/**
 * Invariant 1 and the clean end state: exactly one AWSCURRENT and the table agrees (pointer,
 * hash, ACTIVE); AWSPREVIOUS and AWSPENDING where they may rest (test/support/resting-labels.ts);
 * lock and pending pointers gone; one key per rotation, and only the current one not REVOKED
 * (plus the previous one while it is RETIRING).
 */
export async function endStateViolations(deps: RotationDeps, before: Before, rotationId: string, expected: Expected): Promise<string[]> {
  const v = await labelsAndTableViolations(deps, before.clientId, expected === 'rolled-back' ? before.versionId : rotationId);
  const client = (await deps.keys.requireClient(before.clientId)) as ClientWithPending;
  // Strongly consistent reads of every key: the index only lists them.
  const keys = await Promise.all((await deps.keys.listClientKeys(before.clientId)).map(async (k) => (await deps.keys.getKey(k.keyHash)) ?? k));
  if (keys.length !== 2) v.push(`${keys.length} keys for one rotation (expected the old and one new)`);
  const live = keys.filter((k) => k.state !== KeyState.REVOKED && k.keyHash !== client.currentKeyHash);
  if (live.length > 0) v.push(`keys still live besides the current one: ${live.map((k) => `${k.keyId}=${k.state}`).join(', ')}`);
  if (expected === 'rolled-back') {
    const made = keys.find((k) => k.rotationId === rotationId);
    if (made && made.state !== KeyState.REVOKED) v.push(`the rolled-back rotation's key is ${made.state}`);
  }
  return v;
}

/**
 * Labels and table agree, with no rotation in flight: exactly one AWSCURRENT (on
 * `expectedCurrentVersion` when given) and the table's current pointer, hash and ACTIVE key
 * match it; AWSPREVIOUS exactly on the table's previous version (with none: never on the
 * current version or an ACTIVE key's); AWSPENDING at most on the current version; no lock or
 * pending pointer.
 */
export async function labelsAndTableViolations(deps: Pick<RotationDeps, 'keys' | 'secrets'>, clientId: string, expectedCurrentVersion?: string): Promise<string[]> {
  const v: string[] = [];
  const client = (await deps.keys.requireClient(clientId)) as ClientWithPending;
  const stages = await deps.secrets.versionStages(client.secretId);
  const withLabel = (label: string) =>
    Object.entries(stages)
      .filter(([, labels]) => labels.includes(label))
      .map(([id]) => id);
  const current = withLabel(Stage.CURRENT);
  if (current.length !== 1) v.push(`${current.length} versions are AWSCURRENT`);
  if (expectedCurrentVersion !== undefined && current[0] !== expectedCurrentVersion) v.push(`AWSCURRENT is on ${current[0]}, expected ${expectedCurrentVersion}`);
  if (client.currentVersionId !== current[0]) v.push(`table says current version ${client.currentVersionId}, labels say ${current[0]}`);
  const value = await deps.secrets.readStage(client.secretId, Stage.CURRENT);
  if (!value || hashApiKey(value.value.apiKey) !== client.currentKeyHash) v.push("the AWSCURRENT value does not hash to the table's current key hash");
  const currentKey = await deps.keys.getKey(client.currentKeyHash);
  if (currentKey?.state !== KeyState.ACTIVE) v.push(`the current key is ${currentKey?.state ?? 'missing'}, not ACTIVE`);
  // AWSPENDING only where a finished rotation leaves it; AWSPREVIOUS exactly on the table's
  // previous version, or (with none) never on a current or ACTIVE key's version.
  const keys = await Promise.all((await deps.keys.listClientKeys(clientId)).map(async (k) => (await deps.keys.getKey(k.keyHash)) ?? k));
  const resting = restingLabelViolations(stages, client, keys);
  if (resting.pending) v.push(resting.pending);
  if (resting.previous) v.push(resting.previous);
  if (client.lock) v.push(`lock still held by ${client.lock.rotationId}`);
  if (client.pendingRotationId || client.pendingKeyHash) v.push(`pending pointer left (${client.pendingRotationId ?? client.pendingKeyId})`);
  return v;
}

/** What the old key's record and the verifier say now, against what the client was told. */
export async function oldKeyViolations(deps: RotationDeps, before: Before, expected: Expected, announcedNotAfters: readonly string[]): Promise<string[]> {
  const v: string[] = [];
  const verdict = await verifyApiKey(before.apiKey, (hash) => deps.keys.getKey(hash), deps.clock, deps.settings.keyPrefix);
  const record = await deps.keys.getKey(hashApiKey(before.apiKey));
  if (expected === 'rolled-back') {
    if (!verdict.accepted) v.push(`the old key is refused (${verdict.reason}) after a rollback`);
    return v;
  }
  if (verdict.accepted) v.push('the old key is still accepted after the rotation ended');
  if (record?.state !== KeyState.REVOKED) v.push(`the old key is ${record?.state ?? 'missing'}, not REVOKED`);
  if (expected === 'rotated') {
    // Invariant 2: never revoked before the latest not-after the client was told.
    const promised = [...announcedNotAfters].sort().at(-1);
    if (!promised) v.push('the client was never told a not-after');
    else if (!record?.revokedAt || record.revokedAt < promised) v.push(`the old key was revoked at ${record?.revokedAt}, before the announced not-after ${promised}`);
  }
  return v;
}

/** The old key's verdicts during the run (at each Task start): accepted whenever the clock was before the promised not-after. */
export function earlyRejections(verdicts: readonly { state: string; atMs: number; accepted: boolean; reason?: string }[], promisedNotAfterMs: number): string[] {
  return verdicts
    .filter((x) => !x.accepted && x.atMs < promisedNotAfterMs)
    .map((x) => `the old key was refused (${x.reason}) at ${new Date(x.atMs).toISOString()} before ${x.state}, before its not-after ${new Date(promisedNotAfterMs).toISOString()}`);
}

/** What the client notices say, judged as the client SDK reads them. */
export interface NoticeFindings {
  readonly violations: string[];
  readonly notes: string[];
  /** Distinct event types in first-seen order (duplicates of one eventId counted once). */
  readonly distinctTypes: string[];
  /** Every previousKeyNotAfter the client was told. */
  readonly announcedNotAfters: string[];
}

/**
 * The client topic's messages of one rotation. A duplicate (same eventId, same body but for occurredAt) is
 * SNS's at-least-once delivery, e.g. after a Publish whose response was lost: the SDK does not
 * de-duplicate, but the action it triggers (re-read AWSCURRENT) is idempotent, so it is a note.
 * Violations: two bodies under one eventId, a notice naming another current key than the end
 * state's, or a sequence of events other than the clean run's (a lost key.expiring reminder is
 * tolerated and noted: checkUsage documents it, and the key stays valid longer than announced).
 */
export function noticeFindings(messages: readonly Published[], expectedTypes: readonly string[], finalCurrentKeyId: string, oldKeyId?: string): NoticeFindings {
  const violations: string[] = [];
  const notes: string[] = [];
  const byId = new Map<string, string>();
  const distinctTypes: string[] = [];
  const announcedNotAfters: string[] = [];
  for (const m of messages) {
    const notice = JSON.parse(m.message) as Record<string, unknown>;
    const eventId = String(notice.eventId);
    // When it was sent is not something a client acts on; everything else must be the same.
    const { occurredAt: _sentAt, ...content } = notice;
    const body = JSON.stringify(content);
    const seen = byId.get(eventId);
    if (seen !== undefined) {
      if (seen !== body) violations.push(`two different notices under eventId ${eventId}`);
      else notes.push(`duplicate of ${eventId} (at-least-once)`);
      continue;
    }
    byId.set(eventId, body);
    distinctTypes.push(String(notice.eventType));
    if (typeof notice.previousKeyNotAfter === 'string') announcedNotAfters.push(notice.previousKeyNotAfter);
    // What the SDK acts on: the event type and the key it names as current.
    const parsed = parseRotationNotification(m.message, Object.fromEntries(Object.entries(m.attributes).map(([k, value]) => [k, { StringValue: value }])));
    if (!parsed) violations.push(`the client SDK cannot read notice ${eventId}`);
    else if (parsed.currentKeyId !== undefined && parsed.currentKeyId !== finalCurrentKeyId) violations.push(`${eventId} names ${parsed.currentKeyId} as current, but ${finalCurrentKeyId} is`);
    if (oldKeyId !== undefined && notice.previousKeyId !== undefined && notice.previousKeyId !== oldKeyId)
      violations.push(`${eventId} names ${String(notice.previousKeyId)} as the previous key, not ${oldKeyId}`);
  }
  const same = (a: readonly string[], b: readonly string[]) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(distinctTypes, expectedTypes)) {
    const withoutReminders = (types: readonly string[]) => types.filter((t) => t !== 'key.expiring');
    const lost = expectedTypes.filter((t) => t === 'key.expiring').length - distinctTypes.filter((t) => t === 'key.expiring').length;
    if (lost > 0 && same(withoutReminders(distinctTypes), withoutReminders(expectedTypes))) notes.push(`${lost} key.expiring reminder(s) lost`);
    else violations.push(`client notices ${JSON.stringify(distinctTypes)}, expected ${JSON.stringify(expectedTypes)}`);
  }
  return { violations, notes, distinctTypes, announcedNotAfters };
}

/** Ops notices: the same distinct set as the clean run (exact duplicates noted). */
export function opsFindings(messages: readonly Published[], expected: readonly string[]): { violations: string[]; notes: string[]; distinct: string[] } {
  const distinct = [...new Set(messages.map((m) => m.message))];
  const summary = distinct.map((m) => {
    const notice = JSON.parse(m) as { eventType: string; rolledBack: boolean; error: string };
    return `${notice.eventType}:${notice.rolledBack ? 'rolled-back' : 'not-rolled-back'}:${notice.error}`;
  });
  const violations = JSON.stringify(summary) === JSON.stringify(expected) ? [] : [`ops notices ${JSON.stringify(summary)}, expected ${JSON.stringify(expected)}`];
  const notes = messages.length > distinct.length ? [`${messages.length - distinct.length} exact duplicate ops notice(s)`] : [];
  return { violations, notes, distinct: summary };
}
