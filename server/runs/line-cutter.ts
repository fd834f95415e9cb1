/** What a LineCutter hands out for each line: its text, or only its size when it was over the cap. */
export interface LineSink {
  line(text: string): void;
  oversized(bytes: number): void;
}

/**
 * Cuts a byte stream into newline-terminated lines, holding at most `maxLineBytes` of a line that is
 * still incomplete. A longer line is skipped to its newline without being kept, so a writer cannot
 * make the reader buffer more than the cap. Lines are decoded as UTF-8 only once whole, so a
 * multi-byte character split across chunks stays intact.
 */
export class LineCutter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of an over-long line skipped so far; null while not skipping. */
  private skipped: number | null = null;

  constructor(private readonly maxLineBytes: number) {}

  /** Cuts one chunk. The chunk is not kept: a caller may reuse its buffer afterwards. */
  push(chunk: Buffer, sink: LineSink): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      if (newline >= 0 && this.pendingBytes === 0 && this.skipped === null && end - start <= this.maxLineBytes) {
        // The common case, a whole line inside the chunk: no copy.
        sink.line(chunk.toString('utf8', start, end));
        start = newline + 1;
        continue;
      }
      this.take(chunk.subarray(start, end));
      if (newline < 0) return;
      this.endLine(sink);
      start = newline + 1;
    }
  }

  /** Hands out a last line that had no newline. */
  end(sink: LineSink): void {
    if (this.pendingBytes > 0 || this.skipped !== null) this.endLine(sink);
  }

  private take(part: Buffer): void {
    if (part.length === 0) return;
    if (this.skipped !== null) {
      this.skipped += part.length;
    } else if (this.pendingBytes + part.length > this.maxLineBytes) {
      this.skipped = this.pendingBytes + part.length;
      this.pending = [];
      this.pendingBytes = 0;
    } else {
      // A copy: the caller's buffer may be a reused read buffer.
      this.pending.push(Buffer.from(part));
      this.pendingBytes += part.length;
    }
  }

  private endLine(sink: LineSink): void {
    if (this.skipped !== null) {
      const bytes = this.skipped;
      this.skipped = null;
      sink.oversized(bytes);
      return;
    }
    const text = this.pending.length === 1 ? this.pending[0]!.toString('utf8') : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    sink.line(text);
  }
}
