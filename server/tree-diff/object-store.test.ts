import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runGit } from './git-runner.js';
import { blobId, ObjectStore } from './object-store.js';
import { TreeDiffError } from './tree-diff-error.js';

let dir: string;
let store: ObjectStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'object-store-'));
  store = await ObjectStore.create(dir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const gitHash = async (content: Buffer) => (await runGit(store.git, { args: ['hash-object', '--stdin'], stdin: content, maxStdoutBytes: 100 })).toString().trim();
const catFile = (id: string) => runGit(store.git, { args: ['cat-file', 'blob', id], maxStdoutBytes: 16 * 1024 * 1024 });
const temps = async () => (await readdir(join(store.git.gitDir, 'objects'))).filter((name) => name.startsWith('tmp_obj_'));

describe('ObjectStore', () => {
  it('streams a blob that git reads back, under the id git computes', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 7);
    const writer = store.begin(content.length);
    for (let at = 0; at < content.length; at += 100_000) await writer.write(content.subarray(at, at + 100_000));
    const id = await writer.finish();
    expect(id).toBe(await gitHash(content));
    expect(id).toBe(blobId(content));
    expect(store.has(id)).toBe(true);
    expect((await catFile(id)).equals(content)).toBe(true);
    expect(await temps()).toEqual([]);
  });

  it('writes small objects in one go, the empty blob included', async () => {
    for (const content of [Buffer.alloc(0), Buffer.from('target/of/a/link')]) {
      const id = await store.writeObject('blob', content);
      expect(id).toBe(await gitHash(content));
      expect((await catFile(id)).equals(content)).toBe(true);
      expect(await store.writeObject('blob', content)).toBe(id);
    }
  });

  it('refuses more or fewer bytes than announced and leaves no temp file', async () => {
    const over = store.begin(2);
    await expect(over.write(Buffer.from('abc'))).rejects.toBeInstanceOf(TreeDiffError);
    await over.abort();
    const under = store.begin(5);
    await under.write(Buffer.from('ab'));
    await expect(under.finish()).rejects.toThrow(/2 of its 5 bytes/);
    await under.abort();
    expect(await temps()).toEqual([]);
  });

  it('copies a byte range of a file, and says so when it no longer hashes to the id expected', async () => {
    const file = join(dir, 'data');
    await writeFile(file, 'xxhello\nyy');
    const id = blobId(Buffer.from('hello\n'));
    await store.copyRange(file, 2, 6, id);
    expect((await catFile(id)).toString()).toBe('hello\n');
    const error = await store.copyRange(file, 3, 6, blobId(Buffer.from('other!'))).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'store_corrupt' });
    expect(await temps()).toEqual([]);
  });
});
