import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readDiffPage } from './diff-page.js';

const streamOf = (text: string, chunkBytes = 3) => {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkBytes) chunks.push(bytes.subarray(i, i + chunkBytes));
  return Readable.from(chunks);
};

describe('readDiffPage', () => {
  it('returns a diff that fits whole, with no next page', async () => {
    expect(await readDiffPage(streamOf('a\nb\n'), 0, 4)).toEqual({ text: 'a\nb\n', offset: 0, nextOffset: null });
  });

  it('cuts after the last whole line that fits and says where the next page starts', async () => {
    const page = await readDiffPage(streamOf('one\ntwo\nthree\n'), 0, 10);
    expect(page).toEqual({ text: 'one\ntwo\n', offset: 0, nextOffset: 8 });
    expect(await readDiffPage(streamOf('one\ntwo\nthree\n'), 8, 10)).toEqual({ text: 'three\n', offset: 8, nextOffset: null });
  });

  it('pages through to the same bytes as the whole', async () => {
    const whole = Array.from({ length: 50 }, (_, i) => `+line ${i} ${'é'.repeat(i % 7)}\n`).join('');
    let text = '';
    let offset: number | null = 0;
    while (offset !== null) {
      const page = await readDiffPage(streamOf(whole, 5), offset, 40);
      text += page.text;
      offset = page.nextOffset;
    }
    expect(text).toBe(whole);
  });

  it('cuts a line longer than a page before a split UTF-8 character', async () => {
    const page = await readDiffPage(streamOf('aéééé'), 0, 4);
    expect(page).toEqual({ text: 'aé', offset: 0, nextOffset: 3 });
  });

  it('gives an empty last page past the end', async () => {
    expect(await readDiffPage(streamOf('abc'), 10, 4)).toEqual({ text: '', offset: 10, nextOffset: null });
  });

  it('destroys the stream once the page is read', async () => {
    const stream = streamOf('x\n'.repeat(1000));
    await readDiffPage(stream, 0, 10);
    expect(stream.destroyed).toBe(true);
  });
});
