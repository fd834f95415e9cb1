import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTar } from '../archive/test-tarballs.js';
import { packWorkspace } from './workspace-tar.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'cli-tar-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('packWorkspace', () => {
  it('packs the listed files with their modes and links as a tar.gz, leaving out one listed but gone', async () => {
    await mkdir(path.join(dir, 'bin'));
    await writeFile(path.join(dir, 'bin/run.sh'), '#!/bin/sh\necho hi\n');
    await chmod(path.join(dir, 'bin/run.sh'), 0o755);
    await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    await symlink('bin/run.sh', path.join(dir, 'run'));
    const gz = await buffer(packWorkspace(dir, ['big.bin', 'bin/run.sh', 'deleted.txt', 'run']));
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const entries = await readTar(gunzipSync(gz));
    expect(entries.map((e) => [e.header.name, e.header.type, e.header.mode])).toEqual([
      ['big.bin', 'file', 0o644],
      ['bin/run.sh', 'file', 0o755],
      ['run', 'symlink', 0o777],
    ]);
    expect(entries[0]!.content.equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);
    expect(entries[2]!.header.linkname).toBe('bin/run.sh');
  });

  it('fails the stream when a listed path cannot be read', async () => {
    await writeFile(path.join(dir, 'plain'), 'x');
    // Root reads any file whatever its mode: a path through a file fails for everyone.
    await expect(buffer(packWorkspace(dir, ['plain/inside']))).rejects.toThrow(/ENOTDIR/);
  });
});
