import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanBaseline } from './baseline-scan.js';
import { readScanFile, writeScanFile } from './scan-file.js';
import { makeTar } from '../archive/test-tarballs.js';

let dir: string;
let tarPath: string;
let scanPath: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scan-file-'));
  tarPath = join(dir, 'input.tar');
  scanPath = join(dir, 'input.scan');
  await writeFile(
    tarPath,
    await makeTar([
      { name: 'src/', type: 'directory' },
      { name: 'src/a.txt', content: 'a\n' },
      { name: 'link', type: 'symlink', linkname: 'src/a.txt' },
      { name: 'hard', type: 'link', linkname: 'src/a.txt' },
      { name: '.git/config', content: 'x' },
      { name: 'con/.GIT ', content: 'y' },
    ]),
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the kept scan of an upload', () => {
  it('reads back as the scan it was', async () => {
    const scan = await scanBaseline(tarPath);
    expect(scan.entries.size).toBe(3);
    await writeScanFile(scanPath, scan, tarPath);
    expect(await readScanFile(scanPath, tarPath)).toEqual(scan);
  });

  it('is not used when it is missing, cut short, or of another tar', async () => {
    expect(await readScanFile(scanPath, tarPath)).toBeNull();
    const scan = await scanBaseline(tarPath);
    await writeScanFile(scanPath, scan, tarPath);
    await writeFile(tarPath, Buffer.alloc(1024));
    expect(await readScanFile(scanPath, tarPath)).toBeNull();
    await writeScanFile(scanPath, scan, tarPath);
    await truncate(scanPath, 40);
    expect(await readScanFile(scanPath, tarPath)).toBeNull();
  });
});
