import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { isGzipHead, otherCompression, peekStream } from './peek-stream.js';

describe('peekStream', () => {
  it('returns the head and a stream that still yields every byte', async () => {
    const input = Readable.from([Buffer.from('a'), Buffer.from('bcd'), Buffer.from('ef')]);
    const { head, rest } = await peekStream(input, 2);
    expect(head.toString()).toBe('abcd');
    expect(await text(rest)).toBe('abcdef');
  });

  it('replays a stream shorter than the head it asked for', async () => {
    const { head, rest } = await peekStream(Readable.from([Buffer.from('z')]), 2);
    expect(head.toString()).toBe('z');
    expect(await text(rest)).toBe('z');
  });

  it('returns an empty head for an empty stream', async () => {
    const { head, rest } = await peekStream(Readable.from([]), 2);
    expect(head.length).toBe(0);
    expect(await text(rest)).toBe('');
  });

  it('rejects when the stream fails before the head arrives', async () => {
    const input = new Readable({ read() {} });
    setTimeout(() => input.destroy(new Error('reset')), 5);
    await expect(peekStream(input, 2)).rejects.toThrow('reset');
  });

  it('rejects with the reason when aborted while waiting', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 5);
    await expect(peekStream(new Readable({ read() {} }), 2, controller.signal)).rejects.toThrow('stop');
  });
});

describe('isGzipHead', () => {
  it('recognises the gzip magic bytes and nothing else', () => {
    expect(isGzipHead(Buffer.from([0x1f, 0x8b, 0x08]))).toBe(true);
    expect(isGzipHead(Buffer.from([0x1f]))).toBe(false);
    expect(isGzipHead(Buffer.from('ustar'))).toBe(false);
  });
});

describe('otherCompression', () => {
  it.each([
    ['bzip2', Buffer.from('425a683931415926535900', 'hex')],
    ['xz', Buffer.from('fd377a585a000004e6d6b4', 'hex')],
    ['zstd', Buffer.from('28b52ffd0458000000', 'hex')],
  ])('names %s from its magic number', (name, head) => {
    expect(otherCompression(head)).toBe(name);
  });

  it('does not take a tar whose first name starts with "BZh" for bzip2', () => {
    expect(otherCompression(Buffer.from('BZh9-notes.txt\0\0\0'))).toBeUndefined();
    expect(otherCompression(Buffer.from([0x1f, 0x8b, 8, 0]))).toBeUndefined();
  });
});
