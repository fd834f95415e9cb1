import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';
import { TarReader } from '../tree-diff/tar-reader.js';
import { END_OF_ARCHIVE, rawEntryHeader, type RawTarEntry } from './raw-tar-header.js';

const base: RawTarEntry = {
  path: Buffer.from('a.txt'),
  type: 'file',
  mode: 0o644,
  mtimeS: 1_714_564_800,
  ...DEFAULT_SANDBOX_IDS,
  uname: Buffer.from('codex'),
  gname: Buffer.from('codex'),
  size: 0,
  linkPath: null,
};

async function readBack(entry: RawTarEntry) {
  const header = rawEntryHeader(entry);
  const reader = new TarReader(Readable.from([Buffer.concat([header, END_OF_ARCHIVE])]));
  return { header, read: await reader.next() };
}

describe('rawEntryHeader', () => {
  it('writes a short ASCII name as a single ustar block', async () => {
    const { header, read } = await readBack(base);
    expect(header.length).toBe(512);
    expect(read).toMatchObject({ path: base.path, type: 'file', mode: 0o644, mtimeS: base.mtimeS, uid: base.uid, gid: base.gid, uname: base.uname, gname: base.gname });
  });

  it('keeps name and symlink target bytes that are not UTF-8, saying so with hdrcharset=BINARY', async () => {
    const path = Buffer.from('caf\xe9', 'latin1');
    const linkPath = Buffer.from('\xff/x', 'latin1');
    const { header, read } = await readBack({ ...base, path, type: 'symlink', linkPath });
    expect(header.includes('hdrcharset=BINARY')).toBe(true);
    expect(read).toMatchObject({ path, type: 'symlink', linkPath });
  });

  it('puts a non-ASCII UTF-8 name in PAX without hdrcharset', async () => {
    const path = Buffer.from('naïve');
    const { header, read } = await readBack({ ...base, path });
    expect(header.includes('hdrcharset')).toBe(false);
    expect(read?.path).toEqual(path);
  });

  it('marks a directory with a trailing slash', async () => {
    const { header, read } = await readBack({ ...base, path: Buffer.from('src'), type: 'directory' });
    expect(header.subarray(0, 4).toString()).toBe('src/');
    expect(read).toMatchObject({ path: Buffer.from('src'), type: 'directory' });
  });

  // A PAX record's length counts its own digits: lengths around 99/100 and 999/1000 are where that goes wrong.
  it.each([90, 91, 92, 100, 101, 989, 990, 991])('round-trips a %i-byte name', async (length) => {
    const path = Buffer.from('n'.repeat(length));
    expect((await readBack({ ...base, path })).read?.path).toEqual(path);
  });

  it('carries what ustar fields cannot hold in PAX records', async () => {
    const big = { ...base, size: 10 * 1024 ** 3, uid: 3_000_000, gid: 3_000_001, uname: Buffer.from('u'.repeat(40)), mtimeS: -1 };
    const { header, read } = await readBack(big);
    expect(header.includes('size=10737418240')).toBe(true);
    expect(read).toMatchObject({ size: big.size, uid: big.uid, gid: big.gid, uname: big.uname, mtimeS: -1 });
  });
});
