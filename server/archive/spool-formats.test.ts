// The tarballs people make, from GNU tar and Python's tarfile, generated here: each spooled upload,
// extracted by GNU tar, must be the tree GNU tar extracts from the upload itself.
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { q, rawTar, sh, snapshot } from '../tree-diff/test-trees.js';
import { spoolWorkspace, WorkspaceRejectedError, type WorkspaceLimits } from './spool-workspace.js';
import { streamOf } from './test-tarballs.js';

const MiB = 1024 * 1024;
const roomy: WorkspaceLimits = { maxBytes: 100 * MiB, maxEntries: 1_000, maxCompressedBytes: 100 * MiB };

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'spool-formats-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Spools the upload at `upload` (a path under work) and returns the spooled tar's path. */
async function spool(upload: string, limits: Partial<WorkspaceLimits> = {}): Promise<string> {
  const dest = join(work, 'spooled.tar');
  await spoolWorkspace(createReadStream(join(work, upload)), dest, { ...roomy, ...limits });
  return dest;
}

async function refusal(upload: string | Buffer, limits: Partial<WorkspaceLimits> = {}): Promise<WorkspaceRejectedError> {
  const dest = join(work, 'spooled.tar');
  const input = typeof upload === 'string' ? createReadStream(join(work, upload)) : streamOf(upload);
  const error: unknown = await spoolWorkspace(input, dest, { ...roomy, ...limits }).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(WorkspaceRejectedError);
  expect(existsSync(dest)).toBe(false);
  return error as WorkspaceRejectedError;
}

/** GNU tar's extraction of `tarPath` (under work, or absolute) into a new directory `into`. */
async function extracted(tarPath: string, into: string, flags = ''): Promise<string> {
  const dir = join(work, into);
  await mkdir(dir);
  await sh(`tar ${flags} -xf ${q(tarPath.startsWith('/') ? tarPath : join(work, tarPath))} -C ${q(dir)}`, work);
  return dir;
}

/** The upload and the spooled re-pack, both extracted by GNU tar, hold the same tree. */
async function expectSameTree(upload: string, flags = ''): Promise<void> {
  const expected = await snapshot(await extracted(upload, 'expected', flags));
  const actual = await snapshot(await extracted(await spool(upload), 'actual'));
  expect(actual).toEqual(expected);
  expect(actual.size).toBeGreaterThan(0);
}

/** A small tree with what most formats can hold: nested files, an executable, a symlink, a hard link, an empty directory. */
async function makeTree(root = join(work, 'src')): Promise<string> {
  await sh(
    `mkdir -p ${q(root)}/src/deep ${q(root)}/empty && cd ${q(root)} && printf 'one\\n' > src/a.txt && printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh ` +
      `&& head -c 3000 /dev/urandom > src/deep/blob.bin && ln -s ../run.sh src/link && ln src/a.txt hard.txt`,
    work,
  );
  return root;
}

describe('spoolWorkspace reads each format GNU tar writes', () => {
  it.each(['v7', 'oldgnu', 'gnu', 'ustar', 'posix'])('--format=%s', async (format) => {
    await makeTree();
    await sh(`tar --format=${format} -cf up.tar -C src .`, work);
    await expectSameTree('up.tar');
  });

  it('reads a V7 archive, whose directories are marked only by a trailing slash', async () => {
    await makeTree();
    await sh('tar --format=v7 -cf up.tar -C src .', work);
    const raw = await readFile(join(work, 'up.tar'));
    expect(raw.subarray(257, 263).toString('latin1')).not.toContain('ustar');
    const actual = await snapshot(await extracted(await spool('up.tar'), 'actual'));
    expect(actual.get('src/a.txt')).toMatchObject({ kind: 'file' });
    expect(actual.get('src/link')).toEqual({ kind: 'symlink', target: '../run.sh' });
  });

  it('reads an incremental dump, its directories as GNU dumpdir (D) entries', async () => {
    await makeTree();
    await sh('tar --format=gnu --listed-incremental=snar -cf up.tar -C src .', work);
    const raw = await readFile(join(work, 'up.tar'));
    expect(raw[156]).toBe('D'.charCodeAt(0));
    await expectSameTree('up.tar');
  });

  it('takes files listed without their directories (tar -T list)', async () => {
    await makeTree();
    await sh('cd src && printf "src/deep/blob.bin\\nrun.sh\\n" > ../list && tar -cf ../up.tar -T ../list', work);
    await expectSameTree('up.tar');
  });
});

describe('spoolWorkspace reads Python tarfile archives', () => {
  it.each(['USTAR_FORMAT', 'GNU_FORMAT', 'PAX_FORMAT'])('tarfile.%s, with a long name and a non-ASCII one', async (format) => {
    const root = await makeTree();
    await sh(`mkdir -p ${q(root)}/${'d'.repeat(120)} && printf x > ${q(root)}/${'d'.repeat(120)}/${'f'.repeat(90)} && printf y > ${q(root)}/naïve-文件.txt`, work);
    const python = `import tarfile\nwith tarfile.open('up.tar', 'w', format=tarfile.${format}) as t: t.add('src', arcname='.')\n`;
    await sh(`python3 -c ${q(python)}`, work);
    await expectSameTree('up.tar');
  });

  it('reads a contiguous file (typeflag 7) as a regular file, as GNU tar does', async () => {
    const python = [
      'import io, tarfile',
      "with tarfile.open('up.tar', 'w', format=tarfile.GNU_FORMAT) as t:",
      "    info = tarfile.TarInfo('contiguous.bin'); info.type = tarfile.CONTTYPE; info.size = 5",
      "    t.addfile(info, io.BytesIO(b'hello'))",
    ].join('\n');
    await sh(`python3 -c ${q(python)}`, work);
    await expectSameTree('up.tar');
    expect(await readFile(join(work, 'actual', 'contiguous.bin'), 'utf8')).toBe('hello');
  });
});

/** Compared as a whole: a byte-by-byte toEqual of a MiB takes seconds. */
async function expectSameBytes(actual: string, expected: string): Promise<void> {
  const [a, b] = [await readFile(actual), await readFile(expected)];
  expect(a.length).toBe(b.length);
  expect(a.equals(b)).toBe(true);
}

describe('spoolWorkspace expands sparse files', () => {
  /** A 1 MiB file with data at a few places (GNU tar stores blocks of 4 KiB), holes elsewhere; `islands` of them. */
  async function sparseTree(islands = 2): Promise<void> {
    await mkdir(join(work, 'src'));
    const seeks = Array.from({ length: islands }, (_, i) => 10_000 + i * 90_000);
    const writes = seeks.map((seek) => `printf 'data@${seek}' | dd of=src/sparse.img bs=1 seek=${seek} conv=notrunc status=none`).join(' && ');
    await sh(`truncate -s 1M src/sparse.img && ${writes}`, work);
  }

  it.each([
    ['posix, sparse format 0.0', '--format=posix --sparse-version=0.0'],
    ['posix, sparse format 0.1', '--format=posix --sparse-version=0.1'],
    ['posix, sparse format 1.0', '--format=posix --sparse-version=1.0'],
    ['gnu (an old GNU S entry)', '--format=gnu'],
    ['oldgnu (an old GNU S entry)', '--format=oldgnu'],
  ])('%s: the file it describes, holes as zeros, under its own name', async (_, flags) => {
    await sparseTree();
    await sh(`tar ${flags} --sparse -cf up.tar -C src sparse.img`, work);
    const spooled = await spool('up.tar');
    const dir = await extracted(spooled, 'actual');
    await expectSameBytes(join(dir, 'sparse.img'), join(work, 'src', 'sparse.img'));
    expect([...(await snapshot(dir)).keys()]).toEqual(['sparse.img']);
  });

  it('reads an old GNU sparse map that goes on in extension blocks', async () => {
    await sparseTree(10);
    await sh('tar --format=gnu --sparse -cf up.tar -C src sparse.img', work);
    expect((await readFile(join(work, 'up.tar')))[482]).toBe(1);
    const dir = await extracted(await spool('up.tar'), 'actual');
    await expectSameBytes(join(dir, 'sparse.img'), join(work, 'src', 'sparse.img'));
  });

  it('counts the real size against the workspace cap and names the entry', async () => {
    await sparseTree();
    await sh('tar --format=posix --sparse -cf up.tar -C src sparse.img', work);
    expect((await stat(join(work, 'up.tar'))).size).toBeLessThan(64 * 1024);
    expect(await refusal('up.tar', { maxBytes: 512 * 1024 })).toMatchObject({
      kind: 'too_large',
      entry: 'sparse.img',
      message: 'entry "sparse.img" exceeds the workspace cap of 524288 bytes',
    });
  });

  it('refuses a few bytes that describe a 1 TiB file before expanding any of it', async () => {
    const tib = 2 ** 40;
    const map = `1\n${tib - 1}\n1\n`;
    const body = Buffer.concat([Buffer.from(map), Buffer.alloc(512 - map.length), Buffer.from('x')]);
    const pax = { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'huge.img', 'GNU.sparse.realsize': String(tib) };
    const upload = rawTar([{ name: 'GNUSparseFile.1/huge.img', pax, body }]);
    const started = Date.now();
    expect(await refusal(upload)).toMatchObject({ kind: 'too_large', entry: 'huge.img', message: `entry "huge.img" exceeds the workspace cap of ${roomy.maxBytes} bytes` });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it.each([
    ['overlapping segments', { 'GNU.sparse.map': '0,4,2,4' }, 8, 'has sparse segments out of order or overlapping'],
    ['a segment past the real size', { 'GNU.sparse.map': '98,4' }, 4, 'has a sparse segment past its size of 100 bytes'],
    ['more data than the map holds', { 'GNU.sparse.map': '0,4' }, 6, 'has a sparse map of 4 bytes of data but stores 6'],
  ])('refuses a sparse map with %s, naming the entry', async (_, records, stored, problem) => {
    const upload = rawTar([{ name: 'GNUSparseFile.1/s', pax: { 'GNU.sparse.size': '100', 'GNU.sparse.name': 's', ...records }, body: 'x'.repeat(stored) }]);
    expect(await refusal(upload)).toMatchObject({ kind: 'invalid', entry: 's', message: `the upload is not a valid tar or tar.gz archive: entry "s" ${problem}` });
  });
});

describe('spoolWorkspace and what GNU tar reads or refuses', () => {
  it('reads an empty PAX extended header', async () => {
    await writeFile(join(work, 'up.tar'), rawTar([{ name: 'PaxHeaders/a', type: 'x', body: '' }, { name: 'a', body: 'x' }]));
    await expectSameTree('up.tar');
  });

  it('refuses a file over a directory that holds entries, as GNU tar does ("File exists")', async () => {
    const upload = rawTar([{ name: 'a/', type: '5' }, { name: 'a/x', body: '1' }, { name: 'a', body: '2' }]);
    await writeFile(join(work, 'up.tar'), upload);
    await expect(extracted('up.tar', 'gnu')).rejects.toThrow(/Cannot open: File exists/);
    expect(await refusal(upload)).toMatchObject({ kind: 'invalid', entry: 'a', message: 'entry "a" is not a directory, but the archive already has entries inside it ("a/x")' });
  });

  it('refuses an entry inside a path the archive made a file', async () => {
    const upload = rawTar([{ name: 'a', body: '1' }, { name: 'a/x', body: '2' }]);
    expect(await refusal(upload)).toMatchObject({ kind: 'invalid', entry: 'a/x', message: 'entry "a/x" is inside "a", which the archive made a file' });
  });

  it('lets a file replace an empty directory, as GNU tar does', async () => {
    await writeFile(join(work, 'up.tar'), rawTar([{ name: 'a/', type: '5' }, { name: 'a', body: 'now a file' }]));
    await expectSameTree('up.tar');
  });

  it.each([
    ['bzip2', 'bzip2 -c'],
    ['xz', 'xz -c'],
    ['zstd', 'zstd -qc'],
  ])('refuses a %s-compressed tar, naming the format', async (name, command) => {
    await makeTree();
    await sh(`tar -cf - -C src . | ${command} > up.bin`, work);
    expect(await refusal('up.bin')).toMatchObject({
      kind: 'invalid',
      message: `the upload is ${name}-compressed; send a plain .tar or a gzip-compressed .tar.gz`,
    });
  });

  it('normalizes modes so that the owner can read and write every file and enter every directory', async () => {
    await sh('mkdir -p src/locked src/open && printf a > src/w-only && printf b > src/none && printf c > src/open/suid && chmod 200 src/w-only && chmod 0 src/none && chmod 4755 src/open/suid && chmod 300 src/locked', work);
    await sh('tar --format=posix -cf up.tar -C src . && chmod 0 src/locked', work);
    const dir = await extracted(await spool('up.tar'), 'actual');
    const mode = async (name: string) => (await stat(join(dir, name))).mode & 0o7777;
    expect([await mode('w-only'), await mode('none'), await mode('locked'), await mode('open/suid')]).toEqual([0o600, 0o600, 0o700, 0o755]);
  });
});

describe('spoolWorkspace stops where GNU tar stops reading', () => {
  async function twoArchives(): Promise<void> {
    await sh('mkdir a b && printf first > a/one.txt && printf second > b/two.txt && tar -cf a.tar -C a . && tar -cf b.tar -C b .', work);
  }

  it.each([
    ['garbage after the end of a tar', 'cat a.tar && printf garbage'],
    ['a second archive after the first one\'s end blocks', 'cat a.tar b.tar'],
    // The directory's and the file's headers and the file's one block of data, then a zero block.
    ['a lone zero block, then more entries', 'head -c 1536 a.tar; head -c 512 /dev/zero; cat b.tar'],
  ])('ignores %s', async (_, command) => {
    await twoArchives();
    await sh(`(${command}) > up.tar`, work);
    await expectSameTree('up.tar');
    expect([...(await snapshot(join(work, 'actual'))).keys()]).toEqual(['one.txt']);
  });

  it.each([
    ['garbage after a gzip member', 'gzip -c a.tar && printf garbage'],
    ['zeros after a gzip member', 'gzip -c a.tar && head -c 1000 /dev/zero'],
    ['a second member holding another archive', 'gzip -c a.tar && gzip -c b.tar'],
  ])('ignores %s', async (_, command) => {
    await twoArchives();
    await sh(`(${command}) > up.tgz`, work);
    const actual = await snapshot(await extracted(await spool('up.tgz'), 'actual'));
    expect([...actual.keys()]).toEqual(['one.txt']);
  });

  it('reads a tar split across two gzip members', async () => {
    await makeTree();
    await sh('tar -cf whole.tar -C src . && (head -c 3000 whole.tar | gzip -c; tail -c +3001 whole.tar | gzip -c) > up.tgz', work);
    await expectSameTree('up.tgz');
  });

  it('refuses a gzip member whose data does not match its checksum', async () => {
    const gz = gzipSync(rawTar([{ name: 'a', body: 'hello' }]));
    gz.writeUInt32LE(gz.readUInt32LE(gz.length - 8) ^ 1, gz.length - 8);
    expect((await refusal(gz)).message).toBe('the upload is not a valid tar or tar.gz archive: incorrect data check');
  });

  it('refuses a gzip stream cut short', async () => {
    const gz = gzipSync(rawTar([{ name: 'a', body: 'hello' }]));
    expect((await refusal(gz.subarray(0, gz.length - 4))).message).toBe('the upload is not a valid tar or tar.gz archive: unexpected end of file');
  });
});
