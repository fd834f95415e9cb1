import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ignore from 'ignore';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isIgnored, selectWorkspaceFiles } from './workspace-files.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
}

const git = (...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd: dir, stdio: 'pipe' });

describe('isIgnored', () => {
  it('applies each .gitignore below its own directory, a deeper negation winning', () => {
    const scopes = [
      { dirRel: '', rules: ignore().add('*.log\nbuild/\n') },
      { dirRel: 'keep', rules: ignore().add('!important.log\n') },
    ];
    expect(isIgnored('a.log', scopes)).toBe(true);
    expect(isIgnored('build/', scopes)).toBe(true);
    expect(isIgnored('src/build/', scopes)).toBe(true);
    expect(isIgnored('keep/important.log', scopes)).toBe(false);
    expect(isIgnored('keep/other.log', scopes)).toBe(true);
    expect(isIgnored('src/a.ts', scopes)).toBe(false);
  });
});

describe('selectWorkspaceFiles', () => {
  it('in a git work tree, takes tracked and untracked files, leaves out ignored ones and .git', async () => {
    await put({ '.gitignore': 'dist/\n*.tmp\n', 'src/a.ts': 'a', 'README.md': 'r', 'dist/out.js': 'o', 'x.tmp': 't' });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-qm', 'init');
    await put({ 'new.txt': 'untracked', 'scratch.tmp': 'ignored' });
    expect(await selectWorkspaceFiles(dir, { withGit: false })).toEqual(['.gitignore', 'README.md', 'new.txt', 'src/a.ts']);
    const withGit = await selectWorkspaceFiles(dir, { withGit: true });
    expect(withGit).toContain('.git/HEAD');
    expect(withGit).toContain('src/a.ts');
    expect(withGit).not.toContain('dist/out.js');
  });

  it('from a subdirectory of a work tree, lists paths relative to it', async () => {
    await put({ 'pkg/a.ts': 'a', 'top.txt': 't' });
    git('init', '-q');
    expect(await selectWorkspaceFiles(path.join(dir, 'pkg'), { withGit: false })).toEqual(['a.ts']);
  });

  it('outside git, takes everything but what the .gitignore files exclude', async () => {
    await put({ '.gitignore': 'node_modules/\n*.log\n', 'a.js': 'a', 'node_modules/x/index.js': 'x', 'debug.log': 'd', 'sub/.gitignore': '!keep.log\n', 'sub/keep.log': 'k', 'sub/drop.log': 'd', '.git/config': 'not a repo' });
    expect(await selectWorkspaceFiles(dir, { withGit: false })).toEqual(['.gitignore', 'a.js', 'sub/.gitignore', 'sub/keep.log']);
  });
});
