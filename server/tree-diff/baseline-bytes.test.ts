import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaselineBytes } from './baseline-bytes.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'baseline-bytes-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('BaselineBytes', () => {
  it('returns exact ranges, inside a window, across windows and bigger than one', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(join(dir, 'f'), data);
    const bytes = await BaselineBytes.open(join(dir, 'f'));
    try {
      for (const [at, length] of [[0, 10], [5, 100], [1024 * 1024 - 3, 10], [100, 2 * 1024 * 1024], [data.length - 5, 5], [7, 0]] as const) {
        const got = await bytes.read(at, length);
        expect(got.equals(data.subarray(at, at + length))).toBe(true);
      }
    } finally {
      await bytes.close();
    }
  });

  it('after a jump reads no further than the end it is given, in stored order a MiB ahead, and answers every range exactly', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    await writeFile(join(dir, 'f'), data);
    const bytes = await BaselineBytes.open(join(dir, 'f'));
    const reads: number[] = [];
    const handle = (bytes as unknown as { handle: { read: (...a: any[]) => Promise<any> } }).handle;
    const read = handle.read.bind(handle);
    handle.read = async (...args: any[]) => {
      reads.push(args[2]);
      return read(...args);
    };
    try {
      // Small files out of order: each costs its own bytes, not a MiB.
      for (const at of [900_000, 10, 500_000, 1_500_000]) {
        const got = await bytes.read(at, 100, at + 300);
        expect(got.equals(data.subarray(at, at + 100))).toBe(true);
        expect((await bytes.read(at + 100, 200, at + 300)).equals(data.subarray(at + 100, at + 300))).toBe(true);
      }
      expect(reads).toEqual([300, 300, 300, 300]);
      // Files in their stored order, a header apart: one read a MiB ahead covers them all.
      reads.length = 0;
      for (let at = 100_000, n = 0; n < 10; n++, at += 1024 + 512) {
        expect((await bytes.read(at, 1024, at + 1024)).equals(data.subarray(at, at + 1024))).toBe(true);
      }
      expect(reads).toEqual([1024, 1024 * 1024]);
    } finally {
      await bytes.close();
    }
  });

  it('reports a range past the end of the file as a corrupt store', async () => {
    await writeFile(join(dir, 'f'), 'short');
    const bytes = await BaselineBytes.open(join(dir, 'f'));
    try {
      await expect(bytes.read(2, 10)).rejects.toMatchObject({ code: 'store_corrupt' });
    } finally {
      await bytes.close();
    }
  });
});
