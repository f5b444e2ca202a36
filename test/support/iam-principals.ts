/**
 * Which role of the synthesized template makes a call: a Task state's calls are its Lambda
 * function's role when the state invokes a function (the handler's SDK calls) and the state
 * machine's role for a direct integration (sns:publish, dynamodb:updateItem, aws-sdk:sfn:*);
 * a function invoked on its own (the authorizer, the scheduled start) calls with its own role.
 * Read from the template itself (state machine definitions, Lambda Role properties), so a
 * state moved to another function or machine is judged with the role it really has.
 */
import type { LocalPrincipal } from '../../local/local-identity';
import { functionRoles, identityStatements, nameOf, type CfnTemplate, type Statement } from '../infra/iam-rules';

/** A role of the template and what a finding calls it. */
export interface RoleRef {
  /** Logical id of the AWS::IAM::Role. */
  readonly role: string;
  /** Readable: `RotationCreateSecretFunction`, `RotationStateMachine role`. */
  readonly who: string;
}

/** The logical id a `{Ref}` / `{Fn::GetAtt}` names. */
function refOf(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (typeof obj.Ref === 'string') return obj.Ref;
    if (Array.isArray(obj['Fn::GetAtt'])) return String(obj['Fn::GetAtt'][0]);
  }
  return undefined;
}

interface StateDefinition {
  Type: string;
  Resource?: string;
  States?: Record<string, StateDefinition>;
  ItemProcessor?: { States: Record<string, StateDefinition> };
  Iterator?: { States: Record<string, StateDefinition> };
  Branches?: { States: Record<string, StateDefinition> }[];
}

/** A definition's Task states (nested Map and Parallel states included): name → function logical id, or undefined for an integration. */
function tasksOf(template: CfnTemplate, machine: string): Map<string, string | undefined> {
  const definition = template.Resources[machine].Properties!.DefinitionString as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof definition === 'string' ? definition : definition['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : `#REF:${refOf(part) ?? ''}#`)).join(definition['Fn::Join'][0]);
  const out = new Map<string, string | undefined>();
  const walk = (states: Record<string, StateDefinition>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && state.Resource) out.set(name, /^#REF:(.+)#$/.exec(state.Resource)?.[1]);
      for (const nested of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) if (nested) walk(nested.States);
    }
  };
  walk((JSON.parse(text) as { States: Record<string, StateDefinition> }).States);
  return out;
}

/** Who-is-who of one template. */
export interface Principals {
  /** The role a principal's calls are signed with, or a reason why the template has none. */
  roleOf(principal: LocalPrincipal): RoleRef | { readonly missing: string };
  /** The role's identity statements, unresolved (inline and attached policies). */
  statementsOf(role: string): Statement[];
  /** The state machine role of `machine` (`rotation` / `fleet`). */
  machineRole(machine: 'rotation' | 'fleet'): RoleRef;
  /** The function logical id of a Lambda Task state, if it is one. */
  taskFunction(machine: 'rotation' | 'fleet', state: string): string | undefined;
}

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** Reads the principals of `template`. */
export function principalsOf(template: CfnTemplate): Principals {
  const roles = functionRoles(template);
  const machines = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id]) => id);
  const machineIds = { fleet: machines.find((id) => id.startsWith('Fleet')), rotation: machines.find((id) => !id.startsWith('Fleet')) };
  const tasks = { rotation: machineIds.rotation ? tasksOf(template, machineIds.rotation) : new Map(), fleet: machineIds.fleet ? tasksOf(template, machineIds.fleet) : new Map() };
  const statements = identityStatements(template);
  const machineRole = (machine: 'rotation' | 'fleet'): RoleRef => {
    const id = machineIds[machine];
    const role = id ? refOf(template.Resources[id].Properties!.RoleArn) : undefined;
    if (!id || !role) throw new Error(`The template has no ${machine} state machine with a role.`);
    return { role, who: `${nameOf(id)} role` };
  };
  const functionRole = (fn: string): RoleRef | { missing: string } => {
    const role = roles.get(fn);
    return role ? { role, who: nameOf(fn) } : { missing: `function ${fn} has no role of this template` };
  };
  return {
    roleOf(principal) {
      if ('machine' in principal) {
        const table = tasks[principal.machine];
        if (!table.has(principal.state)) return { missing: `the ${principal.machine} state machine has no Task state ${principal.state}` };
        const fn = table.get(principal.state);
        return fn ? functionRole(fn) : machineRole(principal.machine);
      }
      // `authorizer` → AuthAuthorizerFunctionXXXX; `beginRotation` → RotationBeginRotationFunctionXXXX.
      const suffix = `${capitalize(principal.function)}Function`;
      const fn = [...roles.keys()].find((id) => nameOf(id).endsWith(suffix));
      return fn ? functionRole(fn) : { missing: `the template has no function ${suffix}` };
    },
    statementsOf: (role) => statements.filter((s) => s.role === role).map((s) => s.statement),
    machineRole,
    taskFunction: (machine, state) => tasks[machine].get(state),
  };
}
