/**
 * The set-up every workflow test starts from: rotation dependencies over a fresh moto table
 * (makeTestDeps, which registers the IAM world), a client and an ops topic, the synthesized
 * rotation definition resolved into them, and a {@link WorkflowRunner} over it.
 *
 * The stack is synthesized once per source state and shared through the disk, as the IAM
 * template is (iam-template.ts): synthesizing costs seconds, and every test file would
 * otherwise pay it. The cache key hashes every file the synthesis can read, so a changed
 * definition is never run from a stale copy; each file resolves its own resources into it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Clock } from '../../lambdas/core/clock';
import type { RotationSettings } from '../../lambdas/aws/rotation/context';
import { resolveWorkflow, synthesizeKeyRoll, type LocalResources, type SynthesizedKeyRoll, type SynthesizedWorkflow } from '../../local/synthesized-workflow';
import { createRecordedTopic, makeTestDeps, type RecordedTopic } from './fixtures';
import { templateSourceHash } from './iam-template';
import type { LocalRotationExecutions } from './local-executions';
import { tapTopic } from './secret-tap';
import { Tap, WorkflowRunner } from './workflow';

const CACHE_DIR = path.join(__dirname, '..', '..', '.cache', 'workflow');

let loaded: SynthesizedKeyRoll | undefined;

/**
 * The stack as local/ synthesizes it (synthesizeKeyRoll): from memory, else from the disk
 * cache, else synthesized and cached (written atomically, so two workers racing both write a
 * whole file).
 */
export function synthesizedKeyRoll(): SynthesizedKeyRoll {
  if (loaded) return loaded;
  const file = path.join(CACHE_DIR, `keyroll-local-${templateSourceHash()}.json`);
  try {
    loaded = JSON.parse(fs.readFileSync(file, 'utf8')) as SynthesizedKeyRoll;
    return loaded;
  } catch {
    // Not cached yet (or a partial file from a crash): synthesize.
  }
  loaded = synthesizeKeyRoll();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(loaded));
  fs.renameSync(temp, file);
  return loaded;
}

/** The rotation definition resolved into `resources` (the stack synthesized once, see above). */
export function synthesizeWorkflow(resources: LocalResources): SynthesizedWorkflow {
  return resolveWorkflow(synthesizedKeyRoll(), resources);
}

/** What a workflow test file may ask of its set-up. */
export interface WorkflowSetUp {
  /** The clock of the handlers (default: makeTestDeps's manual clock). */
  readonly clock?: Clock;
  readonly settings?: RotationSettings;
  /** Installed, and given to the handlers: a stop aborts the local execution (the file uninstalls it in afterAll). */
  readonly executions?: LocalRotationExecutions;
  /** Where the runs' (and, with `tapTopics`, the topics') output goes (default: a tap of its own). */
  readonly tap?: Tap;
  /** Record what the topics publish in the tap too (the plaintext checks read it). */
  readonly tapTopics?: boolean;
}

type TestDeps = Awaited<ReturnType<typeof makeTestDeps>>;

/** A workflow test's world. */
export interface WorkflowWorld<D extends TestDeps> {
  readonly deps: D;
  readonly clientTopic: RecordedTopic;
  readonly opsTopic: RecordedTopic;
  readonly workflow: SynthesizedWorkflow;
  readonly runner: WorkflowRunner;
}

/** Sets up a workflow test file's world (call it in beforeAll). */
export async function setUpWorkflow(options?: WorkflowSetUp & { executions?: undefined }): Promise<WorkflowWorld<TestDeps>>;
export async function setUpWorkflow(options: WorkflowSetUp & { executions: LocalRotationExecutions }): Promise<WorkflowWorld<TestDeps & { executions: LocalRotationExecutions }>>;
export async function setUpWorkflow(options: WorkflowSetUp = {}): Promise<WorkflowWorld<TestDeps>> {
  options.executions?.install();
  const base = await makeTestDeps(options.clock);
  const deps = { ...base, ...(options.settings ? { settings: options.settings } : {}), ...(options.executions ? { executions: options.executions } : {}) };
  const tap = options.tap ?? new Tap();
  const topic = async (name: string) => (options.tapTopics ? tapTopic(tap, await createRecordedTopic(), name) : createRecordedTopic());
  const [clientTopic, opsTopic] = await Promise.all([topic('client'), topic('ops')]);
  const workflow = synthesizeWorkflow({ tableName: deps.tableName, clientTopicArn: clientTopic.topicArn, opsTopicArn: opsTopic.topicArn });
  return { deps, clientTopic, opsTopic, workflow, runner: new WorkflowRunner(workflow, deps, tap) };
}
