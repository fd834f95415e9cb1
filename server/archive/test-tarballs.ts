// Test support, for unit and integration tests alike: builds and reads small tarballs in memory,
// and writes the odd header by hand. Not used by production code.
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

/** An entry as one flat object: header fields and content; mode 0644 (0755 for a directory) unless given. */
export type TarEntry = Partial<tar.Header> & { name: string; content?: string | Buffer };

/** Builds a tarball from flat entries (tests only: real uploads are streamed). */
export function makeTar(entries: TarEntry[], opts: { gzip?: boolean } = {}): Promise<Buffer> {
  return buildTar(
    entries.map(({ content, ...header }) => ({ header: { mode: header.type === 'directory' ? 0o755 : 0o644, ...header }, content })),
    opts,
  );
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

/** A (gzipped) tarball as path -> content for files, -> "-> target" for symlinks, "dir/" -> "" for directories. */
export async function readTarContents(bytes: Buffer): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const { header, content } of await readTar(bytes)) {
    if (header.type === 'file') files.set(header.name, content.toString('utf8'));
    if (header.type === 'symlink') files.set(header.name, `-> ${header.linkname}`);
    if (header.type === 'directory') files.set(header.name.replace(/\/$/, '') + '/', '');
  }
  return files;
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

/**
 * One file under a PAX `path` record, written by hand: tar-stream's pack takes seconds (quadratic)
 * to encode a name of hundreds of kilobytes, which the attacks need.
 */
export function paxFileTar(name: string, content: string): Buffer {
  const body = Buffer.from(content);
  const record = paxRecord('path', name);
  return Buffer.concat([ustarHeader('PaxHeader', record.length, 'x'), padded(record), ustarHeader('placeholder', body.length, '0'), padded(body), Buffer.alloc(1024)]);
}

function paxRecord(key: string, value: string): Buffer {
  const text = ` ${key}=${value}\n`;
  // The length prefix counts its own digits.
  const textBytes = Buffer.byteLength(text);
  let total = textBytes + 1;
  while (textBytes + String(total).length !== total) total = textBytes + String(total).length;
  return Buffer.from(`${total}${text}`);
}

export function ustarHeader(name: string, size: number, typeflag: string): Buffer {
  const header = Buffer.alloc(512);
  const put = (value: string, offset: number, width: number) => header.write(value.slice(0, width), offset, 'binary');
  const octal = (n: number, width: number) => n.toString(8).padStart(width - 1, '0');
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(typeflag, 156, 1);
  put('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of header) sum += byte;
  put(`${octal(sum, 7)}\u0000`, 148, 8);
  return header;
}

function padded(data: Buffer): Buffer {
  return Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}
