/**
 * jest setupFilesAfterEnv: the IAM check in every test file (iam-guard.ts). A call a role
 * would not be allowed fails the test it happened in (afterEach), or the file when it happened
 * in beforeAll/afterAll or between tests (afterAll), even if the code under test caught the
 * AccessDenied error. Files whose code never runs as a principal pay only this module's load.
 */
import { installIamGuard, takeIamDenials, type IamDenial } from './iam-guard';

installIamGuard();

function failOn(denials: IamDenial[], when: string): void {
  if (denials.length === 0) return;
  const lines = [...new Set(denials.map((d) => d.detail))];
  throw new Error(`IAM (docs/design.md invariant 10): ${denials.length} call(s) ${when} would be denied on AWS by the synthesized template:\n  ${lines.join('\n  ')}`);
}

afterEach(() => failOn(takeIamDenials(), 'in this test'));
afterAll(() => failOn(takeIamDenials(), 'outside the tests (beforeAll/afterAll)'));
