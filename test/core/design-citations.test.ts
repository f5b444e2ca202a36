/**
 * Citations point somewhere: every "invariant N" in code, tests and docs is in docs/design.md's
 * numbered list, every cited section ("docs/design.md, "Fencing"", "docs/runbook.md, section
 * 6b") is a heading of that document, every repository path a comment or a Markdown file names
 * exists, and every relative Markdown link resolves. A tree that is moved around keeps its
 * comments honest this way. Reads files only (no moto, no synth).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { anchorOf, brokenCitations, type CitationTargets, filesToScan, gitignoredFolders, invariantsOf, markdownBlocks, repositoryTargets, tsBlocks } from '../support/doc-citations';

const ROOT = path.resolve(__dirname, '../..');
/** This suite's own fixtures cite what does not exist on purpose. */
const SELF = 'test/core/design-citations.test.ts';

describe('citations in the repository', () => {
  const ignored = gitignoredFolders(ROOT);
  const files = filesToScan(ROOT, ignored);
  const targets = repositoryTargets(ROOT, files, ignored);

  test('docs/design.md has a numbered list of invariants, 1 to N without a gap', () => {
    const numbers = [...targets.invariants].sort((a, b) => a - b);
    expect(numbers.length).toBeGreaterThanOrEqual(10);
    expect(numbers).toEqual(numbers.map((_, index) => index + 1));
  });

  test('the scan covers the source folders and the documents', () => {
    const roots = new Set(files.typescript.map((file) => file.split('/')[0]));
    expect([...roots].sort()).toEqual(expect.arrayContaining(['bench', 'bin', 'client', 'lambdas', 'lib', 'local', 'operator', 'test']));
    expect(files.markdown).toEqual(expect.arrayContaining(['README.md', 'SECURITY.md', 'bench/README.md', 'docs/design.md', 'docs/runbook.md']));
    expect(files.typescript).toContain(SELF);
  });

  test('no comment, string or document cites an invariant, section, path or link that does not exist', () => {
    const broken = [
      ...files.typescript.filter((file) => file !== SELF).flatMap((file) => brokenCitations(file, tsBlocks(read(file)), targets)),
      ...files.markdown.flatMap((file) => brokenCitations(file, markdownBlocks(read(file)), targets)),
    ];
    expect(broken.map((b) => `${b.file}:${b.line}: ${b.citation} (${b.problem})`)).toEqual([]);
  });
});

describe('the checker finds what is wrong', () => {
  const targets: CitationTargets = {
    invariants: invariantsOf('## Invariants\n\n1. One.\n2. Two.\n3. Three.\n\n## Next\n\n4. Not an invariant.\n'),
    headings: new Map([
      ['docs/design.md', ['Invariants', 'Fencing: why a late write cannot win']],
      ['docs/runbook.md', ['1. Which key leaked?', '6b. Labels and table disagree']],
      ['README.md', ['Deploy', 'Route scopes']],
    ]),
    fileNames: new Set(['keyroll-auth.ts', 'main.ts', 'iam-guard.ts', 'authorizer.test.ts']),
    exists: (file) => ['lib/keyroll-auth.ts', 'operator/cli', 'operator/cli/main.ts', 'docs/design.md', 'docs/runbook.md', 'README.md'].includes(file),
    ignored: (file) => file.startsWith('bench/results/'),
  };
  const problemsIn = (source: string, file = 'lib/x.ts') => brokenCitations(file, tsBlocks(source), targets).map((b) => b.citation);

  test('an invariant the list does not have, alone, in a list or in a range', () => {
    expect(invariantsOf('## Invariants\n\n1. One.\n2. Two.\n3. Three.\n\n## Next\n\n4. Not one.\n')).toEqual(new Set([1, 2, 3]));
    expect(problemsIn('// invariants 1 and 3\n/** docs/design.md, invariant 2 */')).toEqual([]);
    expect(problemsIn('// (docs/design.md, invariant 4)')).toEqual(['invariant 4']);
    expect(problemsIn('/* invariants 1, 2,\n * 7 */')).toEqual(['invariants 1, 2, 7']);
    expect(problemsIn('// what invariants 1–4 promise')).toEqual(['invariants 1–4']);
    expect(problemsIn('throw new Error(`IAM (docs/design.md invariant 11): ${n}`);')).toEqual(['invariant 11']);
  });

  test('a section by name or number, across a line break', () => {
    expect(problemsIn('// (docs/design.md, "Fencing")\n// docs/runbook.md, section 6b; docs/runbook.md, "Which key leaked?"')).toEqual([]);
    expect(problemsIn('/* docs/design.md, "Where the\n * truth lives" */')).toEqual(['docs/design.md, "Where the truth lives"']);
    expect(problemsIn('// docs/runbook.md, section 7')).toEqual(['docs/runbook.md, section 7']);
    expect(problemsIn('// (README, "Starting a rotation by hand")')).toEqual(['README, "Starting a rotation by hand"']);
  });

  test('a path in a comment, not in code; generated output and bare prose are not citations', () => {
    expect(problemsIn('// see lib/keyroll-auth.ts and operator/cli/ (operator/cli/main)')).toEqual([]);
    expect(problemsIn('// moved: lib/cli/program.ts, lambdas/client/, `lib/local`')).toEqual(['lib/cli/program.ts', 'lambdas/client/', 'lib/local']);
    expect(problemsIn("import { x } from 'lib/cli/program.ts';\n// results in bench/results/latest.json; which client/key it is")).toEqual([]);
    expect(problemsIn("const s = '/* lib/cli/a.ts */'; // ok\nconst r = /\\/\\/ lib\\/cli/; // lib/gone.ts")).toEqual(['lib/gone.ts']);
    expect(problemsIn('const t = `a ${`b ${c}`} // lib/not-a-comment.ts`;\n// lib/a-comment.ts')).toEqual(['lib/a-comment.ts']);
  });

  test('a file named without its folder', () => {
    expect(problemsIn('// as iam-guard.ts does; authorizer.test.ts; the types in index.d.ts')).toEqual([]);
    expect(problemsIn('// see moto-harness.ts and key-provider.test.ts')).toEqual(['moto-harness.ts', 'key-provider.test.ts']);
  });

  test('Markdown: paths, relative links and their anchors', () => {
    const problems = (markdown: string, file = 'docs/runbook.md') => brokenCitations(file, markdownBlocks(markdown), targets).map((b) => b.citation);
    expect(problems('See [the design](design.md#fencing-why-a-late-write-cannot-win), [deploy](../README.md#deploy) and [AWS](https://aws.amazon.com/x.md).')).toEqual([]);
    expect(problems('See [gone](gone.md), [a heading](../README.md#nope) and `lib/cli/program.ts`.')).toEqual(['lib/cli/program.ts', 'gone.md', '../README.md#nope']);
    expect(problems('[here](#1-which-key-leaked), [not here](#which-key-leaked)')).toEqual(['#which-key-leaked']);
    expect(anchorOf('6b. Labels and table disagree')).toBe('6b-labels-and-table-disagree');
  });
});

function read(file: string): string {
  return fs.readFileSync(path.join(ROOT, file), 'utf8');
}
