import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TarReader } from '../tree-diff/tar-reader.js';
import { buildWorkspaceReaderSpec, READ_WITHIN_SCRIPT } from './workspace-reader-spec.js';

describe('buildWorkspaceReaderSpec', () => {
  const spec = buildWorkspaceReaderSpec({ runId: 'r1', image: 'img', volume: 'vol', labels: { a: 'b' }, maxBytes: 1000 });

  it('mounts only the workspace volume, read-only, with no network and one capability', () => {
    expect(spec.HostConfig?.Mounts).toEqual([{ Type: 'volume', Source: 'vol', Target: '/workspace', ReadOnly: true }]);
    expect(spec.HostConfig?.NetworkMode).toBe('none');
    expect(spec.NetworkDisabled).toBe(true);
    expect(spec.HostConfig?.CapDrop).toEqual(['ALL']);
    expect(spec.HostConfig?.CapAdd).toEqual(['DAC_READ_SEARCH']);
    expect(spec.HostConfig?.ReadonlyRootfs).toBe(true);
    expect(spec.HostConfig?.SecurityOpt).toContain('no-new-privileges');
  });

  it('carries the run labels so a sweep removes a reader a crash left', () => {
    expect(spec.Labels).toEqual({ a: 'b' });
    expect(spec.Cmd).toEqual(['1000', '/', 'workspace']);
  });
});

describe('the read-within script (run with the host bash, find and tar)', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'read-within-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function readWithin(budget: number): Promise<{ names: string[]; sizes: Map<string, number>; leftOut: string[] }> {
    const { stdout, stderr } = await new Promise<{ stdout: Buffer; stderr: Buffer }>((resolve, reject) => {
      execFile('bash', ['-c', READ_WITHIN_SCRIPT, 'read-within', String(budget), root, 'workspace'], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        error ? reject(error) : resolve({ stdout, stderr }),
      );
    });
    const reader = new TarReader(Readable.from([stdout]));
    const names: string[] = [];
    const sizes = new Map<string, number>();
    for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
      names.push(entry.path.toString('utf8'));
      sizes.set(entry.path.toString('utf8'), entry.size);
      for await (const _ of reader.body());
    }
    const leftOut = stderr.toString('utf8').split('\0').filter(Boolean);
    return { names: names.sort(), sizes, leftOut };
  }

  it('leaves out a sparse file over the budget and delivers everything else, unreadable files too', async () => {
    const ws = join(root, 'workspace');
    await mkdir(join(ws, 'z', 'deeper'), { recursive: true });
    await writeFile(join(ws, 'a'), 'aa');
    await truncate(join(ws, 'a-sparse'), 0).catch(() => writeFile(join(ws, 'a-sparse'), ''));
    await truncate(join(ws, 'a-sparse'), 50 * 1024 ** 3);
    await writeFile(join(ws, 'z', 'deeper', 'later'), 'later');
    await writeFile(join(ws, 'name with\nnewline'), 'n');
    await chmod(join(ws, 'z', 'deeper', 'later'), 0o000);
    const { names, sizes, leftOut } = await readWithin(1000);
    expect(leftOut).toEqual(['workspace/a-sparse']);
    expect(names).toEqual(['workspace', 'workspace/a', 'workspace/name with\nnewline', 'workspace/z', 'workspace/z/deeper', 'workspace/z/deeper/later'].sort());
    expect(sizes.get('workspace/z/deeper/later')).toBe(5);
  });

  it('keeps the files that fit when together they pass the budget: first fit in walk order', async () => {
    const ws = join(root, 'workspace');
    await mkdir(ws);
    for (const name of ['f1', 'f2', 'f3']) await writeFile(join(ws, name), Buffer.alloc(400));
    await writeFile(join(ws, 'small'), Buffer.alloc(100));
    const { names, leftOut } = await readWithin(1000);
    // Two of the 400-byte files fit, the third does not; the 100-byte one fits wherever it comes.
    expect(leftOut).toHaveLength(1);
    expect(names).toHaveLength(1 + 3);
    expect(names).toContain('workspace/small');
    expect(names).not.toContain(leftOut[0]);
  });
});
