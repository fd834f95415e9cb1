import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imageTypeOf, spoolImage } from './image-parts.js';

const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('imageTypeOf', () => {
  it('knows each type by its signature', () => {
    expect(imageTypeOf(PNG.subarray(0, 12))).toBe('png');
    expect(imageTypeOf(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]))).toBe('jpeg');
    expect(imageTypeOf(Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00', 'latin1'))).toBe('gif');
    expect(imageTypeOf(Buffer.from('GIF87a', 'latin1'))).toBe('gif');
    expect(imageTypeOf(Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1'))).toBe('webp');
  });

  it('knows nothing else, however it is named', () => {
    expect(imageTypeOf(Buffer.from('just text, saved as a.png'))).toBeNull();
    expect(imageTypeOf(Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ', 'latin1'))).toBeNull();
    expect(imageTypeOf(Buffer.from('%PDF-1.7\n'))).toBeNull();
    expect(imageTypeOf(Buffer.alloc(0))).toBeNull();
    expect(imageTypeOf(PNG.subarray(0, 7))).toBeNull();
  });
});

describe('spoolImage', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'image-parts-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const chunked = (bytes: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

  it('writes an image arriving a few bytes at a time, with its type and size', async () => {
    const file = path.join(dir, 'a');
    const spooled = await spoolImage(chunked(PNG, 3), file, 1024, 'image 1', new AbortController().signal);
    expect(spooled).toEqual({ path: file, type: 'png', bytes: PNG.length });
    expect(await readFile(file)).toEqual(PNG);
  });

  it('refuses a file that is not an image and leaves no file', async () => {
    const file = path.join(dir, 'b');
    await expect(spoolImage(Readable.from([Buffer.from('not an image at all, just words')]), file, 1024, 'image 2 ("shot.png")', new AbortController().signal)).rejects.toMatchObject({
      code: 'image_invalid',
      message: 'image 2 ("shot.png") is not a PNG, JPEG, WebP or GIF image (by its first bytes)',
    });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a file shorter than any signature', async () => {
    await expect(spoolImage(Readable.from([Buffer.from('GIF')]), path.join(dir, 'c'), 1024, 'image 1', new AbortController().signal)).rejects.toMatchObject({ code: 'image_invalid' });
  });

  it('refuses an image over the cap and leaves no file', async () => {
    const file = path.join(dir, 'd');
    const big = Buffer.concat([PNG, Buffer.alloc(4096)]);
    await expect(spoolImage(chunked(big, 512), file, 1024, 'image 1', new AbortController().signal)).rejects.toMatchObject({ code: 'image_too_large', message: 'image 1 is over 1024 bytes (limits.image_max_mb)' });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
