import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { quoteHeaders, rewriteHeader } from './quote-headers.js';

async function through(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(quoteHeaders())) out.push(chunk as Buffer);
  return Buffer.concat(out).toString('latin1');
}

const patch = [
  'diff --git a/x /y b/x /y',
  'old mode 100644',
  'new mode 100755',
  'diff --git a/plain b/plain',
  'index 0..1',
  'diff --git "a/tab\\there" "b/tab\\there"',
  'GIT binary patch',
  'literal 5',
  'diff --git-looking base85 line',
  ' diff --git a/context line b/context line',
  'diff --git a/ /acb b/ /acb',
  '',
].join('\n');

describe('quoteHeaders', () => {
  it('quotes only unquoted header names with a space, leaving every other byte as it was', async () => {
    const expected = patch
      .replace('diff --git a/x /y b/x /y', 'diff --git "a/x /y" "b/x /y"')
      .replace('diff --git a/ /acb b/ /acb', 'diff --git "a/ /acb" "b/ /acb"');
    expect(await through([Buffer.from(patch, 'latin1')])).toBe(expected);
  });

  it('gives the same output however the stream is cut', async () => {
    const whole = await through([Buffer.from(patch, 'latin1')]);
    for (const size of [1, 2, 3, 7, 11, 13]) {
      const bytes = Buffer.from(patch, 'latin1');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(await through(chunks)).toBe(whole);
    }
  });

  it('passes an over-long line that starts like a header through untouched', async () => {
    const long = `diff --git a/${'x'.repeat(40_000)}`;
    expect(await through([Buffer.from(long)])).toBe(long);
  });
});

describe('rewriteHeader', () => {
  it('leaves lines that are not a same-name header alone', () => {
    for (const line of ['diff --git a/a b b/a b', 'diff --git a/x y b/z y\n', 'diff --git a/xy b/xy\n', 'index 1..2\n']) {
      expect(rewriteHeader(Buffer.from(line)).toString()).toBe(line);
    }
  });
});
