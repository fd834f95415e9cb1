import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GunzipMembers } from './gunzip-members.js';
import { streamOf } from './test-tarballs.js';

async function gunzip(bytes: Buffer, chunkSize?: number): Promise<Buffer> {
  const out = new GunzipMembers();
  const [, inflated] = await Promise.all([pipeline(streamOf(bytes, chunkSize), out), buffer(out)]);
  return inflated;
}

describe('GunzipMembers', () => {
  const data = Buffer.concat([randomBytes(40_000), Buffer.alloc(100_000, 'z')]);

  it.each([13, 512, 64 * 1024])('inflates one member fed in chunks of %i bytes', async (chunkSize) => {
    expect((await gunzip(gzipSync(data), chunkSize)).equals(data)).toBe(true);
  });

  it('inflates members one after another, whatever the chunks', async () => {
    const two = Buffer.concat([gzipSync(data.subarray(0, 1000)), gzipSync(data.subarray(1000))]);
    for (const chunkSize of [3, 1000, 1 << 20]) expect((await gunzip(two, chunkSize)).equals(data)).toBe(true);
  });

  it('reads a member header with a file name, a comment, extra data and a header checksum', async () => {
    const plain = gzipSync(Buffer.from('hello'));
    const extra = Buffer.from([4, 0, 1, 2, 3, 4]);
    const header = Buffer.concat([plain.subarray(0, 3), Buffer.from([0x02 | 0x04 | 0x08 | 0x10]), plain.subarray(4, 10), extra, Buffer.from('name\0comment\0'), Buffer.from([0, 0])]);
    expect((await gunzip(Buffer.concat([header, plain.subarray(10)]), 5)).toString()).toBe('hello');
  });

  it('ignores what follows the last member when it is not another one, all of it read', async () => {
    const input = streamOf(Buffer.concat([gzipSync(data), Buffer.from('trailing garbage'), randomBytes(100_000)]), 4096);
    const out = new GunzipMembers();
    const [, inflated] = await Promise.all([pipeline(input, out), buffer(out)]);
    expect(inflated.equals(data)).toBe(true);
    expect(input.readableEnded).toBe(true);
  });

  it.each([
    ['a stream cut inside a member', (gz: Buffer) => gz.subarray(0, gz.length - 3), 'unexpected end of file'],
    ['a wrong checksum', (gz: Buffer) => Buffer.concat([gz.subarray(0, -8), Buffer.from([0, 0, 0, 0]), gz.subarray(-4)]), 'incorrect data check'],
    ['a wrong length', (gz: Buffer) => Buffer.concat([gz.subarray(0, -4), Buffer.from([1, 0, 0, 0])]), 'incorrect length check'],
    ['corrupt deflate data', (gz: Buffer) => Buffer.concat([gz.subarray(0, 10), Buffer.alloc(20, 0xff), gz.subarray(30)]), /invalid/],
  ])('fails on %s', async (_, damage, message) => {
    await expect(gunzip(damage(gzipSync(data)))).rejects.toThrow(message);
  });

  it('holds back while its reader does: a small gzip of zeros is not inflated ahead of it', async () => {
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024));
    const out = new GunzipMembers();
    Readable.from([bomb]).pipe(out);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(out.readableLength).toBeLessThan(1024 * 1024);
    out.destroy();
  });
});
