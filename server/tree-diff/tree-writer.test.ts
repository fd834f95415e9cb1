import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGit } from './git-runner.js';
import { blobId, ObjectStore } from './object-store.js';
import { fileMode, writeTree, type TreeEntry } from './tree-writer.js';

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

describe('writeTree', () => {
  it('writes the tree git would, in git order (a directory sorts as if its name ended in /)', async () => {
    const blob = (text: string): TreeEntry => ({ mode: '100644', id: blobId(Buffer.from(text)) });
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
    const id = await writeTree(store, entries);
    expect(id).toBe(await gitTree(entries));
    const listed = await runGit(store.git, { args: ['ls-tree', '-r', '-z', '--name-only', id], maxStdoutBytes: 4096 });
    expect(listed.toString('latin1').split('\0').filter(Boolean).sort()).toEqual(entries.map(([key]) => key).sort());
  });

  it('writes the empty tree for no entries', async () => {
    expect(await writeTree(store, [])).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  it('refuses a path that is both a file and a directory', async () => {
    const entry: TreeEntry = { mode: '100644', id: blobId(Buffer.alloc(0)) };
    await expect(writeTree(store, [['a', entry], ['a/b', entry]])).rejects.toThrow(/both a file and a directory/);
    await expect(writeTree(store, [['a/b', entry], ['a', entry]])).rejects.toThrow(/both a file and a directory/);
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
