/**
 * The verifier over the real table (moto), with keys registered through the project's own
 * provisioning code and states changed with the repository's guarded transitions; and the
 * usage write path: KeyRepository.recordUse and UsageRecorder.
 */
import fc from 'fast-check';
import { generateApiKey, hashApiKey, keyIdOf } from '../../lambdas/core/api-key';
import { isoNow, ManualClock } from '../../lambdas/core/clock';
import { KeyState } from '../../lambdas/core/key-state';
import type { ClientRecord, KeyRecord } from '../../lambdas/core/model';
import { createDynamoKeyVerifier } from '../../lambdas/aws/auth/verifier';
import { UsageRecorder } from '../../lambdas/aws/auth/usage-recorder';
import type { KeyRepository } from '../../lambdas/aws/key-repository';
import { makeTestDeps, registerTestClient, scanTable } from '../support/fixtures';

const START = Date.parse('2026-11-28T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

let clock: ManualClock;
let deps: Awaited<ReturnType<typeof makeTestDeps>>;

beforeAll(async () => {
  // One table for the file; every test registers its own client.
  deps = await makeTestDeps(new ManualClock(START));
});

beforeEach(() => {
  clock = new ManualClock(START);
});

/** A registered client and its plaintext key (read back from Secrets Manager, as the client would). */
async function client(scopes: string[] = ['orders:read']): Promise<{ client: ClientRecord; key: string }> {
  const record = await registerTestClient({ ...deps, clock }, undefined, { scopes });
  const value = await deps.secrets.readVersion(record.secretId, record.currentVersionId);
  return { client: record, key: value!.apiKey };
}

function verifier(options: { cacheTtlMs?: number; negativeCacheTtlMs?: number } = {}) {
  return createDynamoKeyVerifier({ tableName: deps.tableName, clock, keyPrefix: deps.settings.keyPrefix, ...options });
}

const revoke = (c: ClientRecord, from: KeyState = KeyState.ACTIVE) =>
  deps.keys.applyChange({ transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from, to: KeyState.REVOKED, set: { revokedAt: isoNow(clock) } }] });

const retire = (c: ClientRecord, notAfterMs: number) =>
  deps.keys.applyChange({ transitions: [{ keyHash: c.currentKeyHash, keyId: c.currentKeyId, from: KeyState.ACTIVE, to: KeyState.RETIRING, set: { notAfter: iso(notAfterMs) } }] });

describe('createDynamoKeyVerifier', () => {
  it('accepts a registered key with its principal (current key)', async () => {
    const { client: c, key } = await client(['orders:read', 'orders:write']);
    const v = verifier();
    expect(await v.verify(key, ['orders:write'])).toEqual({
      accepted: true,
      keyHash: c.currentKeyHash,
      principal: { clientId: c.clientId, keyId: c.currentKeyId, scopes: ['orders:read', 'orders:write'], keyRole: 'current' },
    });
    expect(v.lookups).toBe(1);
  });

  it('rejects a well-formed key that was never stored as unknown, and a malformed one without a read', async () => {
    const v = verifier();
    expect(await v.verify(generateApiKey(deps.settings.keyPrefix))).toEqual({ accepted: false, reason: 'unknown' });
    expect(v.lookups).toBe(1);
    expect(await v.verify(generateApiKey('other'))).toEqual({ accepted: false, reason: 'malformed' });
    expect(await v.verify('Bearer nonsense')).toEqual({ accepted: false, reason: 'malformed' });
    expect(v.lookups).toBe(1);
  });

  it('rejects a revoked key as revoked, naming key id and client', async () => {
    const { client: c, key } = await client();
    await revoke(c);
    expect(await verifier().verify(key)).toEqual({ accepted: false, reason: 'revoked', keyId: c.currentKeyId, clientId: c.clientId });
  });

  it('rejects a PENDING key as pending', async () => {
    const { client: c } = await client();
    const pendingKey = generateApiKey(deps.settings.keyPrefix);
    const pending: KeyRecord = {
      keyHash: hashApiKey(pendingKey),
      keyId: keyIdOf(pendingKey),
      clientId: c.clientId,
      secretVersionId: 'rot-00000000-0000-4000-8000-000000000000',
      rotationId: 'rot-00000000-0000-4000-8000-000000000000',
      state: KeyState.PENDING,
      scopes: ['orders:read'],
      createdAt: isoNow(clock),
    };
    await deps.keys.applyChange({ insertKeys: [pending] });
    expect(await verifier().verify(pendingKey)).toEqual({ accepted: false, reason: 'pending', keyId: pending.keyId, clientId: c.clientId });
  });

  it('accepts a RETIRING key as the previous key until its notAfter, then rejects it as expired, even from the cache', async () => {
    const { client: c, key } = await client();
    await retire(c, START + 5_000);
    const v = verifier();
    expect(await v.verify(key)).toMatchObject({ accepted: true, principal: { keyRole: 'previous', clientId: c.clientId } });
    clock.advance(4_999);
    expect((await v.verify(key)).accepted).toBe(true);
    clock.advance(1);
    expect(await v.verify(key)).toEqual({ accepted: false, reason: 'expired', keyId: c.currentKeyId, clientId: c.clientId });
    expect(v.lookups).toBe(1);
    // A fresh verifier reads the same item and agrees.
    expect(await verifier().verify(key)).toMatchObject({ accepted: false, reason: 'expired' });
  });

  it('rejects a usable key without the route scope as insufficient_scope', async () => {
    const { client: c, key } = await client(['orders:read']);
    const v = verifier();
    expect(await v.verify(key, ['orders:write'])).toEqual({ accepted: false, reason: 'insufficient_scope', keyId: c.currentKeyId, clientId: c.clientId });
    expect((await v.verify(key, ['orders:read'])).accepted).toBe(true);
  });

  it('makes a revocation visible once the cache TTL has passed since the read, and not before', async () => {
    const { client: c, key } = await client();
    const v = verifier({ cacheTtlMs: 5_000 });
    expect((await v.verify(key)).accepted).toBe(true);
    clock.advance(1_000);
    await revoke(c);
    clock.advance(3_999); // 4999 ms after the read: the cached record may still be served
    expect((await v.verify(key)).accepted).toBe(true);
    clock.advance(1); // 5000 ms after the read
    expect(await v.verify(key)).toMatchObject({ accepted: false, reason: 'revoked' });
    expect(v.lookups).toBe(2);
  });

  it('with the default TTL, a revocation is visible within 10 s', async () => {
    const { client: c, key } = await client();
    const v = verifier();
    expect((await v.verify(key)).accepted).toBe(true);
    await revoke(c);
    clock.advance(10_000);
    expect(await v.verify(key)).toMatchObject({ accepted: false, reason: 'revoked' });
  });

  it('remembers an unknown key for the negative TTL, then sees it once stored', async () => {
    const { client: c } = await client();
    const later = generateApiKey(deps.settings.keyPrefix);
    const v = verifier({ negativeCacheTtlMs: 2_000 });
    expect(await v.verify(later)).toEqual({ accepted: false, reason: 'unknown' });
    await deps.keys.applyChange({
      insertKeys: [
        {
          keyHash: hashApiKey(later),
          keyId: keyIdOf(later),
          clientId: c.clientId,
          secretVersionId: 'rot-00000000-0000-4000-8000-000000000001',
          rotationId: 'rot-00000000-0000-4000-8000-000000000001',
          state: KeyState.ACTIVE,
          scopes: ['orders:read'],
          createdAt: isoNow(clock),
          activatedAt: isoNow(clock),
        },
      ],
    });
    clock.advance(1_999);
    expect(await v.verify(later)).toEqual({ accepted: false, reason: 'unknown' });
    clock.advance(1);
    expect(await v.verify(later)).toMatchObject({ accepted: true, principal: { clientId: c.clientId } });
    expect(v.lookups).toBe(2);
  });

  it('concurrent verifications of one key make one read of the table', async () => {
    const { key } = await client();
    const v = verifier();
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => v.verify(key)));
    expect(verdicts.every((verdict) => verdict.accepted)).toBe(true);
    expect(v.lookups).toBe(1);
  });
});

describe('KeyRepository.recordUse', () => {
  const MINUTE = 60_000;

  it('writes the first use, skips a use within the interval, writes again after it', async () => {
    const { client: c } = await client();
    const t1 = START + 1_000;
    expect(await deps.keys.recordUse(c.currentKeyHash, iso(t1), iso(t1 - MINUTE))).toBe(true);
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(t1));

    const t2 = t1 + 30_000;
    expect(await deps.keys.recordUse(c.currentKeyHash, iso(t2), iso(t2 - MINUTE))).toBe(false);
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(t1));

    const t3 = t1 + MINUTE + 1;
    expect(await deps.keys.recordUse(c.currentKeyHash, iso(t3), iso(t3 - MINUTE))).toBe(true);
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(t3));
  });

  it('changes nothing but lastUsedAt', async () => {
    const { client: c } = await client();
    const before = await deps.keys.getKey(c.currentKeyHash);
    await deps.keys.recordUse(c.currentKeyHash, iso(START + 5), iso(START + 5 - MINUTE));
    expect(await deps.keys.getKey(c.currentKeyHash)).toEqual({ ...before, lastUsedAt: iso(START + 5) });
  });

  it('never moves lastUsedAt backwards, whatever the arguments', async () => {
    const { client: c } = await client();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 10 * MINUTE }), fc.integer({ min: -2 * MINUTE, max: 2 * MINUTE })), { minLength: 1, maxLength: 6 }), async (writes) => {
        for (const [atOffset, staleOffset] of writes) {
          const before = (await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt;
          const at = START + atOffset;
          const wrote = await deps.keys.recordUse(c.currentKeyHash, iso(at), iso(at - MINUTE + staleOffset));
          const after = (await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt;
          expect(after).toBe(wrote ? iso(at) : before);
          if (before !== undefined) expect(after! >= before).toBe(true);
        }
      }),
      { numRuns: 10 },
    );
    // The specific case: an earlier use with a staleBefore past the stored one is not written.
    const stored = (await deps.keys.getKey(c.currentKeyHash))!.lastUsedAt!;
    const earlier = Date.parse(stored) - MINUTE;
    expect(await deps.keys.recordUse(c.currentKeyHash, iso(earlier), iso(Date.parse(stored) + 1))).toBe(false);
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(stored);
  });

  it('never creates an item for a hash that is not stored', async () => {
    await client();
    const before = await scanTable(deps.tableName);
    const ghost = hashApiKey(generateApiKey(deps.settings.keyPrefix));
    expect(await deps.keys.recordUse(ghost, iso(START), iso(START - MINUTE))).toBe(false);
    expect(await deps.keys.getKey(ghost)).toBeUndefined();
    expect(await scanTable(deps.tableName)).toHaveLength(before.length);
  });
});

describe('UsageRecorder', () => {
  const INTERVAL = 60_000;

  it('written, then throttled within the interval, then written again', async () => {
    const { client: c } = await client();
    const recorder = new UsageRecorder(deps.keys, clock, INTERVAL);
    expect(await recorder.record(c.currentKeyHash)).toBe('written');
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START));
    clock.advance(INTERVAL - 1);
    expect(await recorder.record(c.currentKeyHash)).toBe('throttled');
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START));
    clock.advance(1);
    // Exactly one interval later: the throttle lets it through, and the table agrees it is stale.
    expect(await recorder.record(c.currentKeyHash)).toBe('written');
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START + INTERVAL));
  });

  it('recent: another container (its own throttle) finds the use already recorded', async () => {
    const { client: c } = await client();
    const containerA = new UsageRecorder(deps.keys, clock, INTERVAL);
    const containerB = new UsageRecorder(deps.keys, clock, INTERVAL);
    expect(await containerA.record(c.currentKeyHash)).toBe('written');
    clock.advance(10_000);
    expect(await containerB.record(c.currentKeyHash)).toBe('recent');
    expect((await deps.keys.getKey(c.currentKeyHash))?.lastUsedAt).toBe(iso(START));
  });

  it('recent, not failed, for a key that is not in the table (nothing is created)', async () => {
    const ghost = hashApiKey(generateApiKey(deps.settings.keyPrefix));
    expect(await new UsageRecorder(deps.keys, clock, INTERVAL).record(ghost)).toBe('recent');
    expect(await deps.keys.getKey(ghost)).toBeUndefined();
  });

  it('passes the use time and the staleness bound of its interval', async () => {
    const recordUse = jest.fn<Promise<boolean>, Parameters<KeyRepository['recordUse']>>().mockResolvedValue(true);
    const recorder = new UsageRecorder({ recordUse }, clock, INTERVAL);
    await recorder.record('h');
    expect(recordUse).toHaveBeenCalledTimes(1);
    const [hash, at, staleBefore] = recordUse.mock.calls[0];
    expect(hash).toBe('h');
    expect(at).toBe(iso(START));
    // A use recorded one full interval ago (or earlier) is stale; anything later is recent.
    expect(Date.parse(staleBefore)).toBeGreaterThan(START - INTERVAL);
    expect(Date.parse(staleBefore)).toBeLessThanOrEqual(START - INTERVAL + 1);
  });

  it('failed: a repository that throws never fails the request, and the key is not retried within the interval', async () => {
    const recordUse = jest.fn<Promise<boolean>, Parameters<KeyRepository['recordUse']>>().mockRejectedValue(new Error('ProvisionedThroughputExceeded'));
    const recorder = new UsageRecorder({ recordUse }, clock, INTERVAL);
    await expect(recorder.record('h')).resolves.toBe('failed');
    expect(await recorder.record('h')).toBe('throttled');
    expect(recordUse).toHaveBeenCalledTimes(1);
    clock.advance(INTERVAL);
    await expect(recorder.record('h')).resolves.toBe('failed');
    expect(recordUse).toHaveBeenCalledTimes(2);
  });
});
