/**
 * The rotation steps the ops tests call directly are judged by the IAM check (docs/design.md
 * invariant 10): each runs as its own Lambda function (test/support/judged-steps.ts), so its
 * calls are evaluated against that function's role in the synthesized template, as the local
 * rotation runner's are per Task state. The operator API (onboardClient) stays unjudged.
 */
import { RotationMode } from '../../lambdas/core/rotation-request';
import { onboardClient } from '../../operator/ops';
import { asList, identityStatements, type CfnTemplate } from '../infra/iam-rules';
import { evaluatorOf } from '../support/iam-evaluator';
import { iamChecks, takeIamDenials, useTemplateForIam } from '../support/iam-guard';
import { synthesizedTemplate } from '../support/iam-template';
import { newRotationId } from '../support/fixtures';
import { beginRotation, createSecret, finishSecret, setSecret, testSecret } from '../support/judged-steps';
import { rotationRequest } from '../support/step-helpers';
import { failure, makeOpsWorld, onboarding, type OpsWorld } from './ops-fixtures';

let w: OpsWorld;

beforeEach(async () => {
  w = await makeOpsWorld();
});

afterEach(() => useTemplateForIam(undefined));

/** The synthesized template without `dynamodb:PutItem` for the SetSecret function's role. */
function setSecretWithoutPutItem(): CfnTemplate {
  const copy = JSON.parse(JSON.stringify(synthesizedTemplate())) as CfnTemplate;
  const role = (evaluatorOf(copy).principals.roleOf({ function: 'setSecret' }) as { role: string }).role;
  for (const { role: holder, statement } of identityStatements(copy)) {
    if (holder === role) statement.Action = asList(statement.Action).filter((a) => a !== 'dynamodb:PutItem');
  }
  return copy;
}

describe('rotation steps called directly by the ops tests', () => {
  it('are judged against their own function roles, and the operator API is not', async () => {
    iamChecks(true);
    const { client } = await onboardClient(w.ops, onboarding());
    expect(iamChecks()).toEqual([]); // operator calls: no role in the template, not judged

    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
    await createSecret(w.steps, context);
    await setSecret(w.steps, context);
    await testSecret(w.steps, context);
    await finishSecret(w.steps, context);

    const checks = iamChecks(true);
    expect(new Set(checks.map((c) => c.who))).toEqual(
      new Set(['RotationBeginRotationFunction', 'RotationCreateSecretFunction', 'RotationSetSecretFunction', 'RotationTestSecretFunction', 'RotationFinishSecretFunction']),
    );
    expect(checks.filter((c) => !c.decision.allowed)).toEqual([]);
  });

  it('a permission missing from a step role fails that step with AccessDenied and is recorded', async () => {
    const { client } = await onboardClient(w.ops, onboarding());
    const rotationId = newRotationId();
    await w.startExecution(rotationId, client.clientId);
    const context = await beginRotation(w.steps, { request: rotationRequest(client.clientId, RotationMode.SCHEDULED), rotationId });
    await createSecret(w.steps, context);

    useTemplateForIam(setSecretWithoutPutItem());
    const denied = await failure(setSecret(w.steps, context));

    expect(denied.name).toBe('AccessDeniedException');
    const denials = takeIamDenials(); // taken here, so the afterEach check sees none
    expect(denials.length).toBeGreaterThan(0);
    expect(denials.every((d) => d.who === 'RotationSetSecretFunction' && d.request.action === 'dynamodb:PutItem')).toBe(true);
  });
});
