import { createReadStream, existsSync } from 'node:fs';
import { chmod, link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTar, dir, file } from '../archive/test-tarballs.js';
import { spoolWorkspace } from '../archive/spool-workspace.js';
import { indexBaseline } from './baseline-index.js';
import { writeScanFile } from './scan-file.js';
import { runGit } from './git-runner.js';
import { blobId } from './object-store.js';
import { sh, spoolUpload } from './test-trees.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'baseline-index-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('indexBaseline', () => {
  it('takes the kept scan of its tar instead of reading the tar, and reads the tar when the scan is of another', async () => {
    const tarPath = join(work, 'input.tar');
    await writeFile(tarPath, await buildTar([file('a.txt', 'a\n')]));
    const scanFile = join(work, 'input.scan');
    const kept = { entries: new Map([['b.txt', { mode: '100644' as const, id: blobId(Buffer.from('b\n')), size: 2, offset: 512, link: null }]]), omitted: [], skipped: [] };
    await writeScanFile(scanFile, kept, tarPath);
    const fromScan = await indexBaseline(tarPath, join(work, 'store-a'), { scanFile });
    expect([...fromScan.entries.keys()]).toEqual(['b.txt']);
    await fromScan.dispose();
    await writeFile(tarPath, await buildTar([file('a.txt', 'a\n'), file('c.txt', 'c\n')]));
    const fromTar = await indexBaseline(tarPath, join(work, 'store-b'), { scanFile });
    expect([...fromTar.entries.keys()]).toEqual(['a.txt', 'c.txt']);
    await fromTar.dispose();
  });

  it('records every path with the mode and blob id git gives it, and writes the same tree git would', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'lib'), { recursive: true });
    await writeFile(join(src, 'README'), 'read me\n');
    await writeFile(join(src, 'lib', 'run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(join(src, 'lib', 'run.sh'), 0o755);
    await writeFile(join(src, 'crlf.txt'), 'a\r\nb\r\n');
    await writeFile(join(src, '.gitattributes'), '* text eol=lf\n');
    await symlink('lib/run.sh', join(src, 'link'));
    await link(join(src, 'README'), join(src, 'hard'));
    await mkdir(join(src, 'empty'));
    // info/attributes outranks .gitattributes: this repository stores bytes as they are.
    await sh('git init -q && echo "* -text" > .git/info/attributes && git add -A && git commit -qm base', src);
    const input = await spoolUpload(src, work);

    const baseline = await indexBaseline(input, join(work, 'store'));
    // The scan the spooler kept gives the same index, tree and all.
    const spooled = await spoolWorkspace(createReadStream(input), join(work, 'respooled.tar'), { maxBytes: 2 ** 30, maxEntries: 1_000, maxCompressedBytes: 2 ** 30 });
    await writeScanFile(join(work, 'respooled.scan'), spooled.scan, join(work, 'respooled.tar'));
    const fromKept = await indexBaseline(join(work, 'respooled.tar'), join(work, 'store-kept'), { scanFile: join(work, 'respooled.scan') });
    expect(fromKept.entries).toEqual(baseline.entries);
    expect(fromKept.treeId).toBe(baseline.treeId);
    await fromKept.dispose();
    const keys = [...baseline.entries.keys()].sort();
    expect(keys).toEqual(['.gitattributes', 'README', 'crlf.txt', 'hard', 'lib/run.sh', 'link']);
    expect(baseline.entries.get('lib/run.sh')).toMatchObject({ mode: '100755', size: 18 });
    expect(baseline.entries.get('link')).toMatchObject({ mode: '120000', id: blobId(Buffer.from('lib/run.sh')), offset: null });
    expect(baseline.entries.get('hard')?.id).toBe(baseline.entries.get('README')?.id);
    // The workspace's own repository agrees on every id and on the tree (`hard` is a file to it
    // too), and the CRLF bytes are hashed as they are.
    const headTree = (await sh('git rev-parse "HEAD^{tree}"', src)).trim();
    expect(baseline.treeId).toBe(headTree);
    expect(baseline.entries.get('crlf.txt')?.id).toBe(blobId(Buffer.from('a\r\nb\r\n')));
  });

  it('keeps the upload as a hard link, stores no object up front, and offsets point at file bytes', async () => {
    const input = join(work, 'input.tar');
    await writeFile(input, await buildTar([dir('d/'), file('d/a.txt', 'alpha'), file('b.bin', Buffer.from([0, 1, 2]))]));
    const baseline = await indexBaseline(input, join(work, 'store'));
    expect((await stat(baseline.tarPath!)).ino).toBe((await stat(input)).ino);
    const tar = await readFile(baseline.tarPath!);
    const a = baseline.entries.get('d/a.txt')!;
    expect(tar.subarray(a.offset!, a.offset! + a.size).toString()).toBe('alpha');
    const objects = (await runGit(baseline.store.git, { args: ['count-objects', '-v'], maxStdoutBytes: 4096 })).toString();
    // Not even the trees: `d` and the root wait in memory until a diff needs them.
    expect(objects).toMatch(/^count: 0$/m);
    expect([...baseline.trees.byPath.keys()].sort()).toEqual(['', 'd']);
  });

  it('takes a stream as well, copying it into the store', async () => {
    const bytes = await buildTar([file('x', 'from a stream')]);
    const baseline = await indexBaseline(Readable.from([bytes]), join(work, 'store'));
    expect(baseline.tarPath).toBe(join(work, 'store', 'baseline.tar'));
    expect(await readFile(baseline.tarPath!)).toEqual(bytes);
    expect(baseline.entries.get('x')?.id).toBe(blobId(Buffer.from('from a stream')));
  });

  it('gives an empty tree for no upload', async () => {
    const baseline = await indexBaseline(null, join(work, 'store'));
    expect(baseline.entries.size).toBe(0);
    expect(baseline.treeId).toBe('4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  });

  it('leaves .git contents out, reports names git refuses, and lets a later entry replace an earlier one', async () => {
    const input = join(work, 'input.tar');
    await writeFile(
      input,
      await buildTar([file('.git/config', '[core]\n'), file('sub/.git', 'gitdir: ../x\n'), file('.GIT/HEAD', 'x'), file('p', 'file first'), dir('p/'), file('p/q', 'then a dir'), file('r', 'one'), file('r', 'two')]),
    );
    const baseline = await indexBaseline(input, join(work, 'store'));
    expect([...baseline.entries.keys()].sort()).toEqual(['p/q', 'r']);
    expect(baseline.entries.get('r')?.id).toBe(blobId(Buffer.from('two')));
    expect(baseline.omitted).toEqual([{ path: '.GIT/HEAD', reason: 'unrepresentable' }]);
  });

  it('removes its store when indexing fails, and on dispose', async () => {
    const input = join(work, 'input.tar');
    await writeFile(input, Buffer.alloc(512, 0x41));
    await expect(indexBaseline(input, join(work, 'store'))).rejects.toMatchObject({ code: 'bad_tar' });
    expect(existsSync(join(work, 'store'))).toBe(false);

    await writeFile(input, await buildTar([file('a', 'x')]));
    const baseline = await indexBaseline(createReadStream(input), join(work, 'store'));
    await baseline.dispose();
    expect(existsSync(join(work, 'store'))).toBe(false);
    expect(existsSync(input)).toBe(true);
  });
});
