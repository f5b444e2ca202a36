#!/usr/bin/env node
/**
 * The CDK app. Policy comes from context (`-c keyroll:keyPrefix=acme`), so a deployment
 * can be tuned without editing code:
 *   keyroll:stackName, keyroll:keyPrefix, keyroll:defaultOverlapHours, keyroll:maxOverlapDays, keyroll:secretNamePrefix,
 *   keyroll:exampleApi (false to leave out the example protected API), keyroll:verifyEndpointUrl
 * With `-c keyroll:nag=true` the app runs the cdk-nag AwsSolutions checks at synth.
 */
import { App, Duration, Validations } from 'aws-cdk-lib';
import { KeyRollStack } from '../lib/keyroll-stack';
import { assertSupportedNode } from '../lib/node-version';

assertSupportedNode();

const app = new App();
// Context from cdk.json may be a JSON number or boolean rather than a string: the callers convert.
const context = (name: string) => app.node.tryGetContext(`keyroll:${name}`) as string | number | boolean | undefined;
const text = (name: string): string | undefined => {
  const raw = context(name);
  return raw === undefined ? undefined : String(raw);
};
/** A positive number from context, or a clear error naming the key (never a silent NaN). */
const number = (name: string): number | undefined => {
  const raw = context(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`Context keyroll:${name} must be a positive number; got '${String(raw)}'.`);
  return value;
};

new KeyRollStack(app, text('stackName') ?? 'KeyRoll', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  rotation: {
    keyPrefix: text('keyPrefix'),
    defaultOverlap: number('defaultOverlapHours') === undefined ? undefined : Duration.hours(number('defaultOverlapHours')!),
    maxOverlap: number('maxOverlapDays') === undefined ? undefined : Duration.days(number('maxOverlapDays')!),
    secretNamePrefix: text('secretNamePrefix'),
  },
  auth: { exampleApi: String(context('exampleApi') ?? 'true') !== 'false' },
  verifyEndpointUrl: text('verifyEndpointUrl'),
});

/** Adds the nag checks when asked for; cdk-nag is loaded only then (~300 modules, ~0.5 s CPU a plain synth does not need). */
async function addNagChecks(): Promise<void> {
  if (String(context('nag')) !== 'true') return;
  const { AwsSolutionsChecks } = await import('cdk-nag');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

// Synthesized once the checks are in (the App's own synth at exit then returns this assembly);
// a failure is an unhandled rejection, so Node prints it and exits non-zero.
void addNagChecks().then(() => app.synth());
