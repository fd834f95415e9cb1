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
  /** One MiB reused from batch to batch: allocating one per write kept the server's garbage collector busy. */
  private readonly batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private batchBytes = 0;
  private failure: { error: unknown } | null = null;

  /** Bytes the file holds: written and called back. */
  private writtenBytes = 0;

  /** `onWritten` hears how many bytes the file holds each time that grows (a reader following the file). */
  constructor(
    path: string,
    private readonly signal?: AbortSignal,
    private readonly onWritten?: (bytes: number) => void,
  ) {
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
    await this.flushAndWait();
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
    // A piece as big as a batch goes out as it is, after what is batched before it.
    if (piece.length >= WRITE_BATCH_BYTES) {
      await this.flushAndWait();
      await this.send(piece);
      return;
    }
    let from = 0;
    while (from < piece.length) {
      const copied = piece.copy(this.batch, this.batchBytes, from);
      this.batchBytes += copied;
      from += copied;
      if (this.batchBytes === this.batch.length) await this.flushAndWait();
    }
  }

  /** Writes what is batched and waits until the file has it, so the batch's memory can take the next. */
  private async flushAndWait(): Promise<void> {
    if (this.batchBytes === 0) return;
    const chunk = this.batch.subarray(0, this.batchBytes);
    this.batchBytes = 0;
    await Promise.race([new Promise<void>((resolve, reject) => this.out.write(chunk, (error) => (error ? reject(error) : (this.wrote(chunk.length), resolve())))), this.failed]);
  }

  /** A piece no one writes to again: it waits only when the stream wants it to. */
  private async send(piece: Buffer): Promise<void> {
    const taken = this.out.write(piece, (error) => error || this.wrote(piece.length));
    if (!taken) await Promise.race([once(this.out, 'drain', { signal: this.signal }), this.failed]);
  }

  private wrote(bytes: number): void {
    this.writtenBytes += bytes;
    this.onWritten?.(this.writtenBytes);
  }
}
