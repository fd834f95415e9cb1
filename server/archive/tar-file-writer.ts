import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { END_OF_ARCHIVE, padding, rawEntryHeader, type RawTarEntry } from './raw-tar-header.js';

/** A MiB per write: a small file is three pieces (header, body, padding), and each write is a round trip to the disk's thread. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Writes a tar into a file, entry by entry, a MiB at a time, and knows where every byte lands:
 * `entry()` answers the offset of the body that follows, which an index of the tar keeps. Write
 * errors reach whoever awaits the next write, and `failed` (for a caller that waits elsewhere).
 */
export class TarFileWriter {
  /** Bytes handed to the writer so far: the offset of the next one. */
  offset = 0;
  readonly failed: Promise<never>;
  private readonly out: WriteStream;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private failure: { error: unknown } | null = null;

  constructor(path: string, private readonly signal?: AbortSignal) {
    this.out = createWriteStream(path, { mode: 0o600, highWaterMark: WRITE_BATCH_BYTES });
    this.failed = new Promise<never>((_, reject) =>
      this.out.once('error', (error) => {
        this.failure = { error };
        reject(error);
      }),
    );
    this.failed.catch(() => {});
  }

  /** Writes the entry's header; a file's body follows through `body()` and `endBody()`. Answers the body's offset. */
  async entry(header: RawTarEntry): Promise<number> {
    await this.write(rawEntryHeader(header));
    return this.offset;
  }

  async body(chunk: Buffer): Promise<void> {
    await this.write(chunk);
  }

  /** The padding after a body of `size` bytes. */
  async endBody(size: number): Promise<void> {
    const pad = padding(size);
    if (pad.length) await this.write(pad);
  }

  /** Writes the end of the archive and waits until the file has all of it. */
  async finish(): Promise<void> {
    await this.write(END_OF_ARCHIVE);
    this.flush();
    this.out.end();
    await Promise.race([finished(this.out), this.failed]);
  }

  /** Closes the file, written or not; resolves once it is closed, so that removing it then is final. */
  async destroy(): Promise<void> {
    if (this.out.closed) return;
    const closed = once(this.out, 'close');
    this.out.destroy();
    await closed;
  }

  private async write(piece: Buffer): Promise<void> {
    if (this.failure) throw this.failure.error;
    this.offset += piece.length;
    this.batch.push(piece);
    this.batchBytes += piece.length;
    if (this.batchBytes < WRITE_BATCH_BYTES) return;
    if (!this.flush()) await Promise.race([once(this.out, 'drain', { signal: this.signal }), this.failed]);
  }

  /** Hands the batch to the stream; false when the stream wants the writer to wait. */
  private flush(): boolean {
    if (this.batchBytes === 0) return true;
    const chunk = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    return this.out.write(chunk);
  }
}
