import { Transform, type TransformCallback } from 'node:stream';

/** Passes bytes through unchanged and fails with `onExceeded()` once more than `maxBytes` went by. */
export function byteCap(maxBytes: number, onExceeded: () => Error): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(onExceeded());
      else callback(null, chunk);
    },
  });
}
