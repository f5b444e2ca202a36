/**
 * The one map from a step name (as the stack names its functions: beginRotation, createSecret,
 * ..., fleetPage) to its handler built over given dependencies: what the local runners and the
 * tests run in place of the deployed functions, each entry module's own `createHandler`, so the
 * step wrapper and its log lines are the deployed ones. Not imported by any entry module: each
 * deployed bundle keeps only its own step.
 */
import type { FleetPageSettings } from '../aws/fleet/fleet-page-environment';
import type { RotationDeps } from '../aws/rotation/context';
import * as beginRotation from './begin-rotation';
import * as checkUsage from './check-usage';
import * as createSecret from './create-secret';
import * as finishSecret from './finish-secret';
import * as fleetPage from './fleet-page';
import * as retireOldKey from './retire-old-key';
import * as rollbackRotation from './rollback-rotation';
import * as setSecret from './set-secret';
import * as testSecret from './test-secret';

/** What a step handler is built over: the rotation dependencies and, for fleetPage, its settings. */
export interface StepDeps extends RotationDeps {
  /** @default DEFAULT_FLEET_PAGE_SETTINGS (the construct's) */
  readonly fleetPage?: FleetPageSettings;
}

const FACTORIES = {
  beginRotation: (deps: StepDeps) => beginRotation.createHandler(deps),
  createSecret: (deps: StepDeps) => createSecret.createHandler(deps),
  setSecret: (deps: StepDeps) => setSecret.createHandler(deps),
  testSecret: (deps: StepDeps) => testSecret.createHandler(deps),
  finishSecret: (deps: StepDeps) => finishSecret.createHandler(deps),
  checkUsage: (deps: StepDeps) => checkUsage.createHandler(deps),
  retireOldKey: (deps: StepDeps) => retireOldKey.createHandler(deps),
  rollbackRotation: (deps: StepDeps) => rollbackRotation.createHandler(deps),
  fleetPage: (deps: StepDeps) => fleetPage.createHandler(deps, deps.fleetPage),
};

/** A step of the rotation or fleet state machine that runs as a Lambda function. */
export type StepName = keyof typeof FACTORIES;

/** A step's handler as a state machine calls it (JSON in, JSON out). */
export type StepHandler = (input: unknown) => Promise<unknown>;

/** Whether `name` is a step with a handler. */
export function isStepName(name: string): name is StepName {
  return Object.hasOwn(FACTORIES, name);
}

/** The handler of `step` over `deps`, typed as the step's. */
export function createStepHandler<S extends StepName>(step: S, deps: StepDeps): ReturnType<(typeof FACTORIES)[S]> {
  return FACTORIES[step](deps) as ReturnType<(typeof FACTORIES)[S]>;
}

/**
 * Every step's handler over `deps`, by name, each built on first use.
 * @throws Error for a name that is no step (a definition naming a function nothing implements).
 */
export function stepHandlers(deps: StepDeps): (step: string) => StepHandler {
  const built = new Map<StepName, StepHandler>();
  return (step) => {
    if (!isStepName(step)) throw new Error(`No handler for step ${step}.`);
    let handler = built.get(step);
    if (!handler) built.set(step, (handler = createStepHandler(step, deps) as StepHandler));
    return handler;
  };
}
