import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { PatchTooLargeError, SummaryThenPatch } from './summary-split.js';

const OUTPUT = Buffer.from('2\t1\tf\0-\t-\tbin\0\0diff --git a/bin b/bin\nGIT binary patch\n\0\0literal\ndiff --git a/f b/f\n');
const SUMMARY = '2\t1\tf\0-\t-\tbin\0';
const PATCH = 'diff --git a/bin b/bin\nGIT binary patch\n\0\0literal\ndiff --git a/f b/f\n';

/** `bytes` cut into `size`-byte chunks, through the splitter. */
async function split(bytes: Buffer, size: number, limits = { summary: 1024, patch: 1024 }) {
  const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
  const splitter = new SummaryThenPatch(limits.summary, limits.patch);
  const patch = await buffer(Readable.from(chunks).pipe(splitter));
  return { summary: splitter.summary?.toString(), patch: patch.toString() };
}

describe('SummaryThenPatch', () => {
  it.each([1, 2, 3, 7, 17, 1000])('keeps the summary and passes the patch on (NULs in it untouched), in chunks of %i bytes', async (size) => {
    expect(await split(OUTPUT, size)).toEqual({ summary: SUMMARY, patch: PATCH });
  });

  it('takes a summary with no patch after it whole', async () => {
    expect(await split(Buffer.from('0\t0\tf\0'), 3)).toEqual({ summary: '0\t0\tf\0', patch: '' });
  });

  it('fails past the patch cap, the summary kept whole', async () => {
    const splitter = new SummaryThenPatch(1024, 10);
    await expect(buffer(Readable.from([OUTPUT]).pipe(splitter))).rejects.toBeInstanceOf(PatchTooLargeError);
    expect(splitter.summary?.toString()).toBe(SUMMARY);
  });

  it('fails past the summary cap, the end of the summary unseen', async () => {
    await expect(split(OUTPUT, 4, { summary: 8, patch: 1024 })).rejects.toThrow(/more than 8 bytes of summary/);
  });
});
