/**
 * Late writes (docs/design.md, invariants 7 and 8), reproduced with the real steps and the
 * operator API over moto: one side's AWS request is held in flight — as a stopped execution's
 * Lambda, or an SDK retry, would send it seconds later — while an emergency rotation does its
 * work, and then lands. Secrets Manager answers as documented (the emulator is patched so):
 * UpdateSecretVersionStage is a compare-and-set on RemoveFromVersionId
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html).
 * The emergency must end with its key the only valid one and labels equal to the table.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { KeyState } from '../../lambdas/core/key-state';
import { DEFAULT_ZOMBIE_WINDOW_SECONDS } from '../../lambdas/core/zombie-window';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { onboardClient, repairLabels, rollbackLastRotation } from '../../operator/ops';
import { KeyRepository } from '../../lambdas/aws/key-repository';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import type { ClientWithPending, RotationContext, RotationDeps } from '../../lambdas/aws/rotation/context';
import { SecretStore, Stage } from '../../lambdas/aws/secret-store';
import { newRotationId } from '../support/fixtures';
import { labelsAndTableViolations } from '../support/crash-invariants';
import { labels, rotationRequest } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
});

/** An SDK client whose first `command` waits, already built, until released (a request in flight). */
interface Gate {
  /** Resolves when the held request has been built and is waiting. */
  readonly held: Promise<void>;
  release(): void;
}

function gateOn(client: { middlewareStack: { add: (...args: never[]) => unknown } }, command: string): Gate {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const held = new Promise<void>((resolve) => (arrived = resolve));
  let armed = true;
  (client.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
      if (armed && context.commandName === `${command}Command`) {
        armed = false;
        arrived();
        await open;
      }
      return next(args);
    },
    { step: 'initialize', name: 'lateWriteGate' },
  );
  return { held, release };
}

function gatedSecrets(command: string): { store: SecretStore; gate: Gate } {
  const client = new SecretsManagerClient({});
  return { store: new SecretStore(client), gate: gateOn(client, command) };
}

async function rotateThroughTest(deps: RotationDeps, clientId: string, rotationId: string, mode: RotationMode = RotationMode.SCHEDULED): Promise<RotationContext> {
  const context = await beginRotation(deps, { request: rotationRequest(clientId, mode, mode === RotationMode.EMERGENCY ? {} : { overlapSeconds: 3600 }), rotationId });
  await createSecret(deps, context);
  await setSecret(deps, context);
  await testSecret(deps, context);
  return context;
}

async function stateOfKeyMadeBy(clientId: string, rotationId: string): Promise<string | undefined> {
  const key = (await w.ops.keys.listClientKeys(clientId)).find((k) => k.rotationId === rotationId);
  return key ? (await w.ops.keys.getKey(key.keyHash))?.state : undefined;
}

/** After the emergency: its key the only one not REVOKED, current and ACTIVE; labels equal to the table. */
async function expectEmergencyWon(clientId: string, emergencyId: string): Promise<void> {
  await w.ops.keys.releaseLock(clientId, emergencyId); // the state machine's ReleaseLock
  expect(await labelsAndTableViolations(w.steps, clientId, emergencyId)).toEqual([]);
  const client = await w.ops.keys.requireClient(clientId);
  const keys = await Promise.all((await w.ops.keys.listClientKeys(clientId)).map(async (k) => (await w.ops.keys.getKey(k.keyHash))!));
  const live = keys.filter((k) => k.state !== KeyState.REVOKED);
  expect(live.map((k) => [k.keyHash, k.state])).toEqual([[client.currentKeyHash, KeyState.ACTIVE]]);
  expect(live[0].rotationId).toBe(emergencyId);
}

describe('a rotation whose finishSecret label move lands late (issue 15, item 1)', () => {
  it.each([
    ['after the emergency finished: the compare-and-set refuses it', 'after-finish'],
    ['between the emergency taking the lock and its finish: the emergency moves AWSCURRENT on', 'before-finish'],
  ] as const)('%s', async (_title, when) => {
    const { client } = await onboardClient(w.ops, onboarding());
    const scheduledId = newRotationId();
    await w.startExecution(scheduledId, client.clientId);
    const scheduled = await rotateThroughTest(w.steps, client.clientId, scheduledId);

    // The scheduled rotation's finishSecret has read the labels and sent AWSCURRENT → its version.
    const { store, gate } = gatedSecrets('UpdateSecretVersionStage');
    const late = finishSecret({ ...w.steps, secrets: store }, scheduled).then(
      () => undefined,
      (error: Error) => error,
    );
    await gate.held;

    const emergencyId = newRotationId();
    const emergency = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.EMERGENCY), rotationId: emergencyId });
    expect(await w.executionStatus(scheduledId)).toBe('ABORTED');
    await createSecret(w.steps, emergency);
    if (when === 'before-finish') {
      gate.release();
      expect((await late)?.name).toBe('RotationStateConflict'); // its next step finds the lock taken
      expect(Object.entries(await labels(client.secretId)).find(([, l]) => l.includes(Stage.CURRENT))?.[0]).toBe(scheduledId);
    }
    await setSecret(w.steps, emergency);
    await testSecret(w.steps, emergency);
    await finishSecret(w.steps, emergency);
    if (when === 'after-finish') {
      gate.release();
      expect((await late)?.name).toBe('RotationStateConflict');
    }

    await expectEmergencyWon(client.clientId, emergencyId);
    expect(await stateOfKeyMadeBy(client.clientId, scheduledId)).toBe(KeyState.REVOKED);
  });
});

describe('an operator rollback racing an emergency (issue 15, item 2)', () => {
  async function inOverlap() {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    await finishSecret(w.steps, await rotateThroughTest(w.steps, client.clientId, rotationId, RotationMode.MANUAL));
    w.clock.advance((DEFAULT_ZOMBIE_WINDOW_SECONDS + 1) * 1000); // a rollback waits out the zombie window after the finish
    return { clientId: client.clientId, rotationId };
  }

  async function emergencyThrough(clientId: string): Promise<string> {
    const emergencyId = newRotationId();
    const emergency = await beginRotation(w.steps, { request: rotationRequest(clientId, RotationMode.EMERGENCY), rotationId: emergencyId });
    await createSecret(w.steps, emergency);
    await setSecret(w.steps, emergency);
    await testSecret(w.steps, emergency);
    await finishSecret(w.steps, emergency);
    return emergencyId;
  }

  it('the emergency takes the lock while the rollback is about to take it: the rollback changes nothing', async () => {
    const { clientId } = await inOverlap();
    // The rollback has read the lock holder; its write taking the lock is held in flight.
    const ddb = new DynamoDBClient({});
    const gate = gateOn(ddb, 'TransactWriteItems');
    const keys = new KeyRepository(DynamoDBDocumentClient.from(ddb), w.outputs.TableName);
    const rollback = failure(rollbackLastRotation({ ...w.ops, keys }, { clientId, requestedBy: 'ops', reason: 'bad deploy' }));
    await gate.held;
    const emergencyId = await emergencyThrough(clientId);
    gate.release();
    expect((await rollback).name).toBe('RotationInProgress');
    await expectEmergencyWon(clientId, emergencyId);
  });

  it('the rollback holds the lock and its label move is in flight when the emergency preempts it: the emergency wins', async () => {
    const { clientId } = await inOverlap();
    const { store, gate } = gatedSecrets('UpdateSecretVersionStage');
    const rollback = failure(rollbackLastRotation({ ...w.ops, secrets: store }, { clientId, requestedBy: 'ops', reason: 'bad deploy' }));
    await gate.held;
    const emergencyId = await emergencyThrough(clientId);
    gate.release();
    expect((await rollback).name).toBe('RotationStateConflict');
    await expectEmergencyWon(clientId, emergencyId);
  });
});

describe('an operator rollback right after the finish (a duplicate finishSecret may still be in flight)', () => {
  it('is refused by name until the zombie window has passed, and changes nothing', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    await finishSecret(w.steps, await rotateThroughTest(w.steps, client.clientId, rotationId, RotationMode.MANUAL));
    const before = await labels(client.secretId);
    const refused = await failure(rollbackLastRotation(w.ops, { clientId: client.clientId, requestedBy: 'ops', reason: 'bad deploy' }));
    expect(refused.name).toBe('RollbackNotPossible');
    expect(refused.message).toContain('zombie window');
    expect(await labels(client.secretId)).toEqual(before);
    expect(await w.executionStatus(rotationId)).toBe('RUNNING');
    w.clock.advance((DEFAULT_ZOMBIE_WINDOW_SECONDS + 1) * 1000);
    await expect(rollbackLastRotation(w.ops, { clientId: client.clientId, requestedBy: 'ops', reason: 'bad deploy' })).resolves.toMatchObject({ outcome: 'rolled-back' });
  });
});

describe('keyroll repair', () => {
  it('puts labels that disagree with the table back, audits it, and a re-run changes nothing', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await finishSecret(w.steps, await rotateThroughTest(w.steps, client.clientId, rotationId, RotationMode.MANUAL));
    await w.ops.keys.releaseLock(client.clientId, rotationId);
    // A hand edit in the console: AWSCURRENT back on the old version.
    await w.ops.secrets.moveStage(client.secretId, Stage.CURRENT, client.currentVersionId, rotationId);
    expect(await labelsAndTableViolations(w.steps, client.clientId)).not.toEqual([]);

    const request = { clientId: client.clientId, requestedBy: 'ops', reason: 'labels moved by hand' };
    const result = await repairLabels(w.ops, request);
    expect(result.repaired).toEqual([`AWSCURRENT is on ${client.currentVersionId}; the table says ${rotationId}`, `AWSPREVIOUS is on ${rotationId}; the table says ${client.currentVersionId}`]);
    expect(await labelsAndTableViolations(w.steps, client.clientId, rotationId)).toEqual([]);
    expect((await repairLabels(w.ops, request)).repaired).toEqual([]);
    const audit = (await w.ops.keys.listAudit(client.clientId)).filter((e) => e.action === 'labels.repaired');
    expect(audit).toHaveLength(2);
  });

  it('refuses while a rotation holds the lock and changes nothing', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.MANUAL), rotationId });
    const before = await labels(client.secretId);
    expect((await failure(repairLabels(w.ops, { clientId: client.clientId, requestedBy: 'ops', reason: 'x' }))).name).toBe('RotationInProgress');
    expect(await labels(client.secretId)).toEqual(before);
    expect(((await w.ops.keys.requireClient(client.clientId)) as ClientWithPending).lock?.rotationId).toBe(rotationId);
  });
});
