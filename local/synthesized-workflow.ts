/**
 * The rotation state machine as the local interpreter (aws-local-stepfunctions) runs it:
 * the real definition from the synthesized CDK template, with its references resolved to
 * emulated resources; the real Lambda handlers run in-process (lambdas/handlers/step-handlers.ts); and the direct service
 * integrations (sns:publish, dynamodb:updateItem/getItem) sent through the SDK, as Step Functions
 * would. Shared by the workflow tests and the local rehearsal.
 */
import { App } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { stepFunctionsOf } from '../lib/keyroll-rotation';
import { KeyRollStack } from '../lib/keyroll-stack';
import { RotationStates } from '../lib/rotation-definition';
import { authorizeLocalCall } from './local-identity';

/** The synthesized definition with its CloudFormation references resolved, and who is who. */
export interface SynthesizedWorkflow {
  readonly definition: Record<string, unknown>;
  /** Function ARN used in the definition → step name (beginRotation, createSecret, ...). */
  readonly functionArnToStep: ReadonlyMap<string, string>;
}

/** Logical ids of the parts of the stack a local run stands in for. */
export interface KeyRollLogicalIds {
  readonly table: string;
  readonly clientTopic: string;
  readonly opsTopic: string;
  readonly rotationStateMachine: string;
  readonly fleetStateMachine: string;
  /** Rotation step (beginRotation, createSecret, ...) → its function. */
  readonly rotationFunctions: Readonly<Record<string, string>>;
  readonly fleetPageFunction: string;
}

/**
 * The KeyRoll stack, synthesized in memory (bundling skipped), and how to find its parts.
 * Plain data (JSON), so a test harness can synthesize once and share it.
 */
export interface SynthesizedKeyRoll {
  readonly resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  readonly outputs: Record<string, { Value: unknown }>;
  readonly ids: KeyRollLogicalIds;
}

/** Synthesizes the real stack once; {@link resolveWorkflow} and {@link tableDefinition} read it. */
export function synthesizeKeyRoll(): SynthesizedKeyRoll {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new KeyRollStack(app, 'KeyRollLocal', { env: { account: '123456789012', region: 'us-east-1' } });
  const template = app.synth().getStackByName(stack.stackName).template as { Resources: SynthesizedKeyRoll['resources']; Outputs: SynthesizedKeyRoll['outputs'] };
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const { rotation, fleet } = stack;
  const ids: KeyRollLogicalIds = {
    table: logicalId(rotation.table),
    clientTopic: logicalId(rotation.clientTopic),
    opsTopic: logicalId(rotation.opsTopic),
    rotationStateMachine: logicalId(rotation.stateMachine),
    fleetStateMachine: logicalId(fleet.stateMachine),
    rotationFunctions: Object.fromEntries(stepFunctionsOf(rotation.functions).map(([step, fn]) => [step, logicalId(fn)])),
    fleetPageFunction: logicalId(fleet.node.findChild('FleetPageFunction')),
  };
  return { resources: template.Resources, outputs: template.Outputs, ids };
}

/** The table's CreateTable input, taken from the synthesized template (so the schema cannot drift). */
export function tableDefinition(synth: SynthesizedKeyRoll, tableName: string): Record<string, unknown> {
  const table = synth.resources[synth.ids.table];
  if (!table) throw new Error('The synthesized template has no KeyRoll table.');
  const { KeySchema, AttributeDefinitions, GlobalSecondaryIndexes, BillingMode } = table.Properties;
  return { TableName: tableName, KeySchema, AttributeDefinitions, GlobalSecondaryIndexes, BillingMode };
}

/** Resolves a synthesized DefinitionString's `Fn::Join` with `references` (`Ref:<id>` / `GetAtt:<id>.<attr>`). */
function resolveDefinition(synth: SynthesizedKeyRoll, machineLogicalId: string, references: ReadonlyMap<string, string>): Record<string, unknown> {
  const machine = synth.resources[machineLogicalId];
  if (machine?.Type !== 'AWS::StepFunctions::StateMachine') throw new Error(`The synthesized template has no state machine ${machineLogicalId}.`);
  const definitionString = machine.Properties.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const text =
    typeof definitionString === 'string'
      ? definitionString
      : definitionString['Fn::Join'][1]
          .map((part) => {
            if (typeof part === 'string') return part;
            const ref = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
            const key = ref.Ref ? `Ref:${ref.Ref}` : `GetAtt:${ref['Fn::GetAtt']![0]}.${ref['Fn::GetAtt']![1]}`;
            const resolved = references.get(key);
            if (resolved === undefined) throw new Error(`Unresolved reference in the definition: ${JSON.stringify(part)}`);
            return resolved;
          })
          .join(definitionString['Fn::Join'][0]);
  const definition = JSON.parse(text) as Record<string, unknown>;
  // The execution timeout (max overlap + 1 h, about 30 days) exceeds what a Node timer can
  // hold (2^31-1 ms): the interpreter's timer would overflow and fire at once. Time is
  // simulated locally anyway; the infra tests assert the real value.
  delete definition.TimeoutSeconds;
  return definition;
}

/** The emulated resources a local run uses in place of the stack's. */
export interface LocalResources {
  readonly tableName: string;
  readonly clientTopicArn: string;
  readonly opsTopicArn: string;
}

/** Local ARN of the rotation state machine (the fleet's items start it). */
export const LOCAL_ROTATION_STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:KeyRollRotation';

function commonReferences(synth: SynthesizedKeyRoll, resources: LocalResources): Map<string, string> {
  const { ids } = synth;
  const references = new Map<string, string>();
  references.set(`Ref:${ids.clientTopic}`, resources.clientTopicArn);
  references.set(`Ref:${ids.opsTopic}`, resources.opsTopicArn);
  references.set(`Ref:${ids.table}`, resources.tableName);
  references.set(`Ref:${ids.rotationStateMachine}`, LOCAL_ROTATION_STATE_MACHINE_ARN);
  references.set('Ref:AWS::Partition', 'aws');
  references.set('Ref:AWS::Region', 'us-east-1');
  references.set('Ref:AWS::AccountId', '123456789012');
  references.set('Ref:AWS::URLSuffix', 'amazonaws.com');
  return references;
}

/**
 * Resolves the rotation state machine's DefinitionString: function ARNs become fake ARNs
 * that map to the steps, topic and table references become the given (emulated) resources.
 */
export function resolveWorkflow(synth: SynthesizedKeyRoll, resources: LocalResources): SynthesizedWorkflow {
  const functionArnToStep = new Map<string, string>();
  const references = commonReferences(synth, resources);
  for (const [step, id] of Object.entries(synth.ids.rotationFunctions)) {
    const arn = `arn:aws:lambda:us-east-1:123456789012:function:keyroll-${step}`;
    functionArnToStep.set(arn, step);
    references.set(`GetAtt:${id}.Arn`, arn);
  }
  return { definition: resolveDefinition(synth, synth.ids.rotationStateMachine, references), functionArnToStep };
}

/** Resolves the fleet state machine's definition the same way (its one function is `fleetPage`). */
export function resolveFleetWorkflow(synth: SynthesizedKeyRoll, resources: LocalResources): SynthesizedWorkflow {
  const references = commonReferences(synth, resources);
  const arn = 'arn:aws:lambda:us-east-1:123456789012:function:keyroll-fleetPage';
  references.set(`GetAtt:${synth.ids.fleetPageFunction}.Arn`, arn);
  return { definition: resolveDefinition(synth, synth.ids.fleetStateMachine, references), functionArnToStep: new Map([[arn, 'fleetPage']]) };
}

/** Where a local rotation's sfn:sendTaskSuccess/Failure go (a local fleet's waiting items). */
export interface TaskTokenSink {
  succeed(token: string, output: string): void;
  fail(token: string, error: string, cause: string): void;
}

/** The direct service integrations of the definition, called through the SDK (against moto locally). */
export class ServiceIntegrations {
  private readonly sns = new SNSClient({});
  private readonly dynamo = new DynamoDBClient({});

  /** @param tokens answers task tokens; without it, a report to a fleet fails as Step Functions would for an unknown token. */
  constructor(private readonly tokens?: TaskTokenSink) {}

  /** Calls `resource` with `parameters`; errors are named `SNS.<Error>` / `DynamoDB.<Error>` as Step Functions names them. */
  async call(resource: string, parameters: Record<string, unknown>): Promise<unknown> {
    const withPrefix = async (prefix: string, call: () => Promise<unknown>) => {
      try {
        return await call();
      } catch (error) {
        const named = new Error((error as Error).message);
        named.name = `${prefix}.${(error as Error).name}`;
        throw named;
      }
    };
    switch (resource) {
      case 'arn:aws:states:::sns:publish':
        return withPrefix('SNS', async () => {
          const { $metadata: _m, ...out } = await this.sns.send(new PublishCommand(parameters as never));
          return out;
        });
      case 'arn:aws:states:::dynamodb:updateItem':
        return withPrefix('DynamoDB', async () => {
          const { $metadata: _m, ...out } = await this.dynamo.send(new UpdateItemCommand(parameters as never));
          return out;
        });
      case 'arn:aws:states:::dynamodb:getItem':
        return withPrefix('DynamoDB', async () => {
          const { $metadata: _m, ...out } = await this.dynamo.send(new GetItemCommand(parameters as never));
          return out;
        });
      case 'arn:aws:states:::aws-sdk:sfn:sendTaskSuccess':
      case 'arn:aws:states:::aws-sdk:sfn:sendTaskFailure':
        return withPrefix('Sfn', async () => {
          const token = String(parameters.TaskToken);
          // Answered in-process, not through the SDK: announced so the caller's IAM can be judged.
          await authorizeLocalCall({ service: 'SFN', command: resource.endsWith('sendTaskSuccess') ? 'SendTaskSuccess' : 'SendTaskFailure', input: parameters });
          if (!this.tokens) throw Object.assign(new Error('Invalid token'), { name: 'InvalidTokenException' });
          if (resource.endsWith('sendTaskSuccess')) this.tokens.succeed(token, String(parameters.Output));
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the definition passes strings; String() keeps a malformed one from throwing here
          else this.tokens.fail(token, String(parameters.Error), String(parameters.Cause ?? ''));
          return {};
        });
      default:
        throw new Error(`No local integration for ${resource}.`);
    }
  }
}

interface StateJson {
  Type: string;
  Resource?: string;
  ItemProcessor?: { States: Record<string, StateJson> };
  Iterator?: { States: Record<string, StateJson> };
  Branches?: { States: Record<string, StateJson> }[];
}

/** The Task states of a definition with their resources, in definition order, those of Map item processors and Parallel branches included (the interpreter finds local handlers by state name at any depth). */
export function taskStates(workflow: SynthesizedWorkflow): [name: string, resource: string][] {
  const walk = (states: Record<string, StateJson>): [string, string][] =>
    Object.entries(states).flatMap(([name, state]) => [
      ...(state.Type === 'Task' && state.Resource ? [[name, state.Resource] as [string, string]] : []),
      ...walk((state.ItemProcessor ?? state.Iterator)?.States ?? {}),
      ...(state.Branches ?? []).flatMap((branch) => walk(branch.States)),
    ]);
  return walk(workflow.definition.States as Record<string, StateJson>);
}

/** Every state of the definition mapped to 0: for the interpreter's wait and retry-interval overrides. */
export function zeroForEveryState(workflow: SynthesizedWorkflow): Record<string, number> {
  return Object.fromEntries(Object.keys(workflow.definition.States as object).map((name) => [name, 0]));
}

/** What the last usage check said (its output carries the Wait states' timestamps). */
export interface UsageWaitTargets {
  readonly checkAt?: string;
  readonly notAfter?: string;
}

/**
 * Where the Wait before `state` ends, by the last usage check: WaitForUsageCheck before
 * CheckPreviousKeyUsage, WaitOverlap before RetireOldKey. Local runners skip the Waits and
 * move their clock here instead.
 */
export function waitTargetBefore(state: string, lastCheck: UsageWaitTargets | undefined): string | undefined {
  if (state === RotationStates.CHECK_USAGE) return lastCheck?.checkAt;
  if (state === RotationStates.RETIRE_OLD_KEY) return lastCheck?.notAfter;
  return undefined;
}

/** The `$$` context of a local execution named `rotationId`. */
export function executionContext(rotationId: string, input: unknown, startMs: number) {
  return {
    Execution: {
      Id: `arn:aws:states:us-east-1:123456789012:execution:KeyRollRotation:${rotationId}`,
      Name: rotationId,
      Input: input as never,
      StartTime: new Date(startMs).toISOString(),
    },
  };
}
