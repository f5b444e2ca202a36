/**
 * cdk-nag v3 (AwsSolutions) over the KeyRoll app, the way `cdk synth -c keyroll:nag=true`
 * runs it: the pack is a policy-validation plugin (`Validations.of(app).addPlugins`), CDK
 * calls it after synthesis, writes every plugin's findings to `validation-report.json` in
 * the cloud assembly, and (in-memory apps, as under jest) throws when a finding is an error.
 * Acknowledgements are `Validations.of(construct).acknowledge({ id, reason })` metadata
 * (`aws:cdk:acknowledged-rules`), which the pack reads on the resource and its ancestors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type App, type PolicyValidationPluginReport, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KeyRollStack } from '../../lib/keyroll-stack';
import { newTestApp, removeTempDirs, tempDir, TEST_ENV } from './infra-app';

/** The parts of the cloud assembly's validation-report.json read here. */
interface ValidationReportJson {
  pluginReports: {
    pluginName: string;
    conclusion: 'success' | 'failure';
    violations: { ruleName: string; description: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

interface Acknowledgement {
  path: string;
  id: string;
  reason: unknown;
}

interface NagRun {
  app: App;
  /** What the pack itself returned to CDK (before CDK's own acknowledgement filtering). */
  pluginReports: PolicyValidationPluginReport[];
  /** What synthesis wrote to the cloud assembly. */
  report: ValidationReportJson;
  synthError?: Error;
}

/** Synthesizes with the AwsSolutions pack registered, capturing the pack's report, the assembly's report and any throw. */
function synthWithNag(app: App, outdir: string): NagRun {
  const pack = new AwsSolutionsChecks(app);
  const validate = jest.spyOn(pack, 'validate');
  Validations.of(app).addPlugins(pack);
  let synthError: Error | undefined;
  try {
    app.synth();
  } catch (error) {
    synthError = error as Error;
  }
  const reportFile = path.join(outdir, 'validation-report.json');
  if (!fs.existsSync(reportFile)) throw new Error(`Synthesis wrote no ${reportFile}; did the validation plugins run? ${synthError?.message ?? ''}`);
  return {
    app,
    pluginReports: validate.mock.results.map((r) => r.value as PolicyValidationPluginReport),
    report: JSON.parse(fs.readFileSync(reportFile, 'utf8')) as ValidationReportJson,
    synthError,
  };
}

/** One line per finding, readable in a failed expectation. */
function findings(report: ValidationReportJson): string[] {
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((v) => v.violatingConstructs.map((c) => `[${plugin.pluginName}] ${v.severity} ${v.ruleName} at ${c.constructPath}: ${v.description}`)),
  );
}

/** Every acknowledgement recorded in the construct tree. */
function acknowledgements(app: App): Acknowledgement[] {
  return app.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([qualifiedId, reason]) => ({
          path: construct.node.path,
          // aws-cdk-lib stores ids qualified as `Annotation::<id>` (older versions: `annotation::`).
          id: qualifiedId.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

const newOutdir = () => tempDir('keyroll-nag-');

afterAll(removeTempDirs);

describe('the KeyRoll app under AwsSolutions checks', () => {
  let run: NagRun;

  beforeAll(() => {
    const outdir = newOutdir();
    // appMode 'inmemory' (what jest's NODE_ENV=test implies) makes error findings throw with the report.
    // CDK's built-in CloudFormation validation plugin is off (it costs ~6 s; cfn-lint.test.ts covers it).
    const app = newTestApp({ outdir, context: { '@aws-cdk/core:appMode': 'inmemory' } });
    new KeyRollStack(app, 'Test', { env: TEST_ENV });
    run = synthWithNag(app, outdir);
  });

  test('the pack ran once over the app and found nothing unacknowledged', () => {
    expect(run.pluginReports).toHaveLength(1);
    const [report] = run.pluginReports;
    expect(report.violations.map((v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('synthesis succeeds and its validation report has zero findings, errors or warnings', () => {
    expect(run.synthError?.message).toBeUndefined();
    expect(findings(run.report)).toEqual([]);
    expect(run.report.pluginReports).toEqual([]);
  });

  test('there are acknowledgements, and every one has a real reason', () => {
    const acks = acknowledgements(run.app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect({ ...ack, reasonType: typeof ack.reason }).toEqual({ ...ack, reasonType: 'string' });
      const reason = String(ack.reason).trim();
      expect({ id: ack.id, reason }).toEqual({ id: ack.id, reason: expect.stringMatching(/\S.{19,}/) });
      expect(reason).not.toBe(ack.id);
    }
  });

  test('acknowledgements name one exact finding (RuleId[Finding]) on a construct, never a whole rule or the whole stack', () => {
    for (const ack of acknowledgements(run.app)) {
      // A rule cdk-nag reports without a finding id (APIG4 on a method…) may be acknowledged
      // bare, on the one CloudFormation resource it is about only (its path ends in /Resource).
      if (/^AwsSolutions-[A-Za-z]+\d+$/.test(ack.id)) expect(ack.path).toMatch(/\/Resource$/);
      else expect(ack.id).toMatch(/^AwsSolutions-[A-Za-z]+\d+\[[^\]]+.*\]$/);
      expect(['', 'Test', 'Test/Rotation']).not.toContain(ack.path);
    }
  });

  test('no stale acknowledgement: each matches a finding the pack raises when acknowledgements are ignored', () => {
    // A pack that ignores every acknowledgement (cdk-nag 3.0.x checks them in its private
    // isAcknowledged). Should that method move, every acknowledgement shows up as stale here.
    const raw = new AwsSolutionsChecks();
    (raw as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const rawFindings = raw.validateScope(run.app).violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })));
    expect(rawFindings.length).toBeGreaterThan(0);
    const stale = acknowledgements(run.app).filter((ack) => !rawFindings.some((f) => f.id === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`))));
    expect(stale).toEqual([]);
  });
});

describe('the check can fail', () => {
  test('an extra, unacknowledged SNS topic without encryption or TLS enforcement is reported, and only it (env-agnostic stack)', () => {
    const outdir = newOutdir();
    const app = newTestApp({ outdir, context: { '@aws-cdk/core:appMode': 'inmemory' } });
    // No env: the acknowledgements must also match the <AWS::Region>/<AWS::AccountId> placeholders cdk-nag prints.
    const stack = new KeyRollStack(app, 'Test');
    new sns.Topic(stack, 'Unacknowledged');
    const run = synthWithNag(app, outdir);

    const reported = findings(run.report);
    expect(reported.length).toBeGreaterThan(0);
    for (const line of reported) expect(line).toMatch(/ at Test\/Unacknowledged\//);
    expect(reported.join('\n')).toMatch(/AwsSolutions-SNS3/);
    // Error findings fail the synthesis itself.
    expect(run.synthError?.message).toMatch(/AwsSolutions-SNS3/);
    expect(run.pluginReports[0].success).toBe(false);
  });
});
