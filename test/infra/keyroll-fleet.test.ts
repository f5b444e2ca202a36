/**
 * The fleet rotation as synthesized: a Distributed Map paced by MaxConcurrency whose items
 * start ordinary rotations and wait for their task token; least privilege for the fleet's
 * page function and both state machines' task-token permissions.
 */
import { App, Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { FleetStates, LOCK_HOLDER_WAIT_FACTOR, STARTED_ROTATION_POLL } from '../../lib/fleet-definition';
import { KeyRollFleet } from '../../lib/keyroll-fleet';
import { KeyRollRotation } from '../../lib/keyroll-rotation';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { asArray, newTestApp, removeTempDirs, TEST_ENV } from './infra-app';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

let stack: KeyRollStack;
let template: Template;

afterAll(removeTempDirs);

beforeAll(() => {
  stack = new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV, fleet: { maxConcurrency: 25 } });
  template = Template.fromStack(stack);
});

const logicalId = (construct: IConstruct): string => stack.getLogicalId(construct.node.defaultChild as CfnElement);

function fleetDefinition(): { States: Record<string, Record<string, any>> } {
  const machine = template.toJSON().Resources[logicalId(stack.fleet.stateMachine)];
  const parts = machine.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  // References sit inside JSON strings (ARNs): a placeholder keeps the text parseable.
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '__TOKEN__')).join(''));
}

function statementsOf(roleConstruct: IConstruct): Statement[] {
  const roleId = logicalId(roleConstruct);
  return Object.values(template.toJSON().Resources as Record<string, any>)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Statement[]);
}

describe('the fleet state machine', () => {
  test('is Standard, traced, logs without execution data, under the name the rotation answers', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: stack.rotation.fleetStateMachineName,
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    expect(stack.rotation.fleetStateMachineName).toMatch(/-Fleet$/);
  });

  test('pages through the clients and rotates each page with a Distributed Map at the configured concurrency', () => {
    const states = fleetDefinition().States;
    expect(states[FleetStates.LIST_CLIENTS]).toMatchObject({ Type: 'Task', Next: FleetStates.HAS_CLIENTS });
    const map = states[FleetStates.ROTATE_CLIENTS];
    expect(map).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 25,
      ToleratedFailurePercentage: 100,
      // The results replace the page's items (no list grows in the state: 256 KiB per state).
      ItemsPath: '$.page',
      ResultPath: '$.page',
      Next: FleetStates.LIST_CLIENTS,
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
    });
    // Each item carries ids and the small request fields: never the request's lists.
    expect(map.ItemSelector).toEqual({
      'clientId.$': '$$.Map.Item.Value.clientId',
      'startAt.$': '$$.Map.Item.Value.startAt',
      'rotationId.$': '$$.Map.Item.Value.rotationId',
      'mode.$': '$.request.mode',
      'reason.$': '$.request.reason',
      'requestedBy.$': '$.request.requestedBy',
      'revokeImmediately.$': '$.request.revokeImmediately',
      lookups: 0,
    });
    expect(map.ItemProcessor.StartAt).toBe(FleetStates.PACE_START);
    expect(map.ItemProcessor.States[FleetStates.PACE_START]).toEqual({ Type: 'Wait', TimestampPath: '$.startAt', Next: FleetStates.ROTATE_CLIENT });
    const item = map.ItemProcessor.States[FleetStates.ROTATE_CLIENT];
    // Start a rotation and wait for its report; a rotation's own failure is caught, never retried.
    expect(item.Resource).toContain('states:startExecution.waitForTaskToken');
    expect(item.Parameters.Input).toEqual({
      'clientId.$': '$.clientId',
      'mode.$': '$.mode',
      'reason.$': '$.reason',
      'requestedBy.$': '$.requestedBy',
      'revokeImmediately.$': '$.revokeImmediately',
      'callbackToken.$': '$$.Task.Token',
    });
    // The execution name is the item's rotation id (per fleet and client): a retried start cannot start a second rotation.
    expect(item.Parameters['Name.$']).toBe('$.rotationId');
    expect(item.TimeoutSeconds).toBe(900);
    expect(item.Retry.flatMap((r: { ErrorEquals: string[] }) => r.ErrorEquals)).not.toContain('States.ALL');
    expect(item.Catch).toEqual([
      { ErrorEquals: ['StepFunctions.ExecutionAlreadyExistsException'], ResultPath: null, Next: FleetStates.FIND_STARTED_ROTATION },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: FleetStates.CLIENT_NOT_ROTATED },
    ]);
    expect(map.ItemProcessor.States[FleetStates.FIND_STARTED_ROTATION]).toMatchObject({
      Resource: expect.stringMatching(/^arn:.+:states:::dynamodb:getItem$/),
      Parameters: { ProjectionExpression: 'currentVersionId, #lock.rotationId' },
    });
    // Every path back to the lookup is bounded: waiting on a lock holder too (an orphaned lock would hold the Map for hours).
    const lookups = 900 / STARTED_ROTATION_POLL.toSeconds();
    expect(map.ItemProcessor.States[FleetStates.KEEP_LOOKING]).toMatchObject({ Choices: [{ Variable: '$.lookups', NumericLessThan: lookups }], Default: FleetStates.STARTED_ROTATION_NOT_OBSERVED });
    expect(map.ItemProcessor.States[FleetStates.IS_STARTED_ROTATION_LOCKED].Choices[0].Next).toBe(FleetStates.KEEP_WAITING_FOR_LOCK_HOLDER);
    expect(map.ItemProcessor.States[FleetStates.KEEP_WAITING_FOR_LOCK_HOLDER]).toMatchObject({
      Choices: [{ Variable: '$.lookups', NumericLessThan: lookups * LOCK_HOLDER_WAIT_FACTOR, Next: FleetStates.WAIT_FOR_STARTED_ROTATION }],
      Default: FleetStates.STARTED_ROTATION_NOT_OBSERVED,
    });
    expect(states[FleetStates.ALL_ROTATED]).toMatchObject({ Type: 'Choice', Default: FleetStates.FLEET_INCOMPLETE });
    expect(states[FleetStates.FLEET_INCOMPLETE]).toMatchObject({ Type: 'Fail', Error: 'FleetRotationIncomplete' });
  });

  test('its role may start the rotation state machine and nothing of Secrets Manager', () => {
    const statements = statementsOf(stack.fleet.stateMachine.role);
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect(actions).toContain('states:StartExecution');
    expect(actions.filter((a) => a.startsWith('secretsmanager:'))).toEqual([]);
    const start = statements.filter((s) => asArray(s.Action).includes('states:StartExecution'));
    expect(JSON.stringify(start)).toContain(logicalId(stack.rotation.stateMachine));
  });

  test('its role reads only two attributes of client records (an ambiguous start), nothing else of the table', () => {
    const statements = statementsOf(stack.fleet.stateMachine.role).filter((s) => asArray(s.Action).some((a) => a.startsWith('dynamodb:')));
    expect(statements.flatMap((s) => asArray(s.Action))).toEqual(['dynamodb:GetItem']);
    expect(statements[0].Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['CLIENT#*'] },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'currentVersionId', 'lock'] },
      StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
  });
});

describe('the rotation answering the fleet', () => {
  test('may send task success/failure, on "*": the actions have no resource type', () => {
    // The Service Authorization Reference lists no resource type for SendTaskSuccess/Failure
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html),
    // so a grant on the fleet's ARN would never match; test/workflow/recorded-calls-iam.test.ts evaluates it.
    const statements = statementsOf(stack.rotation.stateMachine.role).filter((s) => asArray(s.Action).some((a) => a.startsWith('states:SendTask')));
    // minimizePolicies merges them with the other resource-less grants (log delivery, X-Ray).
    expect(
      statements
        .flatMap((s) => asArray(s.Action))
        .filter((a) => a.startsWith('states:'))
        .sort(),
    ).toEqual(['states:SendTaskFailure', 'states:SendTaskSuccess']);
    for (const s of statements) expect(s.Resource).toBe('*');
  });
});

describe('the fleet page function', () => {
  test('may only query the byClient index and fleet selections (through KMS via DynamoDB) and write its logs', () => {
    const fn = stack.fleet.node.findChild('FleetPageFunction') as IConstruct & { role?: IConstruct };
    const statements = statementsOf(stack.fleet.node.findChild('FleetPageRole'));
    const actions = statements.flatMap((s) => asArray(s.Action)).sort();
    expect(actions).toEqual(['dynamodb:Query', 'dynamodb:Query', 'kms:Decrypt', 'kms:DescribeKey', 'logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'].sort());
    const [index, selections] = statements.filter((s) => asArray(s.Action).includes('dynamodb:Query'));
    expect(JSON.stringify(index.Resource)).toContain('/index/byClient');
    expect(index.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['CLIENTS'] } });
    // The table itself only in FLEET#<fleetId> partitions: no client record, key or audit entry.
    expect(selections.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['FLEET#*'] } });
    expect(fn).toBeDefined();
  });
});

describe('props', () => {
  test.each([0, 501])('rejects pageSize %p (a page of results must fit 256 KiB)', (pageSize) => {
    const stack = new Stack(new App(), 'S', { env: TEST_ENV });
    const rotation = new KeyRollRotation(stack, 'Rotation', {});
    expect(() => new KeyRollFleet(stack, 'Fleet', { rotation, pageSize })).toThrow(/pageSize must be 1-500/);
  });

  test.each([0, 1001, 2.5])('rejects maxConcurrency %p', (maxConcurrency) => {
    const stack = new Stack(new App(), 'S', { env: TEST_ENV });
    const rotation = new KeyRollRotation(stack, 'Rotation', {});
    expect(() => new KeyRollFleet(stack, 'Fleet', { rotation, maxConcurrency })).toThrow(/maxConcurrency must be 1-1000/);
  });
});
