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
