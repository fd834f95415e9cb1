import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGit, type GitEnv } from './git-runner.js';
import { ObjectStore } from './object-store.js';
import { classifyPath, displayPath, gitRefusesComponent, keyOf, parentKeys, walkCompare } from './tree-path.js';

const raw = (name: string) => Buffer.from(name, 'latin1');

describe('classifyPath', () => {
  it('strips the prefix and normalizes, naming the root', () => {
    expect(classifyPath(raw('workspace/'), 'workspace/', false)).toEqual({ kind: 'root' });
    expect(classifyPath(raw('workspace'), 'workspace/', false)).toEqual({ kind: 'root' });
    expect(classifyPath(raw('workspace/a//./b/'), 'workspace/', false)).toEqual({ kind: 'tracked', key: 'a/b' });
    expect(classifyPath(raw('./src/x'), '', false)).toEqual({ kind: 'tracked', key: 'src/x' });
    expect(classifyPath(raw('.'), '', false)).toEqual({ kind: 'root' });
  });

  it('returns null outside the prefix or above the root', () => {
    expect(classifyPath(raw('other/a'), 'workspace/', false)).toBeNull();
    expect(classifyPath(raw('workspace/../etc'), 'workspace/', false)).toBeNull();
  });

  it('puts any .git directory, at any depth, and a .git file out of scope', () => {
    for (const name of ['.git', '.git/config', 'vendor/lib/.git/objects/ab/cd', 'sub/.git']) {
      expect(classifyPath(raw(name), '', false)).toMatchObject({ kind: 'git_dir' });
    }
    expect(classifyPath(raw('a.git/x'), '', false)).toMatchObject({ kind: 'tracked' });
    expect(classifyPath(raw('.gitignore'), '', false)).toMatchObject({ kind: 'tracked' });
  });

  it('calls names git refuses unrepresentable', () => {
    expect(classifyPath(raw('.GIT/config'), '', false)).toMatchObject({ kind: 'unrepresentable', key: '.GIT/config' });
    expect(classifyPath(raw('a/git~1/b'), '', false)).toMatchObject({ kind: 'unrepresentable' });
    expect(classifyPath(raw('.gitmodules'), '', true)).toMatchObject({ kind: 'unrepresentable' });
    expect(classifyPath(raw('.gitmodules'), '', false)).toMatchObject({ kind: 'tracked' });
  });

  it('keeps names byte for byte and shows them as UTF-8', () => {
    const bytes = Buffer.from([0x61, 0xff, 0x0a, 0xc3, 0xa9]);
    const where = classifyPath(bytes, '', false);
    expect(where).toEqual({ kind: 'tracked', key: keyOf(bytes) });
    expect(displayPath(keyOf(bytes))).toBe('a\ufffd\né');
  });

  it('orders paths as a sorted depth-first walk visits them', () => {
    const walk = ['a', 'a/b', 'a/b/c', 'a/c', 'a-', 'a.b', 'b', 'b\xff'];
    const shuffled = [...walk].reverse();
    expect(shuffled.sort(walkCompare)).toEqual(walk);
    expect(walkCompare('x', 'x')).toBe(0);
  });

  it('lists parent paths', () => {
    expect(parentKeys('a/b/c')).toEqual(['a', 'a/b']);
    expect(parentKeys('a')).toEqual([]);
  });
});

describe('gitRefusesComponent, against git itself', () => {
  let dir: string;
  let git: GitEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tree-path-'));
    git = (await ObjectStore.create(dir)).git;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // update-index says "Ignoring path" and exits 0 for a path it refuses: look at what it kept.
  const gitRefuses = async (name: string, symlink: boolean): Promise<boolean> => {
    const line = Buffer.concat([raw(`${symlink ? '120000' : '100644'} ${'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391'}\t`), raw(name), Buffer.from([0])]);
    const indexFile = join(dir, 'probe.index');
    await rm(indexFile, { force: true });
    await runGit(git, { args: ['update-index', '-z', '--index-info'], stdin: line, indexFile, maxStdoutBytes: 1024 });
    const listed = await runGit(git, { args: ['ls-files', '-z'], indexFile, maxStdoutBytes: 1024 });
    return listed.length === 0;
  };

  it('has a probe that works: git refuses .GIT and takes plain', async () => {
    expect(await gitRefuses('.GIT', false)).toBe(true);
    expect(await gitRefuses('plain', false)).toBe(false);
  });

  const names = [
    'plain', '.git', '.GIT', '.Git', '.git.', '.git ', '.git. .', '.git::$INDEX_ALLOCATION', 'git~1', 'GIT~1', 'git~2',
    '.gitx', '.git-foo', 'a\\.git', 'a\\git~1', '.g\u200cit', '\ufeff.git', '.gitmodules', '.GITMODULES', 'gitmod~1',
    '.gitmodules ', '.gitattributes', '.gitignore', 'x.git', 'git', '~1', '..a', 'a..', 'tab\there', 'nl\nhere', 'é', 'gi7eba~1',
  ];
  it.each(names.flatMap((name) => [[name, false] as const, [name, true] as const]))('refuses at least what git refuses: %j (symlink %s)', async (name, symlink) => {
    const part = Buffer.from(name, 'utf8').toString('latin1');
    if (await gitRefuses(part, symlink)) expect(gitRefusesComponent(part, symlink)).toBe(true);
    // Names git takes that are plainly harmless must not be refused either.
    if (['plain', '.gitx', '.gitignore', 'x.git', 'git', 'tab\there', 'nl\nhere', 'é', '..a'].includes(name)) {
      expect(gitRefusesComponent(part, symlink)).toBe(false);
    }
  });
});
