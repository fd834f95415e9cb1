import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chmod, link, mkdir, mkdtemp, readFile, rename, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeSummary } from '../runs/run.js';
import { indexBaseline } from './baseline-index.js';
import { diffFinalTree, type DiffOptions, type TreeDiff } from './diff-final-tree.js';
import { existingPath, mulberry32, put, randomPath, remove } from './test-random-trees.js';
import { extract, gitApply, sh, snapshot, spoolUpload, tarStream, withoutOther, type Node } from './test-trees.js';

const works: string[] = [];
afterEach(async () => {
  await Promise.all(works.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

type Setup = (dir: string) => Promise<unknown>;

interface Outcome {
  result: TreeDiff;
  patch: Buffer;
  /** The original tree with the patch applied by `git apply`. */
  applied: Map<string, Node>;
  /** The final tree, FIFOs and devices left out. */
  final: Map<string, Node>;
  bytesStreamed: number;
}

/**
 * Uploads `base` as the server would (GNU tar, then spoolWorkspace's re-pack), indexes it,
 * extracts it as the sandbox would, lets `change` act as Codex, tars the result as Docker's
 * archive API would, diffs, and applies the patch to a fresh extraction of the upload.
 */
async function scenario(base: Setup | null, change: Setup, opts: Partial<DiffOptions> = {}): Promise<Outcome> {
  const work = await mkdtemp(join(tmpdir(), 'diff-final-tree-'));
  works.push(work);
  const src = join(work, 'src');
  await mkdir(src);
  await base?.(src);
  const input = base ? await spoolUpload(src, work) : null;
  const baseline = await indexBaseline(input, join(work, 'store'));
  const original = async (dir: string) => (input ? extract(input, dir) : mkdir(dir, { recursive: true }).then(() => {}));
  try {
    const finalDir = join(work, 'final', 'workspace');
    await original(finalDir);
    await change(finalDir);
    const tar = tarStream(join(work, 'final'));
    const patchPath = join(work, 'diff.patch');
    const result = await diffFinalTree(baseline, tar.stream, { patchPath, maxBytes: 2 ** 40, maxPatchBytes: 2 ** 30, ...opts });
    await tar.done;
    expect(existsSync(`${patchPath}.partial`)).toBe(false);
    const patch = result.patch.written ? await readFile(patchPath) : Buffer.alloc(0);
    const applyRoot = join(work, 'apply');
    await original(join(applyRoot, 'workspace'));
    if (patch.length > 0) await gitApply(applyRoot, patchPath);
    return { result, patch, applied: await snapshot(join(applyRoot, 'workspace')), final: withoutOther(await snapshot(finalDir)), bytesStreamed: tar.bytes() };
  } finally {
    await baseline.dispose();
  }
}

const write = (dir: string, path: string, content: string | Buffer) => writeFile(join(dir, path), content);
const raw = (dir: string, bytes: number[]) => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(bytes)]);

describe('diffFinalTree', () => {
  it('carries edits, additions and deletions, and summarises them like a ChangeSummary', async () => {
    const { result, applied, final, patch } = await scenario(
      async (d) => {
        await write(d, 'a.txt', 'one\ntwo\nthree\n');
        await write(d, 'gone.txt', 'bye\nbye\n');
        await mkdir(join(d, 'src/deep'), { recursive: true });
        await write(d, 'src/deep/keep.ts', 'export {};\n');
      },
      async (d) => {
        await write(d, 'a.txt', 'one\nTWO\nthree\nfour\n');
        await unlink(join(d, 'gone.txt'));
        await write(d, 'src/deep/new.ts', 'export const x = 1;\n');
      },
    );
    expect(applied).toEqual(final);
    const changes: ChangeSummary = result.changes;
    expect(changes).toEqual({
      files_changed: 3,
      insertions: 3,
      deletions: 3,
      files: [
        { path: 'a.txt', insertions: 2, deletions: 1 },
        { path: 'gone.txt', insertions: 0, deletions: 2 },
        { path: 'src/deep/new.ts', insertions: 1, deletions: 0 },
      ],
    });
    expect(result.patch).toEqual({ written: true, bytes: patch.length });
    expect(result).toMatchObject({ omitted: [], skipped: [], truncated: false });
  });

  it('carries modes and symlinks: chmod +x and -x, file to symlink, retarget, symlink to file, directory to symlink', async () => {
    const { applied, final, patch, result } = await scenario(
      async (d) => {
        await write(d, 'run.sh', '#!/bin/sh\n');
        await write(d, 'tool', '#!/bin/sh\n');
        await chmod(join(d, 'tool'), 0o755);
        await write(d, 'was-file', 'content\n');
        await symlink('run.sh', join(d, 'link'));
        await symlink('run.sh', join(d, 'becomes-file'));
        await mkdir(join(d, 'dir'));
        await write(d, 'dir/inside', 'x\n');
        await write(d, 'file-then-dir', 'x\n');
      },
      async (d) => {
        await chmod(join(d, 'run.sh'), 0o755);
        await chmod(join(d, 'tool'), 0o644);
        await unlink(join(d, 'was-file'));
        await symlink('tool', join(d, 'was-file'));
        await unlink(join(d, 'link'));
        await symlink('dir/../tool', join(d, 'link'));
        await unlink(join(d, 'becomes-file'));
        await write(d, 'becomes-file', 'now a file\n');
        await rm(join(d, 'dir'), { recursive: true });
        await symlink('tool', join(d, 'dir'));
        await unlink(join(d, 'file-then-dir'));
        await mkdir(join(d, 'file-then-dir'));
        await write(d, 'file-then-dir/child', 'y\n');
      },
    );
    expect(applied).toEqual(final);
    expect(patch.toString()).toContain('old mode 100644\nnew mode 100755');
    expect(patch.toString()).toContain('new file mode 120000');
    expect(result.changes.files.find((f) => f.path === 'run.sh')).toEqual({ path: 'run.sh', insertions: 0, deletions: 0 });
  });

  it('carries binary files, added, edited and deleted, with null line counts', async () => {
    const image = randomBytes(200_000);
    const { applied, final, patch, result } = await scenario(
      async (d) => {
        await write(d, 'img.bin', image);
        await write(d, 'old.bin', Buffer.from([0, 1, 2, 3, 0]));
      },
      async (d) => {
        const edited = Buffer.from(image);
        edited[100_000] = edited[100_000]! ^ 1;
        await write(d, 'img.bin', edited);
        await unlink(join(d, 'old.bin'));
        await write(d, 'new.bin', Buffer.concat([Buffer.from([0]), randomBytes(5000)]));
      },
    );
    expect(applied).toEqual(final);
    expect(patch.toString()).toContain('GIT binary patch');
    expect(result.changes.files.every((f) => f.insertions === null && f.deletions === null)).toBe(true);
    expect(result.changes.files_changed).toBe(3);
  });

  it('keeps CRLF bytes and counts lines, whatever .gitattributes and the workspace repository say', async () => {
    const { applied, final, patch, result } = await scenario(
      async (d) => {
        await write(d, '.gitattributes', '* text eol=lf\n*.txt binary diff=evil\n');
        await write(d, 'win.txt', 'first\r\nsecond\r\n');
        await sh('git init -q && git config core.autocrlf true && git config diff.evil.textconv "sed s/./X/g" && git config diff.external /bin/false', d);
      },
      async (d) => {
        await write(d, 'win.txt', 'first\r\nsecond\r\nthird\r\n');
        await write(d, 'new.txt', 'a\r\n');
      },
    );
    expect(applied).toEqual(final);
    expect(patch.includes(Buffer.from('+third\r\n'))).toBe(true);
    expect(patch.includes(Buffer.from(' second\r\n'))).toBe(true);
    expect(result.changes.files).toEqual([
      { path: 'new.txt', insertions: 1, deletions: 0 },
      { path: 'win.txt', insertions: 1, deletions: 0 },
    ]);
  });

  it("covers a nested repository's files but not its .git, nor a gitlink .git file", async () => {
    const { applied, final, patch, result } = await scenario(
      async (d) => {
        await mkdir(join(d, 'vendor/lib'), { recursive: true });
        await write(d, 'vendor/lib/code.c', 'int x;\n');
        await sh('git init -q && git add -A && git commit -qm one', join(d, 'vendor/lib'));
        await mkdir(join(d, 'sub'));
        await write(d, 'sub/.git', 'gitdir: ../.git/modules/sub\n');
      },
      async (d) => {
        await write(d, 'vendor/lib/code.c', 'int x = 2;\n');
        await sh('git commit -qam two && git gc -q', join(d, 'vendor/lib'));
        await write(d, 'sub/.git', 'gitdir: elsewhere\n');
        await write(d, 'sub/file', 'beside the gitlink\n');
      },
    );
    expect(applied).toEqual(final);
    expect(result.changes.files.map((f) => f.path)).toEqual(['sub/file', 'vendor/lib/code.c']);
    expect(patch.toString()).not.toMatch(/\.git\//);
  });

  it('keeps names that are not UTF-8 and names with newlines, tabs, quotes and spaces', async () => {
    const odd = ['new\nline', 'tab\there', 'quote"d', 'back\\slash', ' lead', 'trail ', '-dash', 'ünï', '*star?'];
    const { applied, final, patch, result } = await scenario(
      async (d) => {
        for (const name of odd) await write(d, name, `${name}\n`);
      },
      async (d) => {
        for (const name of odd) await appendFile(join(d, name), 'more\n');
        await writeFile(raw(d, [0x62, 0x61, 0x64, 0xff, 0xfe]), 'not utf-8\n');
        await mkdir(raw(d, [0x64, 0x69, 0x72, 0x80]));
        await writeFile(raw(d, [0x64, 0x69, 0x72, 0x80, 0x2f, 0x78]), 'inside\n');
        await symlink(Buffer.from([0x74, 0xe9]), raw(d, [0x6c, 0xe9]));
        // No ---/+++ lines for these: git apply must read the names from the diff --git line.
        await mkdir(join(d, 'x '));
        await write(d, 'x /bin', Buffer.from([0, 1]));
        await write(d, 'x /empty', '');
        await chmod(join(d, ' lead'), 0o755);
      },
    );
    expect(applied).toEqual(final);
    expect(final.has(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]).toString('latin1'))).toBe(true);
    expect(patch.toString('latin1')).toContain('"b/bad\\377\\376"');
    expect(result.changes.files_changed).toBe(odd.length + 5);
    expect(result.changes.files.map((f) => f.path)).toContain('bad\ufffd\ufffd');
  });

  it('stops at a sparse file over maxBytes, reads the stream no further, and diffs what came before it', async () => {
    const maxBytes = 8 * 1024 * 1024;
    const { applied, final, result, bytesStreamed } = await scenario(
      async (d) => {
        await write(d, 'a.txt', 'a\n');
        await write(d, 'old.txt', 'sorts before the cut\n');
        await write(d, 'z-late.txt', 'sorts after the cut\n');
      },
      async (d) => {
        await write(d, 'a.txt', 'A\n');
        await unlink(join(d, 'old.txt'));
        await write(d, 'p-huge.bin', '');
        await truncate(join(d, 'p-huge.bin'), 50 * 1024 ** 3);
        await write(d, 'z-late.txt', 'changed, but never read\n');
        await write(d, 'z-new.txt', 'never read\n');
      },
      { maxBytes },
    );
    expect(result.truncated).toBe(true);
    expect(result.omitted).toEqual([{ path: 'p-huge.bin', reason: 'max_bytes' }]);
    expect(result.changes.files).toEqual([
      { path: 'a.txt', insertions: 1, deletions: 1 },
      { path: 'old.txt', insertions: 0, deletions: 1 },
    ]);
    // tar writes on until its pipe breaks: what it got out is bounded by the pipe, not 50 GiB.
    expect(bytesStreamed).toBeLessThan(maxBytes);
    expect(applied.get('z-late.txt')).not.toEqual(final.get('z-late.txt'));
    for (const key of ['p-huge.bin', 'z-late.txt', 'z-new.txt']) final.delete(key);
    applied.delete('z-late.txt');
    expect(applied).toEqual(final);
  });

  it('names FIFOs and devices it skips, and leaves them out of the patch', async () => {
    const { applied, final, result } = await scenario(
      async (d) => write(d, 'pipe', 'a file, then a FIFO\n'),
      async (d) => {
        await unlink(join(d, 'pipe'));
        await sh('mkfifo pipe fifo2 && mknod null0 c 1 3', d);
      },
    );
    expect(result.skipped).toEqual([
      { path: 'fifo2', kind: 'fifo' },
      { path: 'null0', kind: 'character-device' },
      { path: 'pipe', kind: 'fifo' },
    ]);
    expect(result.changes.files).toEqual([{ path: 'pipe', insertions: 0, deletions: 1 }]);
    expect(applied).toEqual(final);
  });

  it('omits names git refuses and still applies the rest', async () => {
    const { applied, final, result } = await scenario(
      async (d) => write(d, 'a', 'a\n'),
      async (d) => {
        await mkdir(join(d, '.GIT'));
        await write(d, '.GIT/config', 'x');
        await write(d, 'git~1', 'x');
        await write(d, 'b', 'b\n');
      },
    );
    expect(result.omitted).toEqual([
      { path: '.GIT/config', reason: 'unrepresentable' },
      { path: 'git~1', reason: 'unrepresentable' },
    ]);
    final.delete('.GIT/config');
    final.delete('git~1');
    expect(applied).toEqual(final);
  });

  it('carries hard links as the files they are, and renames as a deletion and an addition', async () => {
    const { applied, final, result } = await scenario(
      async (d) => {
        await write(d, 'before', 'moved\n');
        await symlink('before', join(d, 'link'));
      },
      async (d) => {
        await rename(join(d, 'before'), join(d, 'after'));
        await link(join(d, 'after'), join(d, 'twin'));
        // A hard link to the (unchanged) symlink itself.
        await sh('ln -P link link-twin', d);
      },
    );
    expect(applied).toEqual(final);
    expect(final.get('link-twin')).toEqual({ kind: 'symlink', target: 'before' });
    expect(result.changes.files).toEqual([
      { path: 'after', insertions: 1, deletions: 0 },
      { path: 'before', insertions: 0, deletions: 1 },
      { path: 'link-twin', insertions: 1, deletions: 0 },
      { path: 'twin', insertions: 1, deletions: 0 },
    ]);
  });

  it('writes an empty patch when nothing changed', async () => {
    const same = await scenario(
      async (d) => write(d, 'a', 'a\n'),
      async () => {},
    );
    expect(same.patch.length).toBe(0);
    expect(same.result.changes).toEqual({ files_changed: 0, insertions: 0, deletions: 0, files: [] });
    expect(same.result.patch).toEqual({ written: true, bytes: 0 });
  });

  it('adds every file when there was no upload', async () => {
    const { applied, final, result } = await scenario(null, async (d) => {
      await mkdir(join(d, 'src'));
      await write(d, 'src/main.c', 'int main;\n');
      await symlink('src/main.c', join(d, 'link'));
    });
    expect(result.changes.files_changed).toBe(2);
    expect(applied).toEqual(final);
  });

  it('does not write a patch over maxPatchBytes, and still summarises', async () => {
    const { result } = await scenario(
      async (d) => write(d, 'a', 'a\n'),
      async (d) => write(d, 'big.txt', 'line\n'.repeat(10_000)),
      { maxPatchBytes: 1000 },
    );
    expect(result.patch).toEqual({ written: false, reason: 'too_large' });
    expect(result.changes.files).toEqual([{ path: 'big.txt', insertions: 10_000, deletions: 0 }]);
  });

  it('rejects with the abort reason and leaves no patch behind', async () => {
    const reason = new Error('run deadline');
    const error = await scenario(
      async (d) => write(d, 'a', 'a\n'),
      async (d) => write(d, 'a', 'b\n'),
      { signal: AbortSignal.abort(reason) },
    ).catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(existsSync(join(works.at(-1)!, 'diff.patch'))).toBe(false);
  });

  // Random trees, random edits: whatever the run does, the patch rebuilds the final tree.
  it.each(Array.from({ length: 20 }, (_, seed) => seed))('round-trips random tree %i', async (seed) => {
    const random = mulberry32(seed + 1);
    const { applied, final } = await scenario(
      async (d) => {
        for (let i = 0; i < 12; i++) await put(d, randomPath(random), random, 'upload');
      },
      async (d) => {
        const ops = 1 + Math.floor(random() * 8);
        for (let i = 0; i < ops; i++) {
          const path = random() < 0.6 ? await existingPath(d, random) : randomPath(random);
          if (path === null) continue;
          const what = random();
          if (what < 0.3) await remove(join(d, path));
          else if (what < 0.45) await chmod(join(d, path), 0o755).catch(() => {}); // a dangling link, a file in the way
          else await put(d, path, random, 'run');
        }
      },
    );
    expect(applied).toEqual(final);
  });
});
