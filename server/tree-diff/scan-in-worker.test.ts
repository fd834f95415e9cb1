import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTar, device, dir, file, hardlink, symlink } from '../archive/test-tarballs.js';
import { scanBaseline } from './baseline-scan.js';
import { scanInWorker } from './scan-in-worker.js';
import { TreeDiffError } from './tree-diff-error.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'scan-in-worker-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function tarFile(name: string, bytes: Buffer): Promise<string> {
  const path = join(work, name);
  await writeFile(path, bytes);
  return path;
}

describe('scanInWorker', () => {
  it('gives what the scan on this thread gives: entries with Buffer link targets, omissions and skipped kinds', async () => {
    const tar = await tarFile(
      'tree.tar',
      await buildTar([dir('src/'), file('src/a.txt', 'alpha\n'), file('run.sh', '#!/bin/sh\n', { mode: 0o755 }), symlink('link', 'src/a.txt'), hardlink('hard', 'src/a.txt'), hardlink('dangling', 'nowhere'), device('pipe', 'fifo')]),
    );
    const here = await scanBaseline(tar);
    const there = await scanInWorker(tar);
    expect(there).toEqual(here);
    expect(Buffer.isBuffer(there.entries.get('link')!.link)).toBe(true);
    expect(there.entries.get('link')!.link!.toString()).toBe('src/a.txt');
    expect(there.omitted).toEqual([{ path: 'dangling', reason: 'link_target_missing' }]);
    expect(there.skipped).toEqual([{ path: 'pipe', kind: 'fifo' }]);
  });

  it('throws the scan\'s TreeDiffError with its code', async () => {
    const tar = await tarFile('bad.tar', Buffer.concat([await buildTar([file('ok.txt')]), Buffer.from('garbage')]).subarray(0, 700));
    const here = await scanBaseline(tar).catch((error: unknown) => error);
    expect(here).toBeInstanceOf(TreeDiffError);
    const there = await scanInWorker(tar).catch((error: unknown) => error);
    expect(there).toBeInstanceOf(TreeDiffError);
    expect(there).toMatchObject({ code: (here as TreeDiffError).code, message: (here as TreeDiffError).message });
  });

  it('stops, and rejects with the reason, when its signal aborts', async () => {
    const tar = await tarFile('tree.tar', await buildTar([file('a.txt')]));
    const stop = new AbortController();
    const scanning = scanInWorker(tar, stop.signal);
    stop.abort(new Error('run cancelled'));
    await expect(scanning).rejects.toThrow('run cancelled');
    await expect(scanInWorker(tar, stop.signal)).rejects.toThrow('run cancelled');
  });
});
