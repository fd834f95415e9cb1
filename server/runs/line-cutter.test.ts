import { describe, expect, it } from 'vitest';
import { LineCutter } from './line-cutter.js';

function cutAll(chunks: Buffer[], maxLineBytes: number) {
  const out: (string | { oversized: number })[] = [];
  const sink = { line: (t: string) => out.push(t), oversized: (n: number) => out.push({ oversized: n }) };
  const cutter = new LineCutter(maxLineBytes);
  for (const c of chunks) cutter.push(c, sink);
  cutter.end(sink);
  return out;
}

describe('LineCutter', () => {
  it('joins a line split across chunks, keeping a multi-byte character whole', () => {
    const bytes = Buffer.from('{"a":"é"}\nsecond\nthird', 'utf8');
    const split = bytes.indexOf(0xa9); // inside é
    expect(cutAll([bytes.subarray(0, split), bytes.subarray(split)], 100)).toEqual(['{"a":"é"}', 'second', 'third']);
  });

  it('copies a partial line, so the caller may reuse its read buffer', () => {
    const out: string[] = [];
    const sink = { line: (t: string) => out.push(t), oversized: () => {} };
    const cutter = new LineCutter(100);
    const buffer = Buffer.from('abc');
    cutter.push(buffer, sink);
    buffer.write('xyz');
    cutter.push(Buffer.from('d\n'), sink);
    expect(out).toEqual(['abcd']);
  });

  it('skips a line over the cap, reports its size, and goes on with the next line', () => {
    const long = 'x'.repeat(25);
    expect(cutAll([Buffer.from(`ok\n${long.slice(0, 10)}`), Buffer.from(`${long.slice(10)}\nnext\n`)], 20)).toEqual(['ok', { oversized: 25 }, 'next']);
    expect(cutAll([Buffer.from('y'.repeat(21))], 20)).toEqual([{ oversized: 21 }]);
  });

  it('holds nothing of a 200 MB line while skipping it', () => {
    const cutter = new LineCutter(1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const sizes: number[] = [];
    const sink = { line: () => {}, oversized: (n: number) => sizes.push(n) };
    const before = process.memoryUsage();
    let peak = 0;
    for (let i = 0; i < 3200; i++) {
      cutter.push(chunk, sink);
      if (i % 100 === 0) {
        const now = process.memoryUsage();
        peak = Math.max(peak, now.heapUsed + now.arrayBuffers - before.heapUsed - before.arrayBuffers);
      }
    }
    cutter.push(Buffer.from('\n'), sink);
    expect(sizes).toEqual([3200 * 64 * 1024]);
    // The cap (1 MiB) plus noise; holding the line would be 200 MiB.
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });
});
