/**
 * Finds citations in code comments and Markdown that point nowhere: an invariant number that
 * docs/design.md's numbered list does not have, a section of a document that has no such
 * heading, a repository path that does not exist, a relative Markdown link to a missing file or
 * anchor. Used by test/core/design-citations.test.ts; pure over the texts it is given, so the
 * test can also feed it wrong citations and see them caught.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One piece of text to check: a comment block, a string literal, or a Markdown paragraph. */
export interface TextBlock {
  readonly text: string;
  /** 1-based line of the block's start in its file. */
  readonly line: number;
  /** Comments and Markdown may cite paths; string literals only invariants and sections. */
  readonly kind: 'comment' | 'string' | 'markdown';
}

/** A citation that points nowhere. */
export interface BrokenCitation {
  readonly file: string;
  readonly line: number;
  readonly citation: string;
  readonly problem: string;
}

/** What the citations are checked against. */
export interface CitationTargets {
  /** The numbers of docs/design.md's "Invariants" list. */
  readonly invariants: ReadonlySet<number>;
  /** Headings per Markdown file (repository-relative path), as written. */
  readonly headings: ReadonlyMap<string, readonly string[]>;
  /** The base names of the TypeScript files, for a comment that names a file without its folder. */
  readonly fileNames: ReadonlySet<string>;
  /** Whether a repository-relative path exists (file or directory). */
  readonly exists: (relativePath: string) => boolean;
  /** Whether a repository-relative path is generated (gitignored): cited output, not a source. */
  readonly ignored: (relativePath: string) => boolean;
}

/** The top-level folders whose paths prose cites; a path elsewhere (`dist/`, a secret name) is not checked. */
const SOURCE_ROOTS = ['lambdas', 'lib', 'client', 'operator', 'local', 'bin', 'test', 'bench', 'docs', 'packages'];
const PATH_PATTERN = new RegExp(`(?<![\\w.@/-])(?:\\./)?((?:${SOURCE_ROOTS.join('|')})/[\\w./+-]*)`, 'g');
const INVARIANT_PATTERN = /\binvariants?\s+(\d+(?:\s*(?:,|and|or|–|-)\s*\d+)*)/gi;
/** `docs/design.md, "Fencing"`, `(README, "Starting a rotation by hand")`, `bench/README.md ("Synth time")`. */
const SECTION_PATTERN = /(?<![\w./-])(docs\/design\.md|docs\/runbook\.md|bench\/README\.md|README(?:\.md)?)[\s,(]*(?:section\s+)?["“]([^"”]{2,80})["”]/g;
/** `docs/runbook.md, section 6b`. */
const NUMBERED_SECTION_PATTERN = /(?<![\w./-])(docs\/runbook\.md),?\s*section\s+(\d+[a-z]?)\b/g;
const LINK_PATTERN = /\]\(([^)\s]+)\)/g;
/** `iam-guard.ts`, `authorizer.test.ts`: a file named without its folder. */
const FILE_NAME_PATTERN = /(?<![\w./@-])([\w-]+(?:\.[\w-]+)*\.ts)\b/g;

/**
 * Comment blocks (adjacent `//` lines joined) and string literals of a TypeScript source. A
 * small lexer, not the compiler's scanner (which cost 5× the time here): it knows strings,
 * template literals with nested substitutions, regular expressions and comments, which is all
 * it takes to tell a comment from code.
 */
export function tsBlocks(source: string): TextBlock[] {
  const blocks: TextBlock[] = [];
  const lineOf = lineIndex(source);
  // Brace depths at which a template substitution `${…}` closes back into its template.
  const substitutions: number[] = [];
  let depth = 0;
  let previous = ''; // the last significant character, or the last word, for the regex-or-division call
  let lineComment: { text: string; line: number; endLine: number } | undefined;
  const flush = () => {
    if (lineComment) blocks.push({ text: lineComment.text, line: lineComment.line, kind: 'comment' });
    lineComment = undefined;
  };
  let i = 0;
  const template = (from: number) => {
    // From just after a backtick or a substitution's `}`: the text up to the closing backtick or the next `${`.
    let j = from;
    while (j < source.length && source[j] !== '`' && !(source[j] === '$' && source[j + 1] === '{')) j += source[j] === '\\' ? 2 : 1;
    blocks.push({ text: source.slice(from, j), line: lineOf(from), kind: 'string' });
    if (source[j] === '$') {
      substitutions.push(depth);
      depth++;
      return j + 2;
    }
    previous = '`';
    return j + 1;
  };
  while (i < source.length) {
    const c = source[i];
    if (c === '/' && source[i + 1] === '/') {
      const end = indexOrEnd(source, '\n', i);
      const line = lineOf(i);
      const text = source.slice(i + 2, end).replace(/^\/+/, '');
      if (lineComment?.endLine === line - 1) lineComment = { ...lineComment, text: `${lineComment.text} ${text}`, endLine: line };
      else {
        flush();
        lineComment = { text, line, endLine: line };
      }
      i = end;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    flush();
    if (c === '/' && source[i + 1] === '*') {
      const end = indexOrEnd(source, '*/', i + 2);
      blocks.push({ text: source.slice(i + 2, end).replace(/\n\s*\*?/g, ' '), line: lineOf(i), kind: 'comment' });
      i = end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      blocks.push({ text: source.slice(i + 1, j), line: lineOf(i), kind: 'string' });
      previous = c;
      i = j + 1;
    } else if (c === '`') {
      i = template(i + 1);
    } else if (c === '}' && substitutions.at(-1) === depth - 1) {
      substitutions.pop();
      depth--;
      i = template(i + 1);
    } else if (c === '/' && regexMayFollow(previous)) {
      let j = i + 1;
      let inClass = false;
      while (j < source.length && source[j] !== '\n' && (inClass || source[j] !== '/')) {
        if (source[j] === '[') inClass = true;
        else if (source[j] === ']') inClass = false;
        j += source[j] === '\\' ? 2 : 1;
      }
      previous = '/';
      i = j + 1;
    } else if (isWordChar(source.charCodeAt(i))) {
      let j = i + 1;
      while (j < source.length && isWordChar(source.charCodeAt(j))) j++;
      previous = source.slice(i, j);
      i = j;
    } else {
      if (c === '{') depth++;
      else if (c === '}') depth--;
      previous = c;
      i++;
    }
  }
  flush();
  return blocks;
}

/** Paragraphs of a Markdown file, each with its lines joined. */
export function markdownBlocks(source: string): TextBlock[] {
  const blocks: TextBlock[] = [];
  let lines: string[] = [];
  let start = 1;
  source.split('\n').forEach((text, index) => {
    if (text.trim() === '') {
      if (lines.length > 0) blocks.push({ text: lines.join(' '), line: start, kind: 'markdown' });
      lines = [];
      return;
    }
    if (lines.length === 0) start = index + 1;
    lines.push(text);
  });
  if (lines.length > 0) blocks.push({ text: lines.join(' '), line: start, kind: 'markdown' });
  return blocks;
}

/** Markdown headings (`#` lines outside fenced code), as written. */
export function headingsOf(markdown: string): string[] {
  const headings: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (heading) headings.push(heading[1]);
  }
  return headings;
}

/** The numbers of the list under docs/design.md's "## Invariants" heading. */
export function invariantsOf(design: string): Set<number> {
  const section = /^## Invariants\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(design);
  return new Set([...(section?.[1] ?? '').matchAll(/^(\d+)\.\s/gm)].map((match) => Number(match[1])));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every broken citation in `blocks` of `file` (repository-relative). */
export function brokenCitations(file: string, blocks: readonly TextBlock[], targets: CitationTargets): BrokenCitation[] {
  const broken: BrokenCitation[] = [];
  const reported = new Set<string>();
  const report = (block: TextBlock, citation: string, problem: string) => {
    // A link's text often repeats its target: one report per citation and place.
    const key = `${block.line} ${citation}`;
    if (reported.has(key)) return;
    reported.add(key);
    broken.push({ file, line: block.line, citation, problem });
  };
  for (const block of blocks) {
    // Most blocks cite nothing: the cheap tests below skip the patterns for them.
    if (!/nvariant|README|docs\/|\/|\]\(|\.ts\b/.test(block.text)) continue;
    const text = block.text.replace(/\s+/g, ' ');
    for (const match of text.matchAll(INVARIANT_PATTERN)) {
      for (const number of citedNumbers(match[1])) {
        if (!targets.invariants.has(number)) report(block, match[0], `docs/design.md has no invariant ${number}`);
      }
    }
    for (const match of text.matchAll(SECTION_PATTERN)) {
      const document = match[1].startsWith('README') ? 'README.md' : match[1];
      const headings = targets.headings.get(document) ?? [];
      const name = match[2].toLowerCase();
      if (
        !headings.some((heading) =>
          plain(heading)
            .replace(/^\d+[a-z]?\.\s+/, '')
            .toLowerCase()
            .startsWith(name),
        )
      )
        report(block, match[0], `${document} has no heading "${match[2]}"`);
    }
    for (const match of text.matchAll(NUMBERED_SECTION_PATTERN)) {
      const headings = targets.headings.get(match[1]) ?? [];
      if (!headings.some((heading) => heading.startsWith(`${match[2]}.`))) report(block, match[0], `${match[1]} has no section ${match[2]}`);
    }
    if (block.kind === 'string') continue;
    for (const match of text.matchAll(PATH_PATTERN)) {
      const cited = match[1].replace(/[.]+$/, '');
      // Bare prose (which client/key) is not a citation; a file name, a folder with its slash, or a quoted path is.
      const quoted = /[`'"]/.test(text.charAt(match.index - 1));
      if (!quoted && !/\.\w+$/.test(cited) && !cited.endsWith('/')) continue;
      if (!pathExists(cited, targets) && !targets.ignored(cited)) report(block, cited, 'no such file or directory in the repository');
    }
    for (const match of text.matchAll(FILE_NAME_PATTERN)) {
      if (!targets.fileNames.has(match[1]) && !match[1].endsWith('.d.ts')) report(block, match[1], 'no TypeScript file of that name in the repository');
    }
    if (block.kind !== 'markdown') continue;
    for (const match of text.matchAll(LINK_PATTERN)) {
      const problem = linkProblem(file, match[1], targets);
      if (problem) report(block, match[1], problem);
    }
  }
  return broken;
}

/** Whether a repository-relative path lies in a folder that `root`'s .gitignore ignores (generated output). */
export function gitignoredFolders(root: string): (relativePath: string) => boolean {
  const patterns = fs
    .readFileSync(path.join(root, '.gitignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.endsWith('/') && !line.startsWith('#'))
    .map((line) => line.slice(0, -1));
  return (relativePath) => {
    const segments = relativePath.split('/');
    // A pattern with a slash is anchored at the root; one without matches a folder at any depth (gitignore's rule).
    return patterns.some((pattern) => (pattern.includes('/') ? `${relativePath}/`.startsWith(`${pattern}/`) : segments.includes(pattern)));
  };
}

/** The targets of the repository at `root`, read from disk. */
export function repositoryTargets(root: string, files: { readonly typescript: readonly string[]; readonly markdown: readonly string[] }, ignored: (relativePath: string) => boolean): CitationTargets {
  return {
    invariants: invariantsOf(fs.readFileSync(path.join(root, 'docs/design.md'), 'utf8')),
    headings: new Map(files.markdown.map((file) => [file, headingsOf(fs.readFileSync(path.join(root, file), 'utf8'))])),
    fileNames: new Set(files.typescript.map((file) => path.posix.basename(file))),
    exists: (relativePath) => fs.existsSync(path.join(root, relativePath)),
    ignored,
  };
}

/**
 * The files to scan under `root`: TypeScript under the source folders, and every Markdown file,
 * neither in a hidden, ignored or `node_modules` folder.
 */
export function filesToScan(root: string, ignored: (relativePath: string) => boolean): { typescript: string[]; markdown: string[] } {
  const typescript: string[] = [];
  const markdown: string[] = [];
  const walk = (directory: string) => {
    for (const entry of fs.readdirSync(path.join(root, directory), { withFileTypes: true })) {
      const relative = directory ? `${directory}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!entry.name.startsWith('.') && entry.name !== 'node_modules' && !ignored(relative)) walk(relative);
      } else if (entry.name.endsWith('.md')) markdown.push(relative);
      else if (entry.name.endsWith('.ts') && SOURCE_ROOTS.includes(relative.split('/')[0])) typescript.push(relative);
    }
  };
  walk('');
  return { typescript: typescript.sort(), markdown: markdown.sort() };
}

function pathExists(cited: string, targets: CitationTargets): boolean {
  // A module specifier names a file without its extension.
  const bare = cited.replace(/\/$/, '');
  return targets.exists(bare) || targets.exists(`${bare}.ts`);
}

function linkProblem(file: string, target: string, targets: CitationTargets): string | undefined {
  if (/^[a-z][a-z+.-]*:/i.test(target)) return undefined; // https:, mailto:
  const [linkPath, anchor] = target.split('#', 2);
  const resolved = linkPath === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), linkPath));
  if (resolved.startsWith('..') || !targets.exists(resolved)) return `links to ${resolved}, which does not exist`;
  if (anchor === undefined || !resolved.endsWith('.md')) return undefined;
  const headings = targets.headings.get(resolved);
  if (headings && !anchorsOf(headings).has(anchor)) return `${resolved} has no heading with the anchor #${anchor}`;
  return undefined;
}

/** Anchors GitHub gives a file's headings, a repeated one suffixed -1, -2, … */
function anchorsOf(headings: readonly string[]): Set<string> {
  const anchors = new Set<string>();
  for (const heading of headings) {
    const base = anchorOf(plain(heading));
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** A heading's text as rendered: links to their text, code and emphasis marks dropped. */
function plain(heading: string): string {
  return heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*_]/g, '');
}

/** `1, 4 and 7` → 1, 4, 7; `1–4` → 1, 2, 3, 4. */
function citedNumbers(list: string): number[] {
  const numbers: number[] = [];
  for (const part of list.split(/\s*(?:,|and|or)\s*/)) {
    const range = /^(\d+)\s*[–-]\s*(\d+)$/.exec(part);
    if (range) for (let n = Number(range[1]); n <= Number(range[2]); n++) numbers.push(n);
    else if (/^\d+$/.test(part)) numbers.push(Number(part));
  }
  return numbers;
}

function lineIndex(source: string): (offset: number) => number {
  const starts = [0];
  for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle] <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}

/** Where `needle` next occurs from `from`, or the end of `text`. */
function indexOrEnd(text: string, needle: string, from: number): number {
  const index = text.indexOf(needle, from);
  return index === -1 ? text.length : index;
}

/** [A-Za-z0-9_$] */
function isWordChar(code: number): boolean {
  return (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 36;
}

/** Words after which a `/` starts a regular expression, not a division. */
const REGEX_AFTER_WORDS = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** Whether a `/` after this character or word starts a regular expression rather than a division. */
function regexMayFollow(previous: string): boolean {
  if (previous === '') return true;
  if (/^[\w$]/.test(previous)) return REGEX_AFTER_WORDS.has(previous);
  return !')]}\'"`/'.includes(previous);
}
