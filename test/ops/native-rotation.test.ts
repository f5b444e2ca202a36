/**
 * Secrets Manager's own rotation stays off KeyRoll's client secrets (issue 15 item 5):
 * onboarding attaches a resource policy that denies secretsmanager:RotateSecret to every
 * principal (KeyRoll never calls it: its state machine is the rotator), also to a client
 * registered before it did, on a re-run; and a rotation of a secret with RotationEnabled is
 * refused by name (test/handlers/begin-guards.test.ts). moto stores resource policies but does
 * not evaluate them, so the deny itself is asserted as written, not enforced.
 */
import { DeleteResourcePolicyCommand, GetResourcePolicyCommand, RotateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { RotationMode } from '../../lambdas/core/rotation-request';
import { secretsManagerClient } from '../../lambdas/aws/clients';
import { onboardClient } from '../../operator/ops';
import { beginRotation } from '../support/judged-steps';
import { DENY_NATIVE_ROTATION_POLICY } from '../../lambdas/aws/secret-rotation-guard';
import { newRotationId } from '../support/fixtures';
import { rotationRequest } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';

let w: OpsWorld;
const secretsManager = secretsManagerClient();

beforeEach(async () => {
  w = await makeOpsWorld();
});

async function policyOf(secretId: string): Promise<unknown> {
  const { ResourcePolicy } = await secretsManager.send(new GetResourcePolicyCommand({ SecretId: secretId }));
  return ResourcePolicy ? JSON.parse(ResourcePolicy) : undefined;
}

it('onboarding attaches a resource policy that denies RotateSecret to every principal, and nothing else', async () => {
  const { client } = await onboardClient(w.ops, onboarding());
  expect(await policyOf(client.secretId)).toEqual({
    Version: '2012-10-17',
    Statement: [{ Sid: 'KeyRollIsTheOnlyRotator', Effect: 'Deny', Principal: '*', Action: 'secretsmanager:RotateSecret', Resource: '*' }],
  });
  expect(JSON.parse(DENY_NATIVE_ROTATION_POLICY)).toEqual(await policyOf(client.secretId));
});

it('re-running onboarding attaches it to a client secret that lacks it (registered before onboarding did)', async () => {
  const request = onboarding();
  const { client } = await onboardClient(w.ops, request);
  await secretsManager.send(new DeleteResourcePolicyCommand({ SecretId: client.secretId }));
  expect(await policyOf(client.secretId)).toBeUndefined();
  const again = await onboardClient(w.ops, request);
  expect(again.registered).toBe(false);
  expect(await policyOf(client.secretId)).toEqual(JSON.parse(DENY_NATIVE_ROTATION_POLICY));
});

it('a secret on which native rotation was turned on anyway (the policy removed first) is refused at the start of a rotation', async () => {
  const { client } = await onboardClient(w.ops, onboarding());
  await secretsManager.send(new DeleteResourcePolicyCommand({ SecretId: client.secretId }));
  await secretsManager.send(new RotateSecretCommand({ SecretId: client.secretId, RotationRules: { AutomaticallyAfterDays: 30 }, RotateImmediately: false }));
  const error = await failure(beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.EMERGENCY), rotationId: newRotationId() }));
  expect(error).toMatchObject({ name: 'NativeRotationEnabled', clientId: client.clientId, secretId: client.secretId });
  expect(error.message).toContain('cancel-rotate-secret');
  expect((await w.ops.keys.requireClient(client.clientId)).lock).toBeUndefined();
});
