/**
 * The synthesized KeyRoll template the IAM checks evaluate against: `cdk synth` of
 * lib/keyroll-stack.ts with cdk.json's feature flags (test/infra/infra-app.ts), made once per
 * source state and cached on disk (.cache/iam/template-<hash>.json), because synthesizing
 * costs ~1.5 s and every jest worker would otherwise pay it. The cache key hashes every file
 * the synthesis can read (lib/, lambdas/, cdk.json, package-lock.json), so an edited policy is
 * never judged against a stale template.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CfnTemplate } from '../infra/iam-rules';

const REPO_ROOT = path.join(__dirname, '..', '..');
const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'iam');

/** Every file whose content can change what is synthesized, in a stable order. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) out.push(full);
    }
  };
  walk(path.join(REPO_ROOT, 'lib'));
  walk(path.join(REPO_ROOT, 'lambdas'));
  out.push(path.join(REPO_ROOT, 'cdk.json'), path.join(REPO_ROOT, 'package-lock.json'), __filename);
  return out;
}

/** Hash of the sources the template is made from. */
export function templateSourceHash(): string {
  const hash = createHash('sha256');
  for (const file of sourceFiles()) hash.update(path.relative(REPO_ROOT, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

/** Synthesizes the stack as `cdk synth` does (loaded lazily: aws-cdk-lib is heavy). */
function synthesize(): CfnTemplate {
  const { Template } = require('aws-cdk-lib/assertions') as typeof import('aws-cdk-lib/assertions');
  const { KeyRollStack } = require('../../lib/keyroll-stack') as typeof import('../../lib/keyroll-stack');
  const { newTestApp, removeTempDirs, TEST_ENV } = require('../infra/infra-app') as typeof import('../infra/infra-app');
  try {
    return Template.fromStack(new KeyRollStack(newTestApp(), 'Test', { env: TEST_ENV })).toJSON() as CfnTemplate;
  } finally {
    removeTempDirs();
  }
}

let loaded: CfnTemplate | undefined;

/**
 * The synthesized template (TEST_ENV: account 123456789012, us-east-1, moto's defaults):
 * from memory, else from the disk cache, else synthesized and cached (written atomically, so
 * two workers racing both write a whole file).
 */
export function synthesizedTemplate(): CfnTemplate {
  if (loaded) return loaded;
  const file = path.join(CACHE_DIR, `template-${templateSourceHash()}.json`);
  try {
    loaded = JSON.parse(fs.readFileSync(file, 'utf8')) as CfnTemplate;
    return loaded;
  } catch {
    // Not cached yet (or a partial file from a crash): synthesize.
  }
  loaded = synthesize();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(loaded));
  fs.renameSync(temp, file);
  return loaded;
}
