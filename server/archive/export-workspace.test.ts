import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink as makeSymlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';
import { exportWorkspace } from './export-workspace.js';
import { buildTar, device, dir, file, hardlink, readTar, streamOf, symlink, ustarHeader } from './test-tarballs.js';

let workDir: string;
let destPath: string;

beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'export-workspace-'));
  destPath = join(workDir, 'workspace.tar');
});

afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

const mtime = new Date('2024-05-01T12:00:00Z');

describe('exportWorkspace', () => {
  it('strips the prefix, skips the root entry and writes a valid tar', async () => {
    const longName = `workspace/${'n'.repeat(150)}`;
    const dockerTar = await buildTar([
      dir('workspace/', { mtime }),
      dir('workspace/src/', { mode: 0o750, mtime }),
      file('workspace/src/main.ts', 'hello', { mode: 0o755, mtime, ...DEFAULT_SANDBOX_IDS }),
      symlink('workspace/latest', 'src/main.ts'),
      hardlink('workspace/copy.ts', 'workspace/src/main.ts'),
      file(longName, 'long'),
    ]);

    const result = await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' });

    expect(result).toEqual({ entries: 5, bytes: 9, leftOut: [], truncated: false });
    const tar = await readFile(destPath);
    expect(tar.length % 512).toBe(0);
    const entries = await readTar(tar);
    // Docker's trailing slash on directory names is kept; tar readers expect it.
    expect(entries.map((e) => [e.header.name, e.header.type, e.header.linkname])).toEqual([
      ['src/', 'directory', null],
      ['src/main.ts', 'file', null],
      ['latest', 'symlink', 'src/main.ts'],
      ['copy.ts', 'link', 'src/main.ts'],
      ['n'.repeat(150), 'file', null],
    ]);
    expect(entries[0]?.header).toMatchObject({ mode: 0o750, mtime });
    expect(entries[1]?.header).toMatchObject({ mode: 0o755, mtime, ...DEFAULT_SANDBOX_IDS });
    expect(entries[1]?.content.toString()).toBe('hello');
    expect(await readdir(workDir)).toEqual(['workspace.tar']);
  });

  it('accepts the prefix without its trailing slash', async () => {
    const dockerTar = await buildTar([dir('workspace'), file('workspace/a', 'x')]);
    await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace' });
    expect((await readTar(await readFile(destPath))).map((e) => e.header.name)).toEqual(['a']);
  });

  it('leaves out FIFOs and devices', async () => {
    const dockerTar = await buildTar([dir('workspace/'), device('workspace/pipe', 'fifo'), file('workspace/a')]);
    const result = await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' });
    expect(result.entries).toBe(1);
    expect(result.leftOut).toEqual([{ path: 'pipe', reason: 'fifo' }]);
    expect((await readTar(await readFile(destPath))).map((e) => e.header.name)).toEqual(['a']);
  });

  it('leaves out a hard link to a FIFO it left out, so the tarball still extracts', async () => {
    const dockerTar = await buildTar([
      dir('workspace/'),
      device('workspace/pipe', 'fifo'),
      hardlink('workspace/pipe2', 'workspace/pipe'),
      hardlink('workspace/pipe3', 'workspace/pipe2'),
      file('workspace/a', 'x'),
      hardlink('workspace/b', 'workspace/a'),
    ]);
    const result = await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' });
    expect(result.leftOut).toEqual([
      { path: 'pipe', reason: 'fifo' },
      { path: 'pipe2', reason: 'fifo' },
      { path: 'pipe3', reason: 'fifo' },
    ]);
    expect((await readTar(await readFile(destPath))).map((e) => [e.header.name, e.header.type])).toEqual([['a', 'file'], ['b', 'link']]);
    const out = join(workDir, 'out');
    await mkdir(out);
    execFileSync('tar', ['-xf', destPath, '-C', out]);
    expect((await readdir(out)).sort()).toEqual(['a', 'b']);
  });

  it('stops at a file over the cap without reading it, and keeps what came before', async () => {
    // A 50 GB sparse file's header, and no body: reading it would wait for bytes that never come.
    const head = await buildTar([dir('workspace/'), file('workspace/a', 'abc')]);
    const withoutEnd = head.subarray(0, head.length - 1024);
    const sparse = ustarHeader('workspace/s', 50 * 1024 ** 3, '0');
    const dockerTar = new Readable({ read() {} });
    dockerTar.push(Buffer.concat([withoutEnd, sparse, Buffer.alloc(512)]));
    const result = await exportWorkspace(dockerTar, destPath, { stripPrefix: 'workspace/', maxBytes: 1024 });
    expect(result).toMatchObject({ entries: 1, bytes: 3, truncated: true, leftOut: [{ path: 's', reason: 'over_workspace_cap' }] });
    expect((await readTar(await readFile(destPath))).map((e) => e.header.name)).toEqual(['a']);
    expect(dockerTar.destroyed).toBe(true);
  });

  it('fails on an entry outside the prefix and leaves no file behind', async () => {
    const dockerTar = await buildTar([dir('workspace/'), file('elsewhere/a')]);
    await expect(exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' })).rejects.toThrow(
      'docker archive entry "elsewhere/a" is outside "workspace/"',
    );
    expect(await readdir(workDir)).toEqual([]);
  });

  it('fails on a corrupt docker stream and removes the partial file', async () => {
    const whole = await buildTar([dir('workspace/'), file('workspace/a', 'x'.repeat(10_000))]);
    await expect(
      exportWorkspace(streamOf(whole.subarray(0, 4096)), destPath, { stripPrefix: 'workspace/' }),
    ).rejects.toThrow('the tar stream ended inside an entry');
    expect(await readdir(workDir)).toEqual([]);
  });

  it('stops and removes the partial file when the signal aborts', async () => {
    const head = await buildTar([dir('workspace/'), file('workspace/a', 'x'.repeat(4096))]);
    const dockerTar = new Readable({ read() {} });
    dockerTar.push(head.subarray(0, head.length - 1024));
    const controller = new AbortController();
    const exporting = exportWorkspace(dockerTar, destPath, { stripPrefix: 'workspace/', signal: controller.signal });
    await waitFor(() => existsSync(`${destPath}.partial`));
    const reason = new Error('run cancelled');
    controller.abort(reason);
    await expect(exporting).rejects.toBe(reason);
    expect(dockerTar.destroyed).toBe(true);
    expect(await readdir(workDir)).toEqual([]);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition never became true');
}

describe('exportWorkspace write failures', () => {
  it('reports the write error, not the abort it causes on the reading side', async () => {
    const dockerTar = await buildTar([dir('workspace/'), file('workspace/a', 'x'.repeat(100_000))]);
    const missingDir = join(workDir, 'missing', 'out.tar');
    await expect(exportWorkspace(streamOf(dockerTar, 512), missingDir, { stripPrefix: 'workspace/' })).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});

describe('exportWorkspace names that are not UTF-8', () => {
  const bytes = (text: string) => Buffer.from(text, 'latin1');
  const under = (dir: string, name: Buffer) => Buffer.concat([Buffer.from(`${dir}/`), name]);
  const eAcute = bytes('caf\xe9.txt');
  const eGrave = bytes('caf\xe8.txt');
  const newline = Buffer.from('two\nlines.txt');
  const link = Buffer.from('to-cafe');

  /** A workspace GNU tar archives as Docker would hand it over: every name under `workspace/`. */
  async function gnuTarOfWorkspace(format: 'posix' | 'gnu'): Promise<Buffer> {
    const root = join(workDir, 'src');
    await mkdir(join(root, 'workspace'), { recursive: true });
    await writeFile(under(`${root}/workspace`, eAcute), 'acute');
    await writeFile(under(`${root}/workspace`, eGrave), 'grave');
    await writeFile(under(`${root}/workspace`, newline), 'newline');
    await makeSymlink(eAcute, under(`${root}/workspace`, link));
    return execFileSync('tar', [`--format=${format}`, '--sort=name', '-cf', '-', '-C', root, 'workspace']);
  }

  // posix writes PAX `path` records of raw bytes (as Docker's archive API does), gnu raw ustar names.
  it.each(['posix', 'gnu'] as const)('keeps two names that differ only in a non-UTF-8 byte apart, byte for byte (%s input)', async (format) => {
    const dockerTar = await gnuTarOfWorkspace(format);

    const result = await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' });

    expect(result).toEqual({ entries: 4, bytes: 17, leftOut: [], truncated: false });
    const plain = await readFile(destPath);
    expect(plain.includes('hdrcharset=BINARY')).toBe(true);
    const out = join(workDir, 'out');
    await mkdir(out);
    // GNU tar 1.34 warns that it does not know `hdrcharset` on stderr, and extracts the bytes as they are.
    execFileSync('tar', ['-xf', destPath, '-C', out], { stdio: 'pipe' });
    const names = (await readdir(out, { encoding: 'buffer' })).sort(Buffer.compare);
    expect(names).toEqual([eGrave, eAcute, link, newline].sort(Buffer.compare));
    expect((await readFile(under(out, eAcute))).toString()).toBe('acute');
    expect((await readFile(under(out, eGrave))).toString()).toBe('grave');
    expect((await readFile(under(out, newline))).toString()).toBe('newline');
    expect(await readlink(under(out, link), { encoding: 'buffer' })).toEqual(eAcute);
  });

  it('writes a UTF-8 name without hdrcharset, and names a left-out entry in UTF-8 with U+FFFD', async () => {
    const root = join(workDir, 'src');
    await mkdir(join(root, 'workspace'), { recursive: true });
    await writeFile(join(root, 'workspace', 'naïve.txt'), 'x');
    // Node passes arguments as UTF-8: the shell's printf makes the raw byte.
    execFileSync('sh', ['-c', 'mkfifo "$(printf \'caf\\351.txt\')"'], { cwd: join(root, 'workspace') });
    const dockerTar = execFileSync('tar', ['--format=posix', '--sort=name', '-cf', '-', '-C', root, 'workspace']);

    const result = await exportWorkspace(streamOf(dockerTar), destPath, { stripPrefix: 'workspace/' });

    expect(result.leftOut).toEqual([{ path: 'caf\ufffd.txt', reason: 'fifo' }]);
    const plain = await readFile(destPath);
    expect(plain.includes('hdrcharset')).toBe(false);
    expect((await readTar(plain)).map((e) => e.header.name)).toEqual(['naïve.txt']);
  });
});
