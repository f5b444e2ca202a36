/**
 * The IAM check on every AWS call a local function or state makes (docs/design.md invariant
 * 10). Each SDK call (every client: a middleware is added to each client's stack on its first
 * send) and each call the local emulation makes without the SDK (local/local-identity.ts)
 * is, when the code runs as a principal (`actAs`), turned into its IAM requests
 * (iam-requests.ts) and judged against that principal's role in the synthesized template
 * (iam-evaluator.ts). A denied call is answered as AWS answers it (AccessDeniedException;
 * SNS: AuthorizationErrorException / KMSAccessDeniedException) and recorded, so the test fails
 * even if the code under test catches the error (see iam-setup.ts).
 *
 * Calls made as no principal are the tests' own set-up and checks, and the operator API and
 * CLI (operator/ops, operator/cli): they run with the operator's credentials, which the template
 * does not define, so they are not judged.
 */
import { currentPrincipal, onLocalAwsCall, type LocalPrincipal } from '../../local/local-identity';
import type { CfnTemplate } from '../infra/iam-rules';
import type { IamDecision } from './iam-evaluator';
import type { RoleRef } from './iam-principals';
import { iamRequestsOf, secretArn, subjectOf, type IamRequest } from './iam-requests';
import type { IamWorld } from './iam-world';

/** One judged request. */
export interface IamCheck {
  readonly principal: LocalPrincipal;
  readonly role: string;
  readonly who: string;
  readonly call: string;
  readonly request: IamRequest;
  /** The test resources the template was resolved into. */
  readonly world: IamWorld;
  readonly decision: IamDecision;
}

/** A request the role would not be allowed, with enough to read the finding. */
export interface IamDenial extends IamCheck {
  readonly detail: string;
}

const worlds: IamWorld[] = [];
const denials: IamDenial[] = [];
const checks: IamCheck[] = [];
let plantedTemplate: CfnTemplate | undefined;
/** Time spent judging calls (loading the template and evaluator included), for the cost report. */
const cost = { calls: 0, ms: 0 };

/** How many calls were judged and how long judging them took in this file (ms, summed). */
export function iamCost(): { calls: number; ms: number } {
  return { ...cost };
}

/**
 * Tells the check which of the test's resources stand for the stack's. Worlds are merged by
 * table name (fixtures register the table and secret prefix; runners add topics and machines).
 */
export function registerIamWorld(world: IamWorld): void {
  const index = worlds.findIndex((w) => w.tableName === world.tableName);
  if (index < 0) worlds.push(world);
  else worlds[index] = { ...worlds[index], ...Object.fromEntries(Object.entries(world).filter(([, v]) => v !== undefined)) };
}

/** The world a call belongs to: the one holding its table, secret or topic; else the latest. */
function worldOf(input: Record<string, unknown>): IamWorld {
  const subject = subjectOf(input);
  const found =
    (subject.tableName && worlds.find((w) => w.tableName === subject.tableName)) ||
    (subject.secretId && worlds.find((w) => w.secretNamePrefix && secretArn(subject.secretId!).includes(`:secret:${w.secretNamePrefix}`))) ||
    (subject.topicArn && worlds.find((w) => w.clientTopicArn === subject.topicArn || w.opsTopicArn === subject.topicArn));
  return found || (worlds.at(-1) ?? { tableName: 'no-world-registered' });
}

/** Judges calls against `template` instead of the synthesized one until reset (planted-gap tests). */
export function useTemplateForIam(template: CfnTemplate | undefined): void {
  plantedTemplate = template;
}

/** The denials recorded since the last call, removed from the record. */
export function takeIamDenials(): IamDenial[] {
  return denials.splice(0);
}

/** Every judged request so far (for coverage counts and reports); `clear` empties the record. */
export function iamChecks(clear = false): IamCheck[] {
  return clear ? checks.splice(0) : [...checks];
}

/** The error a service answers a denied call with (service error names as the SDK v3 raises them). */
function accessDenied(service: string, request: IamRequest, role: RoleRef): Error {
  const name = service === 'SNS' ? (request.via ? 'KMSAccessDeniedException' : 'AuthorizationErrorException') : 'AccessDeniedException';
  const message = `User: arn:aws:sts::123456789012:assumed-role/${role.role}/local is not authorized to perform: ${request.action} on resource: ${request.resource} because no identity-based policy allows the ${request.action} action`;
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: service === 'SNS' ? 403 : 400 } });
}

/**
 * Judges one call made as `principal`; throws the service's access-denied error (after
 * recording it) if the role would not be allowed any of its requests.
 */
export async function authorizeCall(principal: LocalPrincipal, service: string, command: string, input: Record<string, unknown>): Promise<void> {
  const started = performance.now();
  try {
    await judge(principal, service, command, input);
  } finally {
    cost.calls++;
    cost.ms += performance.now() - started;
  }
}

async function judge(principal: LocalPrincipal, service: string, command: string, input: Record<string, unknown>): Promise<void> {
  // Loaded on the first judged call: a file that never acts as a principal loads no evaluator or template.
  const { evaluatorOf } = require('./iam-evaluator') as typeof import('./iam-evaluator');
  const { synthesizedTemplate } = require('./iam-template') as typeof import('./iam-template');
  const evaluator = evaluatorOf(plantedTemplate ?? synthesizedTemplate());
  const role = evaluator.principals.roleOf(principal);
  const call = `${service}:${command}`;
  if ('missing' in role) {
    const request: IamRequest = { action: call, resource: '*', context: {} };
    const denial: IamDenial = {
      principal,
      role: '<none>',
      who: '<none>',
      call,
      request,
      world: worldOf(input),
      decision: { allowed: false, result: 'NoRole', checkedResource: '*' },
      detail: `${call} as ${JSON.stringify(principal)}: ${role.missing}`,
    };
    denials.push(denial);
    throw Object.assign(new Error(denial.detail), { name: 'AccessDeniedException' });
  }
  const world = worldOf(input);
  let first: Error | undefined;
  for (const request of iamRequestsOf(service, command, input)) {
    const decision = await evaluator.evaluate(role, request, world);
    const check: IamCheck = { principal, role: role.role, who: role.who, call, request, world, decision };
    checks.push(check);
    if (decision.allowed) continue;
    const context = Object.keys(request.context).length ? ` with ${JSON.stringify(request.context)}` : '';
    denials.push({ ...check, detail: `${role.who} may not ${request.action} on ${decision.checkedResource}${context} (${call}${request.via ? ` via ${request.via}` : ''}): ${decision.result}` });
    first ??= accessDenied(service, request, role);
  }
  if (first) throw first;
}

interface MiddlewareStackLike {
  add(middleware: unknown, options: { step: string; name: string; priority?: string }): void;
}

const guarded = new WeakSet<object>();

/**
 * Adds the check to every SDK client of this module registry: on a client's first send, a
 * middleware goes on its stack (a document client shares its base client's) at `initialize`,
 * low priority: after the call recorder, outside the retries, so one logical call is judged once.
 */
export function installIamGuard(): void {
  // Loaded here so the setup costs nothing to a test file that never calls AWS.
  const { Client } = require('@smithy/core/client') as { Client: { prototype: { send: (...args: unknown[]) => unknown; middlewareStack?: unknown } } };
  const proto = Client.prototype as { send: (...args: unknown[]) => unknown; __keyrollIamGuard?: true };
  if (!proto.__keyrollIamGuard) {
    const original = proto.send;
    proto.send = function (this: { middlewareStack: MiddlewareStackLike }, ...args: unknown[]) {
      const stack = this.middlewareStack;
      if (!guarded.has(stack)) {
        guarded.add(stack);
        stack.add(
          (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (callArgs: unknown) => {
            const principal = currentPrincipal();
            if (principal) {
              const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
              const command = (context.commandName ?? 'Unknown').replace(/Command$/, '');
              await authorizeCall(principal, service, command, (callArgs as { input?: Record<string, unknown> }).input ?? {});
            }
            return next(callArgs);
          },
          { step: 'initialize', name: 'keyrollIamGuard', priority: 'low' },
        );
      }
      return original.apply(this, args);
    };
    proto.__keyrollIamGuard = true;
  }
  onLocalAwsCall((call, principal) => (principal ? authorizeCall(principal, call.service, call.command, call.input) : undefined));
}
