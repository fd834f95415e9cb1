import { once } from 'node:events';
import { Duplex } from 'node:stream';
import { crc32, createInflateRaw, type InflateRaw } from 'node:zlib';

const MAGIC = [0x1f, 0x8b] as const;
const DEFLATE = 8;
const FLAGS = { hcrc: 0x02, extra: 0x04, name: 0x08, comment: 0x10 } as const;
const TRAILER_BYTES = 8;
/** A member header is ten bytes plus a file name and a comment: nothing a tarball needs this much of. */
const MAX_HEADER_BYTES = 64 * 1024;

type State = 'header' | 'body' | 'trailer' | 'after';

/**
 * Gunzip of one or more members (RFC 1952 §2.2) that stops at the end of the last one: bytes
 * after it that do not start another member are read and dropped, as gzip does ("decompression
 * OK, trailing garbage ignored"). zlib's own gunzip fails on them instead, and throws away the
 * output it had not handed on yet, which may be the tar's last blocks.
 */
export class GunzipMembers extends Duplex {
  private state: State = 'header';
  private pending = Buffer.alloc(0);
  private inflate: InflateRaw | null = null;
  private inflateEnded: Promise<unknown> = Promise.resolve();
  private crc = 0;
  private inflatedBytes = 0;
  private members = 0;

  override _read(): void {
    this.inflate?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const complete = this.state === 'after' || (this.state === 'header' && this.members > 0 && this.pending.length === 0);
    if (!complete) return callback(new Error('unexpected end of file'));
    this.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inflate?.destroy();
    callback(error);
  }

  private async consume(chunk: Buffer): Promise<void> {
    let bytes: Buffer | null = chunk;
    while (bytes !== null && bytes.length > 0) {
      if (this.state === 'after') return;
      if (this.state === 'body') {
        bytes = await this.feed(bytes);
        if (bytes !== null) {
          await this.inflateEnded;
          this.state = 'trailer';
        }
        continue;
      }
      this.pending = Buffer.concat([this.pending, bytes]);
      bytes = this.state === 'header' ? this.header() : await this.trailer();
    }
  }

  /** Parses a member header from `pending`; returns what follows it, or null until it is whole. */
  private header(): Buffer | null {
    const head = this.pending;
    if (this.members > 0 && !startsLikeMember(head)) {
      // Not another member: the end of the gzip data (RFC 1952 leaves what follows to the reader).
      this.state = 'after';
      this.pending = Buffer.alloc(0);
      return null;
    }
    const length = headerLength(head);
    if (length === null) {
      if (head.length > MAX_HEADER_BYTES) throw new Error(`gzip member header longer than ${MAX_HEADER_BYTES} bytes`);
      return null;
    }
    this.pending = Buffer.alloc(0);
    this.startMember();
    this.state = 'body';
    return head.subarray(length);
  }

  private async trailer(): Promise<Buffer | null> {
    if (this.pending.length < TRAILER_BYTES) return null;
    const trailer = this.pending.subarray(0, TRAILER_BYTES);
    if (trailer.readUInt32LE(0) !== this.crc >>> 0) throw new Error('incorrect data check');
    if (trailer.readUInt32LE(4) !== this.inflatedBytes % 2 ** 32) throw new Error('incorrect length check');
    const rest = this.pending.subarray(TRAILER_BYTES);
    this.pending = Buffer.alloc(0);
    this.members += 1;
    this.state = 'header';
    return rest;
  }

  private startMember(): void {
    const inflate = createInflateRaw();
    this.inflate = inflate;
    this.crc = 0;
    this.inflatedBytes = 0;
    inflate.on('data', (chunk: Buffer) => {
      this.crc = crc32(chunk, this.crc);
      this.inflatedBytes += chunk.length;
      if (!this.push(chunk)) inflate.pause();
    });
    this.inflateEnded = once(inflate, 'end');
    // Errors reach consume() through the write callback; the once() above rejects with them too.
    this.inflateEnded.catch(() => {});
  }

  /**
   * Writes `bytes` to the member's inflater; returns the bytes after its deflate stream, or null
   * if it took them all. zlib's raw inflate ends its output where the stream ends and says how
   * much input it read.
   */
  private feed(bytes: Buffer): Promise<Buffer | null> {
    const inflate = this.inflate!;
    const before = inflate.bytesWritten;
    return new Promise((resolve, reject) => {
      inflate.once('error', reject);
      inflate.write(bytes, (error) => {
        inflate.off('error', reject);
        if (error) return reject(error);
        const used = inflate.bytesWritten - before;
        resolve(used < bytes.length ? bytes.subarray(used) : null);
      });
    });
  }
}

function startsLikeMember(head: Buffer): boolean {
  return head[0] === MAGIC[0] && (head.length < 2 || head[1] === MAGIC[1]);
}

/** The length of the member header at the start of `head`, or null if `head` does not hold all of it yet. */
function headerLength(head: Buffer): number | null {
  if (head.length < 10) return null;
  if (head[0] !== MAGIC[0] || head[1] !== MAGIC[1]) throw new Error('incorrect header check');
  if (head[2] !== DEFLATE) throw new Error('unknown compression method');
  const flags = head[3]!;
  let at = 10;
  if (flags & FLAGS.extra) {
    if (head.length < at + 2) return null;
    at += 2 + head.readUInt16LE(at);
  }
  for (const flag of [FLAGS.name, FLAGS.comment]) {
    if (!(flags & flag)) continue;
    const nul = head.indexOf(0, at);
    if (nul === -1) return null;
    at = nul + 1;
  }
  if (flags & FLAGS.hcrc) at += 2;
  return head.length < at ? null : at;
}
