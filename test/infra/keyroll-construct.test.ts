/**
 * The KeyRoll construct in a user's stack: the parts and outputs of KeyRollStack, the outputs
 * under their OutputKeys (what the keyroll CLI discovers, operator/cli/stack-discovery.ts), one
 * KeyRoll with outputs per stack; and KeyRollStack, built from the same code, keeping the
 * logical IDs it has always deployed (a changed one would replace the table).
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { REQUIRED_OUTPUTS } from '../../operator/cli/stack-discovery';
import { DuplicateKeyRollOutputsError, KeyRoll, KeyRollStack } from '../../lib';
import { newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

interface CfnTemplate {
  Resources: Record<string, { Type: string; DeletionPolicy?: string }>;
  Outputs: Record<string, { Value: unknown }>;
}

const OUTPUT_KEYS = [
  'StateMachineArn',
  'FleetStateMachineArn',
  'TableName',
  'ClientTopicArn',
  'OpsTopicArn',
  'KeyArn',
  'SecretNamePrefix',
  'KeyPrefix',
  'MinOverlapSeconds',
  'ZombieWindowSeconds',
  'MaxOverlapSeconds',
  'ScheduleGroupName',
  'SchedulerRoleArn',
  'ScheduleDeadLetterQueueArn',
  'ScheduledStartFunctionArn',
  'AuthorizerFunctionArn',
  'PickupUrl',
  'ExampleEndpointUrl',
];

/**
 * Logical IDs of KeyRollStack's stateful resources (retained, or holding executions and
 * schedules) as deployed before the KeyRoll construct existed: renaming one replaces it.
 */
const DEPLOYED_LOGICAL_IDS: Record<string, string> = {
  RotationKey3583D52E: 'AWS::KMS::Key',
  RotationTable31923656: 'AWS::DynamoDB::Table',
  RotationClientTopic291F6C04: 'AWS::SNS::Topic',
  RotationOpsTopic939EBDDA: 'AWS::SNS::Topic',
  RotationBeginRotationLogsB8D8AA98: 'AWS::Logs::LogGroup',
  RotationCreateSecretLogsCEE5D4C1: 'AWS::Logs::LogGroup',
  RotationSetSecretLogs4D0F0926: 'AWS::Logs::LogGroup',
  RotationTestSecretLogsCBBC2BDC: 'AWS::Logs::LogGroup',
  RotationFinishSecretLogs97AB949C: 'AWS::Logs::LogGroup',
  RotationCheckUsageLogs917171A2: 'AWS::Logs::LogGroup',
  RotationRetireOldKeyLogs68D71837: 'AWS::Logs::LogGroup',
  RotationRollbackRotationLogs27ECD4EB: 'AWS::Logs::LogGroup',
  RotationStateMachineLogs33BD3EA5: 'AWS::Logs::LogGroup',
  RotationStateMachine9EDA2FC4: 'AWS::StepFunctions::StateMachine',
  AuthAuthorizerLogs0F360E7D: 'AWS::Logs::LogGroup',
  AuthExampleBackendLogsA68E576E: 'AWS::Logs::LogGroup',
  AuthExampleApi2D3ADAB8: 'AWS::ApiGatewayV2::Api',
  AuthExampleApiAccessLogs8845C06F: 'AWS::Logs::LogGroup',
  SchedulesGroupD276B6F4: 'AWS::Scheduler::ScheduleGroup',
  SchedulesDeadLetterQueue84E31400: 'AWS::SQS::Queue',
  SchedulesScheduledStartLogs10C45985: 'AWS::Logs::LogGroup',
  FleetFleetPageLogs161B8538: 'AWS::Logs::LogGroup',
  FleetStateMachineLogs4F1A3882: 'AWS::Logs::LogGroup',
  FleetStateMachine0C879F9F: 'AWS::StepFunctions::StateMachine',
};

const typeCounts = (template: CfnTemplate) => {
  const counts: Record<string, number> = {};
  for (const resource of Object.values(template.Resources)) counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
  return counts;
};

let stackTemplate: CfnTemplate;
let userStack: Stack;
let keyRoll: KeyRoll;
let userTemplate: CfnTemplate;
beforeAll(() => {
  stackTemplate = Template.fromStack(new KeyRollStack(newTestApp(), 'KeyRoll', { env: TEST_ENV })).toJSON() as CfnTemplate;
  userStack = new Stack(newTestApp(), 'PlatformApi', { env: TEST_ENV });
  keyRoll = new KeyRoll(userStack, 'KeyRoll');
  userTemplate = Template.fromStack(userStack).toJSON() as CfnTemplate;
});
afterAll(removeTempDirs);

describe('KeyRollStack', () => {
  test('keeps the logical IDs of its stateful resources (the parts are built in the stack, not under a construct)', () => {
    const deployed = Object.fromEntries(Object.keys(DEPLOYED_LOGICAL_IDS).map((id) => [id, stackTemplate.Resources[id]?.Type]));
    expect(deployed).toEqual(DEPLOYED_LOGICAL_IDS);
    expect(stackTemplate.Resources.RotationTable31923656.DeletionPolicy).toBe('Retain');
  });

  test('has the outputs the CLI reads, under their OutputKeys', () => {
    expect(Object.keys(stackTemplate.Outputs)).toEqual(OUTPUT_KEYS);
  });
});

describe('the KeyRoll construct in a user stack', () => {
  test('deploys what KeyRollStack deploys: the same resources by type, the same outputs', () => {
    expect(typeCounts(userTemplate)).toEqual(typeCounts(stackTemplate));
    expect(Object.keys(userTemplate.Outputs)).toEqual(OUTPUT_KEYS);
  });

  test("its outputs keep their OutputKeys as logical IDs (nested under the construct, the CLI finds them by the stack's name)", () => {
    expect(Object.keys(userTemplate.Outputs)).toEqual(expect.arrayContaining([...REQUIRED_OUTPUTS]));
    const table = userStack.getLogicalId(keyRoll.rotation.table.node.defaultChild as never);
    expect(table).toMatch(/^KeyRollRotationTable/);
    expect(userTemplate.Outputs.TableName.Value).toEqual({ Ref: table });
    expect(userTemplate.Resources[table].DeletionPolicy).toBe('Retain');
  });

  test('exposes its parts', () => {
    expect(keyRoll.auth.authorizerFunction).toBeDefined();
    expect(keyRoll.rotation.stateMachine).toBeDefined();
    expect(keyRoll.schedules.scheduleGroup).toBeDefined();
    expect(keyRoll.fleet.stateMachine).toBeDefined();
    expect(keyRoll.dashboard).toBeDefined();
  });

  test('a second KeyRoll with outputs in the same stack is DuplicateKeyRollOutputs, naming both, before it builds anything', () => {
    const stack = new Stack(newTestApp(), 'Twice', { env: TEST_ENV });
    new KeyRoll(stack, 'First');
    let error: unknown;
    try {
      new KeyRoll(stack, 'Second');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DuplicateKeyRollOutputsError);
    expect((error as Error).name).toBe('DuplicateKeyRollOutputs');
    expect((error as Error).message).toMatch(/'Twice\/First'.*'Twice\/Second'.*outputs: false/);
    expect(stack.node.tryFindChild('Second')?.node.children ?? []).toHaveLength(0);
  });

  test('outputs: false leaves them out, so a second KeyRoll may share the stack', () => {
    const stack = new Stack(newTestApp(), 'Twice', { env: TEST_ENV });
    new KeyRoll(stack, 'First');
    new KeyRoll(stack, 'Second', { outputs: false, rotation: { keyPrefix: 'two', secretNamePrefix: 'keyroll-two/' }, auth: { exampleApi: false } });
    const outputs = Object.keys((Template.fromStack(stack).toJSON() as CfnTemplate).Outputs);
    expect(outputs).toEqual(OUTPUT_KEYS);
  });

  test('KeyRolls with outputs in two stacks of one app are fine', () => {
    const app = newTestApp();
    new KeyRoll(new Stack(app, 'A', { env: TEST_ENV }), 'KeyRoll');
    expect(() => new KeyRoll(new Stack(app, 'B', { env: TEST_ENV }), 'KeyRoll')).not.toThrow();
  });
});
