import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GrowingFileReader } from './growing-file-reader.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'growing-file-reader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: GrowingFileReader): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('GrowingFileReader', () => {
  it('reads a file as it grows, never past what its writer said is there, and ends once it is whole', async () => {
    const path = join(dir, 'spool.tar');
    await writeFile(path, '');
    const reader = new GrowingFileReader(path);
    const read = readAll(reader);
    const pieces = [randomBytes(10), randomBytes(3 * 1024 * 1024 + 1), randomBytes(0), randomBytes(700_000)];
    let size = 0;
    for (const piece of pieces) {
      await appendFile(path, piece);
      // Bytes on disk the writer has not announced yet are not read.
      await appendFile(path, 'not yet');
      size += piece.length;
      reader.grew(size);
      await tick();
      await writeFile(path, Buffer.concat(pieces).subarray(0, size));
    }
    reader.end();
    expect((await read).equals(Buffer.concat(pieces))).toBe(true);
  });

  it('waits for a consumer that reads slowly, in the file, not in memory', async () => {
    const path = join(dir, 'spool.tar');
    const bytes = randomBytes(8 * 1024 * 1024);
    await writeFile(path, bytes);
    const reader = new GrowingFileReader(path);
    reader.grew(bytes.length);
    reader.end();
    await tick();
    // Nobody reads yet: the stream holds about its high-water mark, not the file.
    expect(reader.readableLength).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect((await readAll(reader)).equals(bytes)).toBe(true);
  });

  it('ends where it is when stopped, a file cut short to its consumer', async () => {
    const path = join(dir, 'spool.tar');
    await writeFile(path, randomBytes(4 * 1024 * 1024));
    const reader = new GrowingFileReader(path);
    reader.grew(1024 * 1024);
    const read = readAll(reader);
    await tick();
    reader.stop();
    reader.grew(4 * 1024 * 1024);
    expect((await read).length).toBe(1024 * 1024);
  });

  it('fails when the file is shorter than its writer said', async () => {
    const path = join(dir, 'spool.tar');
    await writeFile(path, randomBytes(100));
    const reader = new GrowingFileReader(path);
    reader.grew(200);
    reader.end();
    await expect(readAll(reader)).rejects.toThrow(/ended at 100 bytes, before the 200/);
  });
});
