import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

const MiB = 1024 * 1024;

/**
 * Reads a file while another writes it, a MiB at a time, never past what the writer said is there
 * (`grew`), and ends when the writer says the file is whole (`end`). Reads wait for the writer, the
 * writer never waits for the reader: a slow reader only falls behind, in the file, not in memory.
 * `stop()` ends the stream where it is, which a consumer sees as a truncated file.
 */
export class GrowingFileReader extends Readable {
  private available = 0;
  private position = 0;
  private whole = false;
  private wanted = false;
  private busy = false;
  private again = false;
  private finished = false;
  private handle: FileHandle | null = null;

  constructor(private readonly path: string) {
    super({ highWaterMark: MiB });
  }

  /** The file now holds its first `bytes` bytes. */
  grew(bytes: number): void {
    this.available = Math.max(this.available, bytes);
    this.kick();
  }

  /** The file is whole: the stream ends once it has read all that was said to be there. */
  end(): void {
    this.whole = true;
    this.kick();
  }

  /** Ends the stream now, whatever is left unread. */
  stop(): void {
    this.available = this.position;
    this.end();
  }

  override _read(): void {
    this.wanted = true;
    this.kick();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = null;
    this.finished = true;
    if (!handle) return callback(error);
    handle.close().then(() => callback(error), (closeError: Error) => callback(error ?? closeError));
  }

  private kick(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.readWhatIsThere();
      } while (this.again);
    } catch (error) {
      this.destroy(error as Error);
    } finally {
      this.busy = false;
    }
  }

  private async readWhatIsThere(): Promise<void> {
    while (this.wanted && !this.finished && this.position < this.available) {
      this.handle ??= await open(this.path, 'r');
      const size = Math.min(MiB, this.available - this.position);
      const { bytesRead, buffer } = await this.handle.read(Buffer.allocUnsafe(size), 0, size, this.position);
      if (this.finished) return;
      if (bytesRead === 0) throw new Error(`${this.path} ended at ${this.position} bytes, before the ${this.available} its writer said it holds`);
      this.position += bytesRead;
      this.wanted = this.push(bytesRead === size ? buffer : buffer.subarray(0, bytesRead));
    }
    if (this.whole && !this.finished && this.position >= this.available) {
      this.finished = true;
      await this.handle?.close();
      this.handle = null;
      this.push(null);
    }
  }
}
