import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './api-error.js';

/** The image types Codex's `--image` takes, by the extension its file is given. */
export const IMAGE_TYPES = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif' } as const;
export type ImageType = keyof typeof IMAGE_TYPES;

/** Bytes enough to tell every type in IMAGE_TYPES apart (WebP's "RIFF....WEBP"). */
export const IMAGE_HEAD_BYTES = 12;

/** An image part spooled to a file; the caller owns the file. */
export interface SpooledImage {
  path: string;
  type: ImageType;
  bytes: number;
}

export interface ImageLimits {
  maxCount: number;
  maxBytes: number;
}

/** The type an image's first bytes say it is, or null: a part's name and content type are the client's word, these are not. */
export function imageTypeOf(head: Buffer): ImageType | null {
  const at = (offset: number, ascii: string) => head.subarray(offset, offset + ascii.length).toString('latin1') === ascii;
  if (at(0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'gif';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  return null;
}

/**
 * Writes one `image` part to `file`, refusing it (and removing the file) once its first bytes are
 * not an image's or it passes `maxBytes`. `label` names the part in the refusal.
 */
export async function spoolImage(part: Readable, file: string, maxBytes: number, label: string, signal: AbortSignal): Promise<SpooledImage> {
  let head = Buffer.alloc(0);
  let type: ImageType | null = null;
  let bytes = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(new ApiError('image_too_large', `${label} is over ${maxBytes} bytes (limits.image_max_mb)`));
      if (type === null && head.length < IMAGE_HEAD_BYTES) {
        head = Buffer.concat([head, chunk.subarray(0, IMAGE_HEAD_BYTES - head.length)]);
        if (head.length >= IMAGE_HEAD_BYTES && !(type = imageTypeOf(head))) return callback(notAnImage(label));
      }
      callback(null, chunk);
    },
    flush(callback) {
      // A file shorter than the longest signature may still be one (a truncated PNG is not, but its
      // decoding is Codex's business): the signature is what is checked here.
      type ??= imageTypeOf(head);
      callback(type ? null : notAnImage(label));
    },
  });
  const out = createWriteStream(file, { mode: 0o600 });
  try {
    await pipeline(part, check, out, { signal });
  } catch (err) {
    part.resume();
    // A file still being opened when the part was refused is made after that: removed once it is closed.
    if (!out.closed) await once(out, 'close').catch(() => {});
    await rm(file, { force: true });
    throw err;
  }
  return { path: file, type: type!, bytes };
}

function notAnImage(label: string): ApiError {
  return new ApiError('image_invalid', `${label} is not a PNG, JPEG, WebP or GIF image (by its first bytes)`);
}
