// The selected files as a gzipped tar, streamed: each file is read as the upload takes it.
import { createReadStream } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import tar, { type Header } from 'tar-stream';

/** A tar.gz of `files` (relative to `dir`); a file listed but gone by now (deleted, not yet committed) is left out. */
export function packWorkspace(dir: string, files: string[]): Readable {
  const pack = tar.pack();
  const gzip = createGzip();
  pack.pipe(gzip);
  pack.on('error', (err) => gzip.destroy(err));
  void addAll(pack, dir, files).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err as Error),
  );
  return gzip;
}

async function addAll(pack: tar.Pack, dir: string, files: string[]): Promise<void> {
  for (const rel of files) {
    const full = path.join(dir, rel);
    const stat = await lstat(full).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (!stat) continue;
    const header = { name: rel, mode: stat.mode & 0o7777, mtime: stat.mtime };
    if (stat.isSymbolicLink()) {
      await entry(pack, { ...header, type: 'symlink', linkname: await readlink(full) });
    } else if (stat.isDirectory()) {
      // A submodule's checkout, which git lists as one path: its files are its own repository's.
      await entry(pack, { ...header, type: 'directory' });
    } else if (stat.isFile()) {
      const sink = pack.entry({ ...header, type: 'file', size: stat.size });
      await pipeline(createReadStream(full), sink);
    }
  }
}

function entry(pack: tar.Pack, header: Partial<Header> & Pick<Header, 'name'>): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}
