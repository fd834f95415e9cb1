import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { SandboxError, type Sandbox } from '../sandbox/driver.js';
import { tailBuffer } from './line-splitter.js';

/**
 * Where a run's images are in its sandbox: outside the workspace, so they are in neither its diff
 * nor its final tree, and in the sandbox's /tmp (sandbox.tmp_mb), which the run's uid owns.
 */
export const SANDBOX_IMAGES_DIR = '/tmp/codex-runner-images';

/**
 * The archive API cannot write there (a read-only root and a tmpfs it does not see), so a shell in
 * the sandbox unpacks the tar on its stdin. The directory is its only argument ($0).
 */
const UNPACK = 'umask 077 && mkdir -p "$0" && exec tar -x -f - -C "$0"';

/** A run's image file as kept with the run: its place in the form and its type, so the order and the extension survive a restart. */
export function runImageName(index: number, type: string): string {
  return `${String(index + 1).padStart(2, '0')}.${type}`;
}

/** The run's images in their order; none when the run has no images directory. */
export async function runImages(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return names.sort();
}

/** The images as one tar, read from their files as it is read. */
export function imagesTar(dir: string, names: string[]): Readable {
  const pack = tar.pack();
  (async () => {
    for (const name of names) {
      const file = path.join(dir, name);
      const { size } = await stat(file);
      await pipeline(createReadStream(file), pack.entry({ name, size, mode: 0o600 }));
    }
    pack.finalize();
  })().catch((err: unknown) => pack.destroy(err as Error));
  return pack as unknown as Readable;
}

/** Puts the run's images into its sandbox; returns their paths there, in order. */
export async function putImages(sandbox: Sandbox, dir: string, names: string[], signal: AbortSignal): Promise<string[]> {
  const stderr = tailBuffer();
  const tarStream = imagesTar(dir, names);
  let code: number;
  try {
    code = await sandbox.exec(['sh', '-c', UNPACK, SANDBOX_IMAGES_DIR], { stdin: tarStream, stderr, signal });
  } finally {
    // An exec that failed to start never read it: its open image file goes with it.
    tarStream.destroy();
  }
  if (code !== 0) throw new SandboxError(`could not put the run's images into the sandbox: tar exited with code ${code}: ${stderr.text().trim().slice(-500)}`);
  return names.map((name) => path.posix.join(SANDBOX_IMAGES_DIR, name));
}
