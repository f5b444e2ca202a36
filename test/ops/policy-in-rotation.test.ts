/**
 * The client's policy in its rotations (moto): a scheduled rotation takes the policy's overlap,
 * a requested overlap is capped at the policy's hard deadline, and usage-aware retirement stops
 * extending the previous key at that deadline instead of the deployment's maximum.
 */
import { RotationMode } from '../../lambdas/core/rotation-request';
import { onboardClient } from '../../operator/ops';
import { beginRotation, checkUsage, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { newRotationId } from '../support/fixtures';
import { rotationRequest } from '../support/step-helpers';
import { makeOpsWorld, onboarding, WEEKLY_BERLIN, type OpsWorld } from './ops-fixtures';
import { checkNoPlaintextInOpsWorlds } from './ops-tap';

let w: OpsWorld;
checkNoPlaintextInOpsWorlds(() => w);

beforeEach(async () => {
  w = await makeOpsWorld();
});

it('a scheduled rotation takes the policy overlap; a requested one is capped at the policy hard deadline', async () => {
  const { client } = await onboardClient(w.ops, onboarding());
  const scheduled = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId: newRotationId() });
  expect(scheduled.overlapSeconds).toBe(WEEKLY_BERLIN.overlapSeconds);
  await w.ops.keys.releaseLock(client.clientId, scheduled.rotationId);
  const manual = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.MANUAL, { overlapSeconds: 5 * 86_400 }), rotationId: newRotationId() });
  expect(manual.overlapSeconds).toBe(WEEKLY_BERLIN.maxOverlapSeconds);
});

it('usage-aware retirement retires at the policy hard deadline although the old key is still used', async () => {
  const { client } = await onboardClient(w.ops, onboarding());
  const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId: newRotationId() });
  await createSecret(w.steps, context);
  await setSecret(w.steps, context);
  await testSecret(w.steps, context);
  await finishSecret(w.steps, context);
  const finishedMs = w.clock.nowMs();
  // The client keeps using the old key: each check extends its not-after, until the policy's deadline.
  let decision = await checkUsage(w.steps, context);
  for (let i = 0; i < 50 && decision.decision !== 'retire'; i++) {
    const checkAt = Date.parse((decision as { checkAt: string }).checkAt);
    w.clock.advance(checkAt - w.clock.nowMs());
    await w.ops.keys.recordUse(client.currentKeyHash, new Date(w.clock.nowMs()).toISOString(), new Date(w.clock.nowMs()).toISOString());
    decision = await checkUsage(w.steps, context);
  }
  expect(decision).toMatchObject({ decision: 'retire', deadlineReached: true, notAfter: new Date(finishedMs + WEEKLY_BERLIN.maxOverlapSeconds * 1000).toISOString() });
});
