import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { imagesTar, runImageName, runImages } from './run-images.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'run-images-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('run images', () => {
  it('names images by their place in the form, so a listing gives them back in order', async () => {
    const names = Array.from({ length: 12 }, (_, i) => runImageName(i, i % 2 ? 'png' : 'jpeg'));
    await mkdir(path.join(dir, 'images'));
    for (const name of [...names].reverse()) await writeFile(path.join(dir, 'images', name), name);
    expect(await runImages(path.join(dir, 'images'))).toEqual(names);
    expect(names.slice(0, 2)).toEqual(['01.jpeg', '02.png']);
  });

  it('finds none for a run without an images directory', async () => {
    expect(await runImages(path.join(dir, 'nothing-here'))).toEqual([]);
  });

  it('packs the images as one tar of their bytes, in order', async () => {
    await writeFile(path.join(dir, '01.png'), Buffer.alloc(70_000, 1));
    await writeFile(path.join(dir, '02.gif'), 'GIF89a');
    const seen: [string, number, number | undefined][] = [];
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      let bytes = 0;
      stream.on('data', (chunk: unknown) => {
        bytes += (chunk as Buffer).length;
      });
      stream.on('end', () => {
        seen.push([header.name, bytes, header.mode]);
        next();
      });
    });
    await pipeline(imagesTar(dir, ['01.png', '02.gif']), extract);
    expect(seen).toEqual([['01.png', 70_000, 0o600], ['02.gif', 6, 0o600]]);
  });

  it('fails the tar when an image file is gone', async () => {
    await expect(pipeline(imagesTar(dir, ['01.png']), tar.extract())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
