import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TreeHold } from './tree-hold.js';

const KiB = 1024;

/** Writes `count` chunks of `bytes`; answers how many were taken before one was pushed back (all: count). */
async function writeUntilPushedBack(hold: TreeHold, count: number, bytes: number): Promise<number> {
  for (let i = 0; i < count; i++) {
    const taken = new Promise<boolean>((resolve) => {
      hold.write(Buffer.alloc(bytes, i), () => resolve(true));
      setTimeout(() => resolve(false), 50);
    });
    if (!(await taken)) return i;
  }
  return count;
}

describe('TreeHold', () => {
  it('takes up to its hold past a target nobody reads, then pushes back', async () => {
    const target = new PassThrough({ highWaterMark: 64 * KiB });
    const hold = new TreeHold(target, 1024 * KiB);
    // The target's own high-water mark, then the hold: 1024 KiB more in 64 KiB chunks.
    const taken = await writeUntilPushedBack(hold, 40, 64 * KiB);
    expect(taken).toBeGreaterThanOrEqual(16);
    expect(taken).toBeLessThan(20);
  });

  it('once it stops holding, queues no more than the target takes', async () => {
    const target = new PassThrough({ highWaterMark: 64 * KiB });
    const hold = new TreeHold(target, 1024 * KiB);
    hold.stopHolding();
    expect(await writeUntilPushedBack(hold, 40, 64 * KiB)).toBeLessThan(4);
  });

  it('passes every byte on, in order, to a reader that comes later', async () => {
    const target = new PassThrough({ highWaterMark: 64 * KiB });
    const hold = new TreeHold(target, 256 * KiB);
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * KiB, i));
    const written = (async () => {
      for (const [i, chunk] of chunks.entries()) {
        if (i === 8) hold.stopHolding();
        if (!hold.write(chunk)) await new Promise((resolve) => hold.once('drain', resolve));
      }
      await new Promise<void>((resolve) => hold.end(resolve));
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const read: Buffer[] = [];
    for await (const chunk of target) read.push(chunk as Buffer);
    await written;
    expect(Buffer.concat(read).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('ends its target only once every byte it took has reached it', async () => {
    const target = new PassThrough({ highWaterMark: 16 * KiB });
    const hold = new TreeHold(target, 0);
    const chunks = Array.from({ length: 8 }, (_, i) => Buffer.alloc(16 * KiB, i));
    // Taken into the hold's own queue while the target, unread, pushes back; then ended at once.
    for (const chunk of chunks) hold.write(chunk);
    hold.end();
    expect(target.writableEnded).toBe(false);
    const read: Buffer[] = [];
    for await (const chunk of target) read.push(chunk as Buffer);
    expect(Buffer.concat(read).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('holds nothing up once its target is gone', async () => {
    const target = new PassThrough({ highWaterMark: 16 * KiB });
    const hold = new TreeHold(target, 0);
    const pushedBack = new Promise<void>((resolve) => hold.write(Buffer.alloc(64 * KiB), () => resolve()));
    target.destroy();
    await pushedBack;
    expect(await writeUntilPushedBack(hold, 8, 64 * KiB)).toBe(8);
  });
});
