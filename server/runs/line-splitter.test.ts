import { describe, expect, it } from 'vitest';
import { lineSplitter } from './line-splitter.js';

describe('lineSplitter', () => {
  it('hands out non-blank lines, the last one even without a newline, and reports over-long ones', async () => {
    const lines: string[] = [];
    const oversized: number[] = [];
    const splitter = lineSplitter({ maxLineBytes: 8, onLine: (l) => lines.push(l), onOversized: (n) => oversized.push(n) });
    splitter.write('one\n\n  \ntoo long a line\ntw');
    splitter.end('o');
    await new Promise((r) => splitter.on('finish', r));
    expect(lines).toEqual(['one', 'two']);
    expect(oversized).toEqual([15]);
  });

  it('does not take the next chunk until the consumer is ready', async () => {
    let release!: () => void;
    let waiting: Promise<void> | null = new Promise((r) => (release = r));
    const lines: string[] = [];
    const splitter = lineSplitter({ maxLineBytes: 100, onLine: (l) => lines.push(l), ready: () => waiting });
    splitter.write('a\n');
    splitter.write('b\n');
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual(['a']);
    waiting = null;
    release();
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual(['a', 'b']);
  });
});
