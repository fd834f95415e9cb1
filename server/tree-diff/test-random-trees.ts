// Test support: random trees for the round-trip property test. Not used by production code.
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshot } from './test-trees.js';

export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAME_PARTS = ['a', 'b', 'c', '.', '-', ' ', '\n', 'é', '\\', '"', '\t', '~'];

export function randomPath(random: () => number): string {
  const depth = 1 + Math.floor(random() * 3);
  const parts: string[] = [];
  while (parts.length < depth) {
    let name = '';
    const length = 1 + Math.floor(random() * 3);
    for (let i = 0; i < length; i++) name += NAME_PARTS[Math.floor(random() * NAME_PARTS.length)];
    if (name !== '.' && name !== '..' && !/^\.git/i.test(name)) parts.push(name);
  }
  return parts.join('/');
}

export async function existingPath(dir: string, random: () => number): Promise<string | null> {
  const paths = [...(await snapshot(dir)).keys()].map((key) => Buffer.from(key, 'latin1').toString('utf8'));
  return paths.length === 0 ? null : paths[Math.floor(random() * paths.length)]!;
}

/** rm -rf, where a file in the way of the path (ENOTDIR) also means nothing to remove. */
export async function remove(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOTDIR') throw error;
  });
}

/** Makes `path` a file or a symlink, replacing whatever is there or in the way. */
export async function put(dir: string, path: string, random: () => number, by: 'upload' | 'run'): Promise<void> {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = join(dir, ...parts.slice(0, i));
    const st = await lstat(parent).catch(() => null);
    if (st && !st.isDirectory()) await rm(parent);
    if (!st || !st.isDirectory()) await mkdir(parent);
  }
  const target = join(dir, path);
  await remove(target);
  const kind = random();
  // The upload goes through the spooler, which refuses links in loops; a run may make any link.
  if (kind < 0.2) return symlink(by === 'upload' ? `t${Math.floor(random() * 100)}` : parts.at(-1)! + (random() < 0.5 ? '' : '/../x'), target);
  const content =
    kind < 0.4 ? randomBytes(1 + Math.floor(random() * 3000)) : Array.from({ length: Math.floor(random() * 6) }, (_, i) => `line ${i} ${random()}${random() < 0.3 ? '\r' : ''}\n`).join('');
  await writeFile(target, content);
  if (random() < 0.3) await chmod(target, 0o755);
}
