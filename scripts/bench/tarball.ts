// Large workspace tarballs, written streaming to disk (never held whole): incompressible bytes, or real trees.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack as tarPack } from 'tar-stream';

const MiB = 1024 * 1024;

/** Writes `files` regular files of `fileMb` MiB of random bytes each; returns the tarball's size. */
export async function writeRandomTarball(file: string, files: number, fileMb: number): Promise<number> {
  const pack = tarPack();
  const written = pipeline(pack, createWriteStream(file));
  try {
    for (let i = 0; i < files; i++) {
      const body = Readable.from((function* () {
        for (let m = 0; m < fileMb; m++) yield randomBytes(MiB);
      })());
      await pipeline(body, pack.entry({ name: `blob-${i}.bin`, size: fileMb * MiB, mode: 0o644 }));
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await written;
  return (await stat(file)).size;
}

export interface TreeTarball {
  bytes: number;
  files: number;
}

/**
 * A tarball of real source trees (`roots`, each under its own top directory), files in walk order
 * until `maxFiles` files or `maxBytes` of content: what a repository's checkout looks like to the
 * service (many small files, a few large), written streaming.
 */
export async function writeTreeTarball(file: string, roots: string[], maxFiles: number, maxBytes: number): Promise<TreeTarball> {
  const pack = tarPack();
  const written = pipeline(pack, createWriteStream(file));
  const taken = { files: 0, bytes: 0 };
  const full = () => taken.files >= maxFiles || taken.bytes >= maxBytes;
  async function walk(dir: string, name: string): Promise<void> {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (full()) return;
      const source = path.join(dir, entry.name);
      const target = `${name}/${entry.name}`;
      if (entry.isDirectory()) {
        await new Promise<void>((resolve, reject) => pack.entry({ name: `${target}/`, type: 'directory', mode: 0o755 }, (err) => (err ? reject(err) : resolve())));
        await walk(source, target);
      } else if (entry.isSymbolicLink()) {
        // One out of the tree (absolute, or climbing out) is refused at upload, as it should be.
        const linkname = await readlink(source);
        if (!linkname.startsWith('/') && !linkname.split('/').includes('..')) pack.entry({ name: target, type: 'symlink', linkname });
      } else if (entry.isFile()) {
        const { size } = await stat(source);
        if (taken.bytes + size > maxBytes) continue;
        await pipeline(createReadStream(source), pack.entry({ name: target, size, mode: 0o644 }));
        taken.files++;
        taken.bytes += size;
      }
    }
  }
  try {
    for (const root of roots) if (!full()) await walk(root, path.basename(root));
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await written;
  return { bytes: (await stat(file)).size, files: taken.files };
}
