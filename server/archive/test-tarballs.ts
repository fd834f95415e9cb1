// Test support: builds and reads small tarballs in memory. Not used by production code.
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export type FixtureHeader = Parameters<tar.Pack['entry']>[0];
export interface FixtureEntry {
  header: FixtureHeader;
  content?: string | Buffer;
}
export interface ReadEntry {
  header: tar.Header;
  content: Buffer;
}

export async function buildTar(entries: FixtureEntry[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (chunk) => chunks.push(chunk as Buffer));
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const { header, content } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, content ?? '', (error) => (error ? reject(error) : resolve()));
    });
  }
  pack.finalize();
  await done;
  const plain = Buffer.concat(chunks);
  return opts.gzip ? gzipSync(plain) : plain;
}

export async function readTar(bytes: Buffer): Promise<ReadEntry[]> {
  const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const extract = tar.extract();
  const entries: ReadEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const chunk of entry) parts.push(chunk as Buffer);
      entries.push({ header: entry.header, content: Buffer.concat(parts) });
    }
  })();
  extract.end(plain);
  await done;
  return entries;
}

/** A stream that hands out `bytes` in `chunkSize` pieces, like a socket would. */
export function streamOf(bytes: Buffer, chunkSize = 16 * 1024): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= bytes.length) return void this.push(null);
      this.push(bytes.subarray(offset, offset + chunkSize));
      offset += chunkSize;
    },
  });
}

export const file = (name: string, content: string | Buffer = 'x', extra: Partial<FixtureHeader> = {}): FixtureEntry => ({
  header: { name, type: 'file', mode: 0o644, ...extra },
  content,
});
export const dir = (name: string, extra: Partial<FixtureHeader> = {}): FixtureEntry => ({
  header: { name, type: 'directory', mode: 0o755, ...extra },
});
export const symlink = (name: string, linkname: string): FixtureEntry => ({
  header: { name, type: 'symlink', linkname, mode: 0o777 },
});
export const hardlink = (name: string, linkname: string): FixtureEntry => ({
  header: { name, type: 'link', linkname },
});
export const device = (name: string, type: 'character-device' | 'block-device' | 'fifo'): FixtureEntry => ({
  header: { name, type, devmajor: 8, devminor: 0 },
});
