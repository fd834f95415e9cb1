// A large workspace tarball of incompressible bytes, written streaming to disk (never held whole).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
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
