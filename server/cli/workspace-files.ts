// Which files of a directory a run gets: in a git work tree, what git would commit (tracked and
// untracked files, ignored ones left out), `.git` only when asked; elsewhere, everything but what
// the `.gitignore` files exclude.
import { execFile } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import ignore, { type Ignore } from 'ignore';

const run = promisify(execFile);
const GIT_MAX_BUFFER = 256 * 1024 * 1024;

export interface SelectOptions {
  /** Include the directory's own `.git`. */
  withGit: boolean;
}

/** The workspace's paths, relative to `dir` with `/` separators, sorted. */
export async function selectWorkspaceFiles(dir: string, options: SelectOptions): Promise<string[]> {
  const files = (await isGitWorkTree(dir)) ? await gitFiles(dir) : await walk(dir, '', ignoreRulesFor(dir));
  if (options.withGit && (await exists(path.join(dir, '.git')))) files.push(...(await walk(dir, '.git', null)));
  return [...new Set(files)].sort();
}

export async function isGitWorkTree(dir: string): Promise<boolean> {
  try {
    const { stdout } = await run('git', ['-C', dir, 'rev-parse', '--is-inside-work-tree']);
    return stdout.trim() === 'true';
  } catch {
    return false;
  }
}

async function gitFiles(dir: string): Promise<string[]> {
  // Relative to dir (git lists from the current directory down), NUL-separated: no quoting of odd names.
  const { stdout } = await run('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { maxBuffer: GIT_MAX_BUFFER });
  return stdout.split('\0').filter((p) => p !== '');
}

/** One `.gitignore` per directory, each applied below its own directory, as git does. */
type IgnoreRules = (dirRel: string) => Promise<Ignore | null>;

function ignoreRulesFor(root: string): IgnoreRules {
  return async (dirRel) => {
    const text = await readFile(path.join(root, dirRel, '.gitignore'), 'utf8').catch(() => null);
    return text === null ? null : ignore().add(text);
  };
}

interface Scope {
  dirRel: string;
  rules: Ignore;
}

/** Whether `rel` (a directory when it ends in `/`) is excluded by the rules in scope, deepest last. */
export function isIgnored(rel: string, scopes: Scope[]): boolean {
  let ignored = false;
  for (const { dirRel, rules } of scopes) {
    if (dirRel !== '' && !rel.startsWith(`${dirRel}/`)) continue;
    const below = dirRel === '' ? rel : rel.slice(dirRel.length + 1);
    const result = rules.test(below);
    if (result.ignored) ignored = true;
    else if (result.unignored) ignored = false;
  }
  return ignored;
}

async function walk(root: string, start: string, rulesFor: IgnoreRules | null, scopes: Scope[] = []): Promise<string[]> {
  const out: string[] = [];
  const here = rulesFor ? await rulesFor(start) : null;
  const inScope = here ? [...scopes, { dirRel: start, rules: here }] : scopes;
  const entries = await readdir(path.join(root, start), { withFileTypes: true });
  for (const entry of entries) {
    const rel = start === '' ? entry.name : `${start}/${entry.name}`;
    if (rulesFor && entry.name === '.git') continue;
    const isDir = entry.isDirectory();
    if (rulesFor && isIgnored(isDir ? `${rel}/` : rel, inScope)) continue;
    if (isDir) out.push(...(await walk(root, rel, rulesFor, inScope)));
    else out.push(rel);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}
