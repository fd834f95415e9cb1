import { Readable } from 'node:stream';

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Whether a stream's first bytes are the gzip magic number (RFC 1952 §2.3.1). */
export function isGzipHead(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

// Each format's magic number. bzip2's "BZh" is ASCII, so a tar whose first name began with it
// must not pass for one: the level digit and a block (or end-of-stream) magic follow.
const OTHER_COMPRESSIONS: { name: string; matches: (head: Uint8Array) => boolean }[] = [
  { name: 'bzip2', matches: (h) => startsWith(h, [0x42, 0x5a, 0x68]) && h[3]! >= 0x31 && h[3]! <= 0x39 && (startsWith(h.subarray(4), [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]) || startsWith(h.subarray(4), [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])) },
  { name: 'xz', matches: (h) => startsWith(h, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { name: 'zstd', matches: (h) => startsWith(h, [0x28, 0xb5, 0x2f, 0xfd]) },
  { name: 'lzip', matches: (h) => startsWith(h, [0x4c, 0x5a, 0x49, 0x50, 0x01]) },
  { name: 'lz4', matches: (h) => startsWith(h, [0x04, 0x22, 0x4d, 0x18]) },
  { name: 'compress (.Z)', matches: (h) => startsWith(h, [0x1f, 0x9d]) },
];

/** The bytes `otherCompression` needs to see. */
export const COMPRESSION_HEAD_BYTES = 10;

/** The name of a compression other than gzip that a stream's first bytes announce, if any. */
export function otherCompression(head: Uint8Array): string | undefined {
  return OTHER_COMPRESSIONS.find((format) => format.matches(head))?.name;
}

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, i) => bytes[i] === byte);
}

/**
 * Reads at least `count` bytes (fewer if the stream ends first) and hands back a stream that
 * still yields every byte, so the caller can choose a decoder before piping the whole upload.
 * The bytes go back with `unshift`; a stream that already ended cannot take them back, so a
 * short upload is replayed from the head instead.
 */
export async function peekStream(
  input: Readable,
  count: number,
  signal?: AbortSignal,
): Promise<{ head: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < count && !ended) {
    signal?.throwIfAborted();
    // Its 'error' or 'close' may have gone by before this call: nothing would wake the wait below.
    if (input.destroyed && !input.readableEnded) throw input.errored ?? new Error('upload stream closed before it ended');
    const chunk: unknown = input.read();
    if (chunk !== null) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(buffer);
      length += buffer.length;
      continue;
    }
    ended = input.readableEnded || (await nextReadable(input, signal));
  }
  const head = Buffer.concat(chunks);
  if (ended) return { head, rest: Readable.from(head.length > 0 ? [head] : []) };
  input.unshift(head);
  return { head, rest: input };
}

/** Resolves true on end, false when more data can be read; rejects on error, close or abort. */
function nextReadable(input: Readable, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
      input.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const onReadable = () => (cleanup(), resolve(false));
    const onEnd = () => (cleanup(), resolve(true));
    const onError = (error: Error) => (cleanup(), reject(error));
    const onClose = () => (cleanup(), reject(new Error('upload stream closed before it ended')));
    const onAbort = () => (cleanup(), reject(signal?.reason));
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
    input.on('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
