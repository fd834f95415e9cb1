import { Writable } from 'node:stream';
import { LineCutter } from './line-cutter.js';

export interface LineSplitterOptions {
  /** Called for each non-blank line. */
  onLine(line: string): void;
  /** Called for each line longer than maxLineBytes; its bytes were skipped, never held. */
  onOversized?(bytes: number): void;
  maxLineBytes: number;
  /** Backpressure: a promise while the lines' consumer wants the writer to wait, else null. */
  ready?(): Promise<void> | null;
}

/** A Writable that cuts what is written into lines, holding at most maxLineBytes of a partial line. */
export function lineSplitter(options: LineSplitterOptions): Writable {
  const cutter = new LineCutter(options.maxLineBytes);
  const sink = {
    line: (text: string) => {
      if (text.trim()) options.onLine(text);
    },
    oversized: (bytes: number) => options.onOversized?.(bytes),
  };
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      cutter.push(chunk, sink);
      const wait = options.ready?.();
      if (wait) wait.then(() => callback(), callback);
      else callback();
    },
    final(callback) {
      cutter.end(sink);
      callback();
    },
  });
}

/** A Writable that keeps only the last `maxBytes` written, for error messages. */
export function tailBuffer(maxBytes = 8192): Writable & { text(): string } {
  let tail = Buffer.alloc(0);
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > maxBytes) tail = tail.subarray(tail.length - maxBytes);
      callback();
    },
  });
  return Object.assign(stream, { text: () => tail.toString('utf8') });
}
