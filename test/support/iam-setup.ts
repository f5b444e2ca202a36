/**
 * jest setupFilesAfterEnv: the IAM check in every test file (iam-guard.ts). A call a role
 * would not be allowed fails the test it happened in (afterEach), or the file when it happened
 * in beforeAll/afterAll or between tests (afterAll), even if the code under test caught the
 * AccessDenied error. Files whose code never runs as a principal pay only this module's load.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { iamChecks, iamCost, installIamGuard, takeIamDenials, type IamDenial } from './iam-guard';

// KEYROLL_IAM_CHECK=off skips the check (to measure its cost; never in CI).
if (process.env.KEYROLL_IAM_CHECK !== 'off') installIamGuard();

function failOn(denials: IamDenial[], when: string): void {
  if (denials.length === 0) return;
  const lines = [...new Set(denials.map((d) => d.detail))];
  throw new Error(`IAM (docs/design.md invariant 10): ${denials.length} call(s) ${when} would be denied on AWS by the synthesized template:\n  ${lines.join('\n  ')}`);
}

afterEach(() => failOn(takeIamDenials(), 'in this test'));
afterAll(() => {
  // KEYROLL_IAM_STATS=<dir>: one JSON per file of what was judged, per role (for the coverage report).
  const dir = process.env.KEYROLL_IAM_STATS;
  if (dir) {
    const byRole: Record<string, { total: number; distinct: string[] }> = {};
    for (const c of iamChecks()) {
      const entry = (byRole[c.who] ??= { total: 0, distinct: [] });
      entry.total++;
      const pair = `${c.request.action}${c.request.via ? ` via ${c.request.via}` : ''} ${c.decision.checkedResource}`;
      if (!entry.distinct.includes(pair)) entry.distinct.push(pair);
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${path.basename(expect.getState().testPath ?? 'unknown')}-${process.pid}.json`), JSON.stringify({ byRole, cost: iamCost() }));
  }
  failOn(takeIamDenials(), 'outside the tests (beforeAll/afterAll)');
});
