import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { STORAGE_FULL_MESSAGE, storageFullCode } from '../domain/storage-full.js';

/** Below this many free bytes the data_dir counts as full: a run's record, events and upload need more. */
const MIN_FREE_BYTES = 1024 * 1024;

/**
 * Whether the data_dir has room for new runs: told at once by a write that failed for want of
 * space, and checked (statfs) on the server's timer, which is also how it learns that space returned.
 * While it is full, new runs are refused (503 storage_full) instead of being accepted to fail.
 */
export class StorageHealth {
  private problemText: string | null = null;

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
    private readonly freeBytes: (dir: string) => Promise<number> = async (d) => {
      const s = await statfs(d);
      return s.bavail * s.bsize;
    },
  ) {}

  /** Why new runs cannot be stored now (for the client), or null. */
  get problem(): string | null {
    return this.problemText;
  }

  /** Tells it of a failed write; true (and full from now on) when it failed for want of space. */
  noteFailure(err: unknown): boolean {
    const code = storageFullCode(err);
    if (!code) return false;
    this.markFull(`a write failed with ${code}`);
    return true;
  }

  async check(): Promise<void> {
    let free: number;
    try {
      free = await this.freeBytes(this.dir);
    } catch (err) {
      this.log.warn({ err, dir: this.dir }, 'could not read the data_dir\'s free space');
      return;
    }
    if (free < MIN_FREE_BYTES) this.markFull(`${free} bytes free`);
    else if (this.problemText) {
      this.problemText = null;
      this.log.info({ dir: this.dir, freeBytes: free }, 'the data_dir has room again');
    }
  }

  private markFull(why: string): void {
    if (!this.problemText) this.log.error({ dir: this.dir }, `the data_dir is full (${why}): new runs are refused until it has room`);
    this.problemText = STORAGE_FULL_MESSAGE;
  }
}
