/**
 * Shared set-up of the infrastructure tests: an App that synthesizes KeyRoll the way
 * `cdk synth` does (the feature flags of cdk.json), minus the esbuild bundling of the
 * step functions, plus small helpers to read CloudFormation values.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';

export const TEST_ENV = { account: '123456789012', region: 'us-east-1' } as const;

const REPO_ROOT = path.join(__dirname, '..', '..');

/** The `context` block of cdk.json: feature flags that change what is synthesized (e.g. minimizePolicies). */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  return cdkJson.context ?? {};
}

export interface TestAppOptions {
  /**
   * Run CDK's built-in CloudFormation validation plugin at synth. It costs several seconds
   * and cfn-lint covers the same ground, so only the test that reads the validation report
   * turns it on.
   * @default false
   */
  readonly builtinValidation?: boolean;
  /** @default a fresh temporary directory */
  readonly outdir?: string;
  /** More context, merged over cdk.json's. */
  readonly context?: Record<string, unknown>;
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export function tempDir(prefix = 'keyroll-infra-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes the directories made by {@link tempDir} (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/** A new App with cdk.json's context, bundling skipped for every stack, writing to a temp dir. */
export function newTestApp(options: TestAppOptions = {}): App {
  const props: AppProps = {
    outdir: options.outdir ?? tempDir(),
    builtinCloudFormationValidation: options.builtinValidation ?? false,
    context: {
      ...cdkJsonContext(),
      // No stack is bundled: NodejsFunction skips esbuild and points at a placeholder asset.
      'aws:cdk:bundling-stacks': [],
      ...options.context,
    },
  };
  return new App(props);
}

/** A CloudFormation value with the intrinsics we meet here rendered as text. */
export function renderCfn(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if ('Ref' in obj) return obj.Ref === 'AWS::Partition' ? 'aws' : `{Ref:${String(obj.Ref)}}`;
    if ('Fn::GetAtt' in obj) return `{GetAtt:${(obj['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in obj) {
      const [separator, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map(renderCfn).join(separator);
    }
    if ('Fn::Select' in obj) {
      const [index, list] = obj['Fn::Select'] as [number, unknown];
      return `{Select:${index}:${renderCfn(list)}}`;
    }
    if ('Fn::Split' in obj) {
      const [separator, source] = obj['Fn::Split'] as [string, unknown];
      return `{Split:${separator}:${renderCfn(source)}}`;
    }
  }
  return `{${JSON.stringify(value)}}`;
}

/** `x` or `[x, y]` as an array. */
export function asArray<T>(value: T | readonly T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}
