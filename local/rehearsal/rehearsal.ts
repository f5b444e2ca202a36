/**
 * The local rehearsal: real rotations against emulated AWS while simulated consumers call a
 * protected endpoint. Time is simulated (one manual clock, advanced a tick at a time), so
 * hours of overlap pass in seconds; every component reads that clock. Emulated AWS must be
 * reachable through AWS_ENDPOINT_URL (the CLI starts moto; the tests share theirs).
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { dynamoDbClient } from '../../lambdas/aws/dynamodb-client';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import type { RotationSettings } from '../../lambdas/aws/rotation/context';
import { SecretStore } from '../../lambdas/aws/secret-store';
import { logger } from '../../lambdas/handlers/runtime';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { LocalRotationRunner, type LocalRotationResult } from '../local-rotation-runner';
import { resolveWorkflow, synthesizeKeyRoll } from '../synthesized-workflow';
import { SimulatedCaller, type CallerSpec, type RehearsalConsumer, type RequestOutcome } from './callers';
import type { DeliveryConsumers } from './delivery-consumers';
import { startDeliveryConsumers } from './delivery-setup';
import type { RehearsalOptions } from './options';
import { startProtectedApi } from './protected-api';
import { provisionClient, provisionStack, subscribeQueue } from './provision';
import { buildReport, type RehearsalReport, type RotationRecord } from './report';
import { SimulatedTime } from './simulated-time';
import { seededRandom } from '../seeded-random';

const MINUTE = 60_000;
const KEY_PREFIX = 'kr';
/** Pickups in a row after the run, so that the latency percentiles rest on more than the few the rotations cause. */
const PICKUP_LATENCY_SAMPLES = 50;

/** The rotation policy of the rehearsal, compressed but proportioned like production. */
export const REHEARSAL_POLICY = {
  overlapMinutes: 60,
  reminderIntervalMinutes: 30,
  usageWindowMinutes: 20,
  maxOverlapMinutes: 180,
  usageRecordIntervalMinutes: 5,
  checkLeadMinutes: 5,
} as const;

/** Progress as the run goes, for a display. */
export interface RehearsalProgress {
  readonly simulatedMinutes: number;
  readonly totalMinutes: number;
  readonly requests: number;
  readonly failures: number;
  readonly wellBehavedFailures: number;
  readonly rotationsDone: number;
  readonly rotationsTotal: number;
}

/** Who calls as whom: one caller never updates; the others alternate prompt and lagging. */
export function planCallers(options: RehearsalOptions, clientIds: readonly string[]): Omit<CallerSpec, 'queueUrl'>[] {
  const random = seededRandom(options.seed);
  return Array.from({ length: options.callers }, (_, i) => {
    const clientId = clientIds[i % clientIds.length];
    if (i === options.callers - 1) return { name: `caller-${i + 1}`, clientId, behaviour: 'never' as const, delayMs: 0 };
    if (i % 2 === 0) return { name: `caller-${i + 1}`, clientId, behaviour: 'prompt' as const, delayMs: Math.round(random() * 5) * MINUTE };
    // Lagging: some within the overlap, some well past it (they get reminders and extensions).
    const lagMinutes = i % 4 === 1 ? 40 : 100 + Math.round(random() * 20);
    return { name: `caller-${i + 1}`, clientId, behaviour: 'lagging' as const, delayMs: lagMinutes * MINUTE };
  });
}

/** Runs a rehearsal to its end and returns the report. */
export async function runRehearsal(options: RehearsalOptions, onProgress?: (progress: RehearsalProgress) => void): Promise<RehearsalReport> {
  const wallStart = Date.now();
  // The authorizer's EMF lines would flood the terminal; the report has the figures.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  // The handlers' step log lines would too; failures show in the report.
  logger.setLogLevel('SILENT');
  const runId = randomUUID().slice(0, 8);
  const startMs = Date.parse('2026-01-05T09:00:00Z');
  const time = new SimulatedTime(startMs);

  const synth = synthesizeKeyRoll();
  const resources = await provisionStack(synth, runId);
  const clientIds = Array.from({ length: options.clients }, (_, i) => `tenant-${String(i + 1).padStart(2, '0')}`);
  for (const clientId of clientIds) await provisionClient(resources, time.clock, KEY_PREFIX, clientId);

  const settings: RotationSettings = {
    keyPrefix: KEY_PREFIX,
    defaultOverlapSeconds: REHEARSAL_POLICY.overlapMinutes * 60,
    overlapBounds: { minSeconds: 60, maxSeconds: REHEARSAL_POLICY.maxOverlapMinutes * 60 },
    lockTtlSeconds: (REHEARSAL_POLICY.maxOverlapMinutes + 60) * 60,
    usageWindowSeconds: REHEARSAL_POLICY.usageWindowMinutes * 60,
    reminderIntervalSeconds: REHEARSAL_POLICY.reminderIntervalMinutes * 60,
    usageCheckLeadSeconds: REHEARSAL_POLICY.checkLeadMinutes * 60,
  };
  const deps = { secrets: new SecretStore(secretsManagerClient()), keys: new KeyRepository(dynamoDbClient(), resources.tableName), clock: time.clock, settings };
  const runner = new LocalRotationRunner(resolveWorkflow(synth, resources), deps);

  const api = await startProtectedApi({ tableName: resources.tableName, keyPrefix: KEY_PREFIX, clock: time.clock, usageIntervalMs: REHEARSAL_POLICY.usageRecordIntervalMinutes * MINUTE });
  const sdkClients = { secretsManager: new SecretsManagerClient({}), sqs: new SQSClient({}) };
  const callers: RehearsalConsumer[] = [];
  let delivery: DeliveryConsumers | undefined;
  try {
    for (const spec of planCallers(options, clientIds)) {
      const queueUrl = spec.behaviour === 'prompt' ? await subscribeQueue(resources, `keyroll-rehearsal-${runId}-${spec.name}`, spec.clientId) : undefined;
      const caller = new SimulatedCaller({ ...spec, queueUrl }, api.url, time.clock, resources.secretNamePrefix, sdkClients);
      await caller.start();
      callers.push(caller);
    }
    // The consumers KeyRoll delivers to: outside AWS (pickup + webhook) and in another account.
    if (options.delivery) {
      delivery = await startDeliveryConsumers({ resources, runId, keyPrefix: KEY_PREFIX, clock: time.clock, apiUrl: api.url, synth });
      callers.push(...delivery.consumers);
    }
  } catch (error) {
    await Promise.all([api.close(), delivery?.close()]);
    throw error;
  }
  const rotatedIds = [...clientIds, ...(delivery?.clientIds ?? [])];

  // Rotation plan: each client rotates `rotations` times, one cycle apart, staggered. The first
  // client's last rotation is an emergency, and so is that of the pickup consumer's client.
  const emergencyClients = new Set([clientIds[0], ...(delivery?.emergencyClientIds ?? [])]);
  const cycleMinutes = options.durationMinutes / options.rotations;
  const plan = rotatedIds
    .flatMap((clientId, c) =>
      Array.from({ length: options.rotations }, (_, r) => ({
        clientId,
        atMs: startMs + (r * cycleMinutes + 10 + c * 7) * MINUTE,
        mode: options.emergency && emergencyClients.has(clientId) && r === options.rotations - 1 ? 'emergency' : 'scheduled',
      })),
    )
    .sort((a, b) => a.atMs - b.atMs);
  const endMs = startMs + options.durationMinutes * MINUTE;

  const outcomes: RequestOutcome[] = [];
  const rotations: RotationRecord[] = [];
  const running: Promise<void>[] = [];
  let next = 0;
  try {
    for (let now = startMs; now <= endMs || running.length > rotations.length; now += options.tickMs) {
      time.advanceTo(now);
      while (next < plan.length && plan[next].atMs <= now) {
        const { clientId, mode } = plan[next++];
        const rotationId = `rehearsal-${runId}-${String(next).padStart(3, '0')}-${randomUUID()}`;
        const input = { clientId, mode, reason: mode === 'emergency' ? 'rehearsal: simulated leak' : 'rehearsal: scheduled rotation', requestedBy: 'keyroll-rehearsal' };
        const startedAtMs = now;
        const startedAtWallMs = Date.now();
        running.push(
          time.track(async (waitUntil) => {
            const result: LocalRotationResult = await runner.run(input, rotationId, waitUntil);
            rotations.push({ clientId, mode, startedAtMs, endedAtMs: time.nowMs(), startedAtWallMs, result });
          }),
        );
      }
      await time.settle();
      outcomes.push(...(await Promise.all(callers.map((caller) => caller.tick()))));
      onProgress?.({
        simulatedMinutes: (now - startMs) / MINUTE,
        totalMinutes: options.durationMinutes,
        requests: outcomes.length,
        failures: outcomes.filter((o) => !o.ok).length,
        wellBehavedFailures: outcomes.filter((o) => !o.ok && o.behaviour !== 'never').length,
        rotationsDone: rotations.length,
        rotationsTotal: plan.length,
      });
    }
    await Promise.all(running);
    await delivery?.probePickupLatency(PICKUP_LATENCY_SAMPLES);
  } finally {
    await Promise.all([api.close(), delivery?.close()]);
    sdkClients.secretsManager.destroy();
    sdkClients.sqs.destroy();
  }
  const boundary = delivery?.boundaryDecisions();
  return buildReport({
    options,
    startMs,
    endMs: time.nowMs(),
    outcomes,
    rotations,
    wallMs: Date.now() - wallStart,
    observations: delivery?.observations,
    ...(boundary ? { boundaryReads: { allowed: boundary.filter((d) => d.allowed).length, denied: boundary.filter((d) => !d.allowed).length } } : {}),
  });
}
