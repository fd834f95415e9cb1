import { Writable } from 'node:stream';

/** A Writable that calls `onLine` for each complete line; a line longer than maxLineBytes is cut off and reported as such. */
export function lineSplitter(onLine: (line: string) => void, maxLineBytes = 16 * 1024 * 1024): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.trim()) onLine(line);
      }
      if (pending.length > maxLineBytes) {
        onLine(pending.slice(0, maxLineBytes));
        pending = '';
      }
      callback();
    },
    final(callback) {
      if (pending.trim()) onLine(pending);
      pending = '';
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
