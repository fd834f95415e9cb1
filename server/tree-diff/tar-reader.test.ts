import { mkdtemp, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTar, dir, file, hardlink, streamOf, symlink as symlinkEntry } from '../archive/test-tarballs.js';
import { TarReader, type TarEntry } from './tar-reader.js';
import { rawTar, sh } from './test-trees.js';
import { TreeDiffError } from './tree-diff-error.js';

type Read = Omit<TarEntry, 'path' | 'linkPath' | 'offset'> & { path: string; linkPath: string | null; body: string };

async function readAll(bytes: Buffer, chunkSize = 512): Promise<Read[]> {
  const reader = new TarReader(streamOf(bytes, chunkSize));
  const out: Read[] = [];
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    const chunks: Buffer[] = [];
    for await (const chunk of reader.body()) chunks.push(chunk);
    const { path, linkPath, offset, ...rest } = entry;
    expect(bytes.subarray(offset, offset + entry.size)).toEqual(Buffer.concat(chunks));
    out.push({ ...rest, path: path.toString('latin1'), linkPath: linkPath?.toString('latin1') ?? null, body: Buffer.concat(chunks).toString('latin1') });
  }
  return out;
}

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tar-reader-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const BAD = Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74]).toString('latin1'); // bad\xff.txt

describe('TarReader', () => {
  it('reads what tar-stream packs (the spooled upload): types, modes, links, long UTF-8 names', async () => {
    const long = `${'d'.repeat(120)}/é-${'f'.repeat(120)}`;
    const bytes = await buildTar([dir('src/'), file('src/a.sh', '#!/bin/sh\n', { mode: 0o755 }), symlinkEntry('link', 'src/a.sh'), hardlink('hard', 'src/a.sh'), file(long, 'x')]);
    const entries = await readAll(bytes);
    expect(entries.map(({ path, type, mode, size, linkPath, body }) => ({ path, type, mode, size, linkPath, body }))).toEqual([
      { path: 'src', type: 'directory', mode: 0o755, size: 0, linkPath: null, body: '' },
      { path: 'src/a.sh', type: 'file', mode: 0o755, size: 10, linkPath: null, body: '#!/bin/sh\n' },
      { path: 'link', type: 'symlink', mode: 0o777, size: 0, linkPath: 'src/a.sh', body: '' },
      { path: 'hard', type: 'link', mode: 0o644, size: 0, linkPath: 'src/a.sh', body: '' },
      { path: Buffer.from(long).toString('latin1'), type: 'file', mode: 0o644, size: 1, linkPath: null, body: 'x' },
    ]);
  });

  it.each(['posix', 'gnu'])('keeps raw name bytes from GNU tar --format=%s (PAX records / long-name entries)', async (format) => {
    const root = join(work, 'root');
    await mkdir(join(root, 'x'.repeat(150)), { recursive: true });
    await writeFile(Buffer.from(`${root}/${BAD}`, 'latin1'), 'bad');
    await writeFile(join(root, 'new\nline'), 'nl');
    await writeFile(join(root, 'x'.repeat(150), 'y'.repeat(150)), 'deep');
    await symlink('y'.repeat(150), join(root, 'long-link'));
    await sh(`LC_ALL=C tar --format=${format} --sort=name -C root -cf t.tar .`, work);
    const entries = await readAll(await readFile(join(work, 't.tar')));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get(`./${BAD}`)?.body).toBe('bad');
    expect(byPath.get('./new\nline')?.body).toBe('nl');
    expect(byPath.get(`./${'x'.repeat(150)}/${'y'.repeat(150)}`)?.body).toBe('deep');
    expect(byPath.get('./long-link')).toMatchObject({ type: 'symlink', linkPath: 'y'.repeat(150) });
  });

  it('keeps raw bytes of a PAX path the way Docker writes it (Go archive/tar), which tar-stream would turn into U+FFFD', async () => {
    const name = Buffer.from(`workspace/${BAD}`, 'latin1');
    const bytes = rawTar([{ name: 'workspace/bad.txt', pax: { path: name, linkpath: Buffer.from([0xfe]) }, type: '2' }]);
    const [entry] = await readAll(bytes);
    expect(Buffer.from(entry!.path, 'latin1')).toEqual(name);
    expect(Buffer.from(entry!.linkPath!, 'latin1')).toEqual(Buffer.from([0xfe]));
  });

  it('takes the size from a PAX record or a base-256 field, and does not need the body to report it', async () => {
    const huge = 50 * 1024 ** 3;
    for (const bytes of [rawTar([{ name: 'big', pax: { size: String(huge) } }], { end: false }), rawTar([{ name: 'big', size: huge }], { end: false })]) {
      const reader = new TarReader(streamOf(bytes));
      expect(await reader.next()).toMatchObject({ type: 'file', size: huge });
    }
  });

  it('applies PAX global records to later entries, local records over them', async () => {
    const bytes = rawTar([
      { name: 'g', type: 'g', body: '13 path=glob\n' },
      { name: 'a', pax: { path: 'local' }, body: 'x' },
      { name: 'b', body: 'y' },
    ]);
    expect((await readAll(bytes)).map((e) => e.path)).toEqual(['local', 'glob']);
  });

  it('skips an unread body and its padding to reach the next entry', async () => {
    const bytes = rawTar([{ name: 'a', body: 'x'.repeat(700) }, { name: 'b', body: 'y' }]);
    const reader = new TarReader(streamOf(bytes, 100));
    expect((await reader.next())?.path.toString()).toBe('a');
    expect((await reader.next())?.path.toString()).toBe('b');
    expect(await reader.next()).toBeNull();
  });

  it('treats header-only types as bodiless whatever their size field says, as Go does', async () => {
    const bytes = rawTar([{ name: 'fifo', type: '6', size: 512 }, { name: 'after', body: 'z' }]);
    expect((await readAll(bytes)).map((e) => [e.path, e.type, e.size])).toEqual([
      ['fifo', 'fifo', 0],
      ['after', 'file', 1],
    ]);
  });

  it('ends cleanly at the end of the stream when the end-of-archive blocks are missing', async () => {
    expect((await readAll(rawTar([{ name: 'a', body: 'x' }], { end: false }))).map((e) => e.path)).toEqual(['a']);
    expect(await readAll(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses a corrupt header, a stream cut inside an entry, and an oversized header record', async () => {
    const corrupt = rawTar([{ name: 'a', body: 'x' }]);
    corrupt[0] = 0x41;
    const cut = rawTar([{ name: 'a', body: 'x'.repeat(2000) }]).subarray(0, 1024);
    const oversized = rawTar([{ name: 'a', pax: { path: 'p'.repeat(5000) } }]);
    for (const [bytes, message] of [
      [corrupt, /checksum/],
      [cut, /ended inside an entry/],
    ] as const) {
      const error = await readAll(bytes).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TreeDiffError);
      expect((error as Error).message).toMatch(message);
    }
    const reader = new TarReader(Readable.from([oversized]), 4096);
    await expect(reader.next()).rejects.toThrow(/exceeds 4096/);
  });
});

describe('TarReader and what GNU tar writes beyond Docker', () => {
  async function sparseTar(flags: string): Promise<{ bytes: Buffer; content: Buffer }> {
    await sh("mkdir -p s && truncate -s 300K s/f.img && printf abc | dd of=s/f.img bs=1 seek=100000 conv=notrunc status=none", work);
    await sh(`tar ${flags} --sparse -cf t.tar -C s f.img`, work);
    return { bytes: await readFile(join(work, 't.tar')), content: await readFile(join(work, 's/f.img')) };
  }

  it.each(['--format=gnu', '--format=posix --sparse-version=0.0', '--format=posix --sparse-version=0.1', '--format=posix --sparse-version=1.0'])(
    'expands a sparse file (%s) under its real name and size',
    async (flags) => {
      const { bytes, content } = await sparseTar(flags);
      const reader = new TarReader(streamOf(bytes, 1000));
      const entry = (await reader.next())!;
      expect([entry.path.toString(), entry.type, entry.size, entry.sparse]).toEqual(['f.img', 'file', content.length, true]);
      const chunks: Buffer[] = [];
      for await (const chunk of reader.body()) chunks.push(chunk);
      expect(Buffer.concat(chunks).equals(content)).toBe(true);
      expect(await reader.next()).toBeNull();
      expect(reader.end).toBe('zero-block');
    },
  );

  it('reads a dumpdir (D) as a directory, skipping its list of names, and a contiguous file (7) as a file', async () => {
    const bytes = rawTar([{ name: 'dir/', type: 'D', body: 'Nx\0Ny\0\0' }, { name: 'c', type: '7', body: 'data' }]);
    expect((await readAll(bytes)).map((e) => [e.path, e.type, e.size, e.body])).toEqual([
      ['dir', 'directory', 0, ''],
      ['c', 'file', 4, 'data'],
    ]);
  });

  it('says whether the archive ended at a zero block or at the end of the stream, and drains what follows', async () => {
    const zero = new TarReader(streamOf(Buffer.concat([rawTar([{ name: 'a', body: 'x' }]), Buffer.from('garbage')])));
    await zero.next();
    expect(await zero.next()).toBeNull();
    expect(zero.end).toBe('zero-block');
    await zero.drain();
    const eof = new TarReader(streamOf(rawTar([{ name: 'a', body: 'x' }], { end: false })));
    await eof.next();
    expect(await eof.next()).toBeNull();
    expect(eof.end).toBe('eof');
  });
});
