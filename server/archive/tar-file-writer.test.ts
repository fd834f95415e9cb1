import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TarFileWriter } from './tar-file-writer.js';
import { readTar } from './test-tarballs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tar-file-writer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const owner = { uid: 1000, gid: 1000, uname: Buffer.from('codex'), gname: Buffer.from('codex'), mtimeS: 1_700_000_000, linkPath: null };

/** Buffer by Buffer: a deep toEqual of megabytes takes vitest tens of seconds. */
function expectSameBodies(read: Buffer[], written: Buffer[]): void {
  expect(read.map((b) => b.length)).toEqual(written.map((b) => b.length));
  expect(read.every((b, i) => b.equals(written[i]!))).toBe(true);
}

describe('TarFileWriter', () => {
  it('writes bodies of every size byte for byte and answers where each body starts', async () => {
    const path = join(dir, 'out.tar');
    const writer = new TarFileWriter(path);
    // Small pieces that fill batches and straddle them, one as big as a batch, one bigger.
    const bodies = [randomBytes(10), randomBytes(700_000), randomBytes(1024 * 1024), randomBytes(3 * 1024 * 1024 + 5), randomBytes(0)];
    const offsets: number[] = [];
    for (const [i, body] of bodies.entries()) {
      offsets.push(await writer.entry({ ...owner, path: Buffer.from(`f${i}`), type: 'file', mode: 0o644, size: body.length }));
      for (let at = 0; at < body.length; at += 300_000) await writer.body(body.subarray(at, at + 300_000));
      await writer.endBody(body.length);
    }
    await writer.finish();
    const bytes = await readFile(path);
    expectSameBodies((await readTar(bytes)).map((e) => e.content), bodies);
    for (const [i, body] of bodies.entries()) expect(bytes.subarray(offsets[i], offsets[i]! + body.length).equals(body)).toBe(true);
    expect(writer.offset).toBe(bytes.length);
  });

  it('says how many bytes the file holds each time that grows, up to all of them', async () => {
    const path = join(dir, 'out.tar');
    const heard: { bytes: number; onDisk: number }[] = [];
    const writer = new TarFileWriter(path, undefined, (bytes) => heard.push({ bytes, onDisk: statSync(path).size }));
    const bodies = [randomBytes(10), randomBytes(2 * 1024 * 1024 + 7), randomBytes(700_000), randomBytes(1024 * 1024)];
    for (const [i, body] of bodies.entries()) {
      await writer.entry({ ...owner, path: Buffer.from(`f${i}`), type: 'file', mode: 0o644, size: body.length });
      // The last body as one piece of a batch's size, which goes out as it is.
      const step = i === 3 ? body.length : 300_000;
      for (let at = 0; at < body.length; at += step) await writer.body(body.subarray(at, at + step));
      await writer.endBody(body.length);
    }
    await writer.finish();
    const size = (await readFile(path)).length;
    expect(heard.length).toBeGreaterThan(3);
    // What a reader is told is there is there: a count never ahead of the file.
    for (const { bytes, onDisk } of heard) expect(onDisk).toBeGreaterThanOrEqual(bytes);
    expect(heard.map((h) => h.bytes)).toEqual([...heard.map((h) => h.bytes)].sort((a, b) => a - b));
    expect(heard.at(-1)!.bytes).toBe(size);
  });

  it('reports a failed write to the next write', async () => {
    const writer = new TarFileWriter(join(dir, 'missing', 'out.tar'));
    await expect(writer.failed).rejects.toThrow(/ENOENT/);
    await expect(writer.body(Buffer.alloc(10))).rejects.toThrow(/ENOENT/);
    await writer.destroy();
  });
});
