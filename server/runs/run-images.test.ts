import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SandboxError, type ExecOptions, type Sandbox } from '../sandbox/driver.js';
import { imagesTar, putImages, runImageName, runImages } from './run-images.js';

let dir: string;
beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'run-images-'))));
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('run images', () => {
  it('names images by their place in the form, so a listing gives them back in order', async () => {
    const names = Array.from({ length: 12 }, (_, i) => runImageName(i, i % 2 ? 'png' : 'jpeg'));
    await mkdir(path.join(dir, 'images'));
    for (const name of [...names].reverse()) await writeFile(path.join(dir, 'images', name), name);
    expect(await runImages(path.join(dir, 'images'))).toEqual(names);
    expect(names.slice(0, 2)).toEqual(['01.jpeg', '02.png']);
  });

  it('finds none for a run without an images directory', async () => {
    expect(await runImages(path.join(dir, 'nothing-here'))).toEqual([]);
  });

  it('packs the images as one tar of their bytes, in order', async () => {
    await writeFile(path.join(dir, '01.png'), Buffer.alloc(70_000, 1));
    await writeFile(path.join(dir, '02.gif'), 'GIF89a');
    const seen: [string, number, number | undefined][] = [];
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      let bytes = 0;
      stream.on('data', (chunk: unknown) => {
        bytes += (chunk as Buffer).length;
      });
      stream.on('end', () => {
        seen.push([header.name, bytes, header.mode]);
        next();
      });
    });
    await pipeline(imagesTar(dir, ['01.png', '02.gif']), extract);
    expect(seen).toEqual([['01.png', 70_000, 0o600], ['02.gif', 6, 0o600]]);
  });

  it('fails the tar when an image file is gone', async () => {
    await expect(pipeline(imagesTar(dir, ['01.png']), tar.extract())).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('putImages', () => {
  /** A sandbox whose one exec reads its stdin to the end and exits with `code`, writing `stderr`. */
  const sandboxExiting = (code: number, stderr = '') => {
    const execs: { argv: string[]; bytes: number }[] = [];
    const sandbox = {
      async exec(argv: string[], options: ExecOptions = {}) {
        let bytes = 0;
        for await (const chunk of options.stdin as AsyncIterable<Buffer>) bytes += chunk.length;
        execs.push({ argv, bytes });
        options.stderr?.write(stderr);
        return code;
      },
    } as unknown as Sandbox;
    return { sandbox, execs };
  };

  it('unpacks the tar through one exec and gives the images\' paths in the sandbox, in order', async () => {
    await writeFile(path.join(dir, '01.png'), Buffer.alloc(100));
    await writeFile(path.join(dir, '02.gif'), Buffer.alloc(10));
    const { sandbox, execs } = sandboxExiting(0);
    expect(await putImages(sandbox, dir, ['01.png', '02.gif'], new AbortController().signal)).toEqual(['/tmp/codex-runner-images/01.png', '/tmp/codex-runner-images/02.gif']);
    expect(execs).toHaveLength(1);
    expect(execs[0]!.argv.slice(0, 2)).toEqual(['sh', '-c']);
    expect(execs[0]!.argv.at(-1)).toBe('/tmp/codex-runner-images');
    // Two 512-byte headers, the data padded to 512, and the end-of-archive blocks.
    expect(execs[0]!.bytes).toBeGreaterThanOrEqual(4 * 512);
  });

  it('fails the run\'s sandbox step when tar fails in the sandbox, with what tar said', async () => {
    await writeFile(path.join(dir, '01.png'), Buffer.alloc(100));
    const { sandbox } = sandboxExiting(2, 'tar: 01.png: Cannot write: No space left on device\n');
    const failed = putImages(sandbox, dir, ['01.png'], new AbortController().signal);
    await expect(failed).rejects.toBeInstanceOf(SandboxError);
    await expect(failed).rejects.toMatchObject({
      code: 'sandbox_error',
      message: "could not put the run's images into the sandbox: tar exited with code 2: tar: 01.png: Cannot write: No space left on device",
    });
  });
});
