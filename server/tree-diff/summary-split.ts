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
      const emptyAt = this.emptyRecordAt(chunk);
      this.keep(emptyAt < 0 ? chunk : chunk.subarray(0, emptyAt));
      if (this.headBytes > this.maxSummaryBytes) return done(new TreeDiffError('git_failed', `git printed more than ${this.maxSummaryBytes} bytes of summary`));
      if (emptyAt < 0) return done();
      this.summary = Buffer.concat(this.head);
      patch = chunk.subarray(emptyAt + 1);
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

  /** Where in `chunk` the empty record's NUL is, or -1: a NUL straight after a record's, maybe the last byte of the chunk before. */
  private emptyRecordAt(chunk: Buffer): number {
    if (this.headBytes > 0 && this.head.at(-1)!.at(-1) === 0 && chunk[0] === 0) return 0;
    const at = chunk.indexOf(SEPARATOR);
    return at < 0 ? -1 : at + 1;
  }

  private keep(piece: Buffer): void {
    this.head.push(piece);
    this.headBytes += piece.length;
  }
}

const SEPARATOR = Buffer.from([0, 0]);
