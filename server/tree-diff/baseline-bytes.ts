import { open, type FileHandle } from 'node:fs/promises';
import { TreeDiffError } from './tree-diff-error.js';

const WINDOW_BYTES = 1024 * 1024;
/** A read this close past the window is the stored order going on (a tar header and padding apart). */
const SEQUENTIAL_GAP_BYTES = 64 * 1024;

/**
 * Positional reads from the stored baseline tar through a 1 MiB window, so comparing a file
 * that arrives in 16 KiB socket chunks costs one read per MiB, not one per chunk. The window's
 * memory is reused from read to read: a 200 MiB comparison allocating a MiB per read kept the
 * server's garbage collector busy for a second.
 */
export class BaselineBytes {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  private readonly memory = Buffer.allocUnsafe(WINDOW_BYTES);

  private constructor(private readonly handle: FileHandle) {}

  static async open(path: string): Promise<BaselineBytes> {
    return new BaselineBytes(await open(path, 'r'));
  }

  /**
   * Exactly `length` bytes from `position`, valid until the next read: a caller that keeps them
   * copies them. Read
   * on from just past the window (the next files, in the order they were stored), it reads a MiB
   * ahead; after a jump (a tree that comes back in another order) no further than `end`, the
   * file's last byte, so that each small file out of order does not cost a MiB.
   */
  async read(position: number, length: number, end = Number.POSITIVE_INFINITY): Promise<Buffer> {
    const offset = position - this.windowStart;
    if (offset >= 0 && offset + length <= this.window.length) return this.window.subarray(offset, offset + length);
    const past = position - (this.windowStart + this.window.length);
    const onward = past >= 0 && past <= SEQUENTIAL_GAP_BYTES;
    const size = Math.max(length, onward ? WINDOW_BYTES : Math.min(WINDOW_BYTES, end - position));
    const window = size <= this.memory.length ? this.memory.subarray(0, size) : Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await this.handle.read(window, filled, size - filled, position + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled < length) throw new TreeDiffError('store_corrupt', `the baseline tar ends before byte ${position + length}`);
    this.window = window.subarray(0, filled);
    this.windowStart = position;
    return this.window.subarray(0, length);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
