import { Transform, type TransformCallback } from 'node:stream';
import { TreeDiffError } from './tree-diff-error.js';

/** The patch part passed its cap: the summary before it is whole. */
export class PatchTooLargeError extends TreeDiffError {
  constructor(readonly maxBytes: number) {
    super('git_failed', `the patch is larger than ${maxBytes} bytes`);
  }
}

/**
 * Splits one `git diff-tree --numstat -z -p` output: the summary's NUL-ended records, an empty
 * record, then the patch, which it passes on. One git process where there were two. The summary
 * is kept (`summary`, once its end is read); past `maxSummaryBytes` of it, or `maxPatchBytes` of
 * patch, the stream fails.
 */
export class SummaryThenPatch extends Transform {
  /** The summary's records, each NUL-ended; null until its end has been read. */
  summary: Buffer | null = null;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private patchBytes = 0;

  constructor(
    private readonly maxSummaryBytes: number,
    private readonly maxPatchBytes: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let patch = chunk;
    if (this.summary === null) {
      // The empty record is a second NUL straight after a record's: maybe across two chunks.
      const lastWasNul = this.headBytes > 0 && this.head.at(-1)!.at(-1) === 0;
      const at = lastWasNul && chunk[0] === 0 ? -1 : chunk.indexOf(SEPARATOR);
      if (!(lastWasNul && chunk[0] === 0) && at < 0) {
        this.keep(chunk);
        return done(this.headBytes > this.maxSummaryBytes ? new TreeDiffError('git_failed', `git printed more than ${this.maxSummaryBytes} bytes of summary`) : null);
      }
      if (at >= 0) this.keep(chunk.subarray(0, at + 1));
      this.summary = Buffer.concat(this.head);
      if (this.summary.length > this.maxSummaryBytes) return done(new TreeDiffError('git_failed', `git printed more than ${this.maxSummaryBytes} bytes of summary`));
      patch = chunk.subarray(at >= 0 ? at + SEPARATOR.length : 1);
    }
    this.patchBytes += patch.length;
    if (this.patchBytes > this.maxPatchBytes) return done(new PatchTooLargeError(this.maxPatchBytes));
    done(null, patch.length ? patch : undefined);
  }

  override _flush(done: TransformCallback): void {
    // No empty record: a summary with no patch after it.
    this.summary ??= Buffer.concat(this.head);
    done();
  }

  private keep(piece: Buffer): void {
    this.head.push(piece);
    this.headBytes += piece.length;
  }
}

const SEPARATOR = Buffer.from([0, 0]);
