import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGit } from './git-runner.js';
import { blobId, ObjectStore } from './object-store.js';
import { buildTree, fileMode, treesForDiff, type TreeEntry } from './tree-writer.js';

let dir: string;
let store: ObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tree-writer-'));
  store = await ObjectStore.create(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The same tree written by git itself. */
async function gitTree(entries: [string, TreeEntry][]): Promise<string> {
  const lines = entries.map(([key, { mode, id }]) => Buffer.concat([Buffer.from(`${mode} ${id}\t`), Buffer.from(key, 'latin1'), Buffer.from([0])]));
  const indexFile = join(dir, 'check.index');
  await runGit(store.git, { args: ['update-index', '-z', '--index-info'], stdin: Buffer.concat(lines), indexFile, maxStdoutBytes: 100 });
  return (await runGit(store.git, { args: ['write-tree', '--missing-ok'], indexFile, maxStdoutBytes: 100 })).toString().trim();
}

/** Builds the tree and stores every object of it; returns the root's id. */
async function writeTree(entries: [string, TreeEntry][]): Promise<string> {
  const tree = buildTree(entries);
  await store.writeObjects([...tree.byPath.values()]);
  return tree.rootId;
}

const blob = (text: string): TreeEntry => ({ mode: '100644', id: blobId(Buffer.from(text)) });

describe('buildTree', () => {
  it('writes the tree git would, in git order (a directory sorts as if its name ended in /)', async () => {
    const entries: [string, TreeEntry][] = [
      ['a/b', blob('1')],
      ['a.b', blob('2')],
      ['a-', blob('3')],
      ['a0', blob('4')],
      ['ab/c/d/e', blob('5')],
      ['run.sh', { mode: '100755', id: blobId(Buffer.from('6')) }],
      ['link', { mode: '120000', id: blobId(Buffer.from('a/b')) }],
      [Buffer.from([0xff, 0x0a, 0x09]).toString('latin1'), blob('7')],
      ['é', blob('8')],
    ];
    const id = await writeTree(entries);
    expect(id).toBe(await gitTree(entries));
    const listed = await runGit(store.git, { args: ['ls-tree', '-r', '-z', '--name-only', id], maxStdoutBytes: 4096 });
    expect(listed.toString('latin1').split('\0').filter(Boolean).sort()).toEqual(entries.map(([key]) => key).sort());
  });

  it('writes the empty tree for no entries', async () => {
    expect(await writeTree([])).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  it('refuses a path that is both a file and a directory', async () => {
    const entry: TreeEntry = { mode: '100644', id: blobId(Buffer.alloc(0)) };
    expect(() => buildTree([['a', entry], ['a/b', entry]])).toThrow(/both a file and a directory/);
    expect(() => buildTree([['a/b', entry], ['a', entry]])).toThrow(/both a file and a directory/);
  });
});

describe('treesForDiff', () => {
  it('names both sides of every directory that differs and nothing below one that does not, and git diffs with only those stored', async () => {
    const base: [string, TreeEntry][] = [['same/x/a', blob('1')], ['same/y', blob('2')], ['deep/er/c', blob('3')], ['deep/d', blob('4')], ['gone/e', blob('5')], ['gone/sub/f', blob('6')]];
    // `moved` holds what `same/x` holds: equal by id, at a path the baseline does not have.
    const final: [string, TreeEntry][] = [['same/x/a', blob('1')], ['same/y', blob('2')], ['deep/er/c', blob('3 changed')], ['deep/d', blob('4')], ['moved/a', blob('1')]];
    const from = buildTree(base);
    const to = buildTree(final);
    const needed = treesForDiff(from, to);
    const pathsOf = (tree: typeof from) => [...tree.byPath].filter(([, object]) => needed.includes(object)).map(([path]) => path).sort();
    expect(pathsOf(from)).toEqual(['', 'deep', 'deep/er', 'gone', 'gone/sub']);
    expect(pathsOf(to)).toEqual(['', 'deep', 'deep/er', 'moved']);

    await store.writeObjects(needed);
    const diff = await runGit(store.git, { args: ['diff-tree', '-r', '--no-renames', '--name-status', '-z', from.rootId, to.rootId], maxStdoutBytes: 4096 });
    const lines = diff.toString('latin1').split('\0').filter(Boolean);
    expect(lines).toEqual(['M', 'deep/er/c', 'D', 'gone/e', 'D', 'gone/sub/f', 'A', 'moved/a']);
  });

  it('names nothing for two equal trees', () => {
    const entries: [string, TreeEntry][] = [['a/b', blob('1')]];
    expect(treesForDiff(buildTree(entries), buildTree(entries))).toEqual([]);
  });
});

describe('fileMode', () => {
  it('keeps only the owner execute bit, as git does', () => {
    expect(fileMode(0o644)).toBe('100644');
    expect(fileMode(0o755)).toBe('100755');
    expect(fileMode(0o744)).toBe('100755');
    expect(fileMode(0o655)).toBe('100644');
  });
});
