/**
 * Helpers for the adapter and rotation-step tests over moto: staging labels as a plain
 * map, whole-state snapshots (table items + labels) for idempotency checks, a simulated
 * crash after a Secrets Manager command, and a plaintext-leak check.
 */
import { DescribeSecretCommand, ListSecretVersionIdsCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import type { RotationDeps } from '../../lambdas/aws/rotation/context';
import type { RotationMode } from '../../lambdas/core/rotation-request';
import { scanTable } from './fixtures';

/**
 * Version id → sorted staging labels, versions without labels left out.
 *
 * moto lists a version whose last label was removed with `[]`; real Secrets Manager leaves
 * such (deprecated) versions out of `VersionIdsToStages`. Normalising both to "absent"
 * keeps the assertions true on either.
 */
export async function labels(secretId: string, client: SecretsManagerClient = secretsManagerClient()): Promise<Record<string, string[]>> {
  const described = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
  const out: Record<string, string[]> = {};
  for (const [versionId, stages] of Object.entries(described.VersionIdsToStages ?? {})) {
    if (stages.length > 0) out[versionId] = [...stages].sort();
  }
  return out;
}

/** Every version id of a secret, labelled or not. */
export async function allVersionIds(secretId: string, client: SecretsManagerClient = secretsManagerClient()): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true, NextToken: token }));
    ids.push(...(page.Versions ?? []).map((v) => v.VersionId!));
    token = page.NextToken || undefined;
  } while (token);
  return ids.sort();
}

/** Table items in a stable order (by pk, sk). */
export async function sortedItems(tableName: string): Promise<Record<string, unknown>[]> {
  const items = await scanTable(tableName);
  return items.sort((a, b) => `${String(a.pk)}|${String(a.sk)}`.localeCompare(`${String(b.pk)}|${String(b.sk)}`));
}

/** The whole observable state of one client's rotation: table items and staging labels. */
export interface Snapshot {
  readonly items: Record<string, unknown>[];
  readonly labels: Record<string, string[]>;
}

export async function snapshot(tableName: string, secretId: string): Promise<Snapshot> {
  const [items, stageMap] = await Promise.all([sortedItems(tableName), labels(secretId)]);
  return { items, labels: stageMap };
}

/**
 * Runs `step` twice in a row and checks that the retry returns an equal result and
 * leaves table items and staging labels exactly as the first run left them.
 */
export async function runTwice<T>(tableName: string, secretId: string, step: () => Promise<T>): Promise<T> {
  const first = await step();
  const after = await snapshot(tableName, secretId);
  const second = await step();
  expect(second).toEqual(first);
  expect(await snapshot(tableName, secretId)).toEqual(after);
  return first;
}

/** A rotation request as the state machine passes it to beginRotation. */
export function rotationRequest(clientId: string, mode: RotationMode, extra: { overlapSeconds?: number; reason?: string; requestedBy?: string } = {}): Record<string, unknown> {
  return {
    clientId,
    mode,
    reason: extra.reason ?? `test ${mode} rotation`,
    requestedBy: extra.requestedBy ?? 'test-operator',
    ...(extra.overlapSeconds !== undefined ? { overlapSeconds: extra.overlapSeconds } : {}),
  };
}

/** Error thrown by {@link crashAfterCommand}: the call went through, the caller "died" before seeing it. */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/**
 * Makes the next `commandName` sent by `client` succeed on the server and then throw, as if
 * the Lambda had crashed after the write. Returns a function that removes the middleware.
 */
export function crashAfterCommand(commandName: string, client: SecretsManagerClient = secretsManagerClient(), options: { times?: number } = {}): () => void {
  const name = `simulated-crash-after-${commandName}-${Math.random().toString(36).slice(2)}`;
  let remaining = options.times ?? 1;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === commandName && remaining > 0) {
        remaining -= 1;
        throw new SimulatedCrash(`simulated crash after ${commandName}`);
      }
      return result;
    },
    { step: 'initialize', name },
  );
  return () => {
    client.middlewareStack.remove(name);
  };
}

/** Plaintext keys that occur in `value` once serialised (an empty list is the only good answer). */
export function leakedKeys(value: unknown, plaintextKeys: readonly string[]): string[] {
  const text = JSON.stringify(value);
  return plaintextKeys.filter((key) => text.includes(key));
}

/** Rotation deps as makeTestDeps returns them. */
export type TestDeps = RotationDeps & { tableName: string; secretNamePrefix: string };
