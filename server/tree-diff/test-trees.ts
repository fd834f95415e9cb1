// Test support: real directories, real GNU tar, real `git apply`. Not used by production code.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { promisify } from 'node:util';
import { spoolWorkspace } from '../archive/spool-workspace.js';

const run = promisify(execFile);

/** git with no config of the machine's or the user's, as a client applying the patch might run it. */
export const cleanGitEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  HOME: '/nonexistent',
  GIT_CEILING_DIRECTORIES: '/',
  LC_ALL: 'C',
};

export async function sh(command: string, cwd: string): Promise<string> {
  const env = {
    ...cleanGitEnv,
    ...{ GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    // Extracted trees belong to the sandbox's uid, not to whoever runs the tests.
    ...{ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' },
  };
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', command], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Tars `root/<dir>` the way Docker's archive API does: names under `<dir>/`, PAX, sorted. */
export function tarStream(root: string, dir = 'workspace', format = 'posix'): { stream: Readable; bytes: () => number; done: Promise<void> } {
  const child = spawn('tar', [`--format=${format}`, '--sort=name', '-C', root, '-cf', '-', dir], { env: cleanGitEnv, stdio: ['ignore', 'pipe', 'ignore'] });
  let bytes = 0;
  const counted = new PassThrough();
  child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  child.stdout.pipe(counted);
  counted.on('close', () => child.stdout.destroy());
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { stream: counted, bytes: () => bytes, done };
}

/** Makes the upload the way the server does: GNU tar of the directory, then spoolWorkspace's re-pack. */
export async function spoolUpload(dir: string, work: string): Promise<string> {
  await sh(`tar --format=gnu -C ${q(dir)} -cf ${q(join(work, 'upload.tar'))} .`, work);
  const input = join(work, 'input.tar');
  await spoolWorkspace(createReadStream(join(work, 'upload.tar')), input, { maxBytes: 2 ** 40, maxEntries: 1e6, maxCompressedBytes: 2 ** 40 });
  return input;
}

export async function extract(tarPath: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await sh(`tar -C ${q(dir)} -xf ${q(tarPath)}`, dir);
}

/** Applies a patch to `root/workspace` from `root`, which is in no repository. */
export async function gitApply(root: string, patch: string): Promise<void> {
  await sh(`git apply --directory=workspace ${q(patch)}`, root);
}

export type Node = { kind: 'file'; exec: boolean; sha1: string } | { kind: 'symlink'; target: string } | { kind: 'other' };

/** Every file and symlink under `dir` outside `.git` directories, keyed by its raw name (latin1). */
export async function snapshot(dir: string): Promise<Map<string, Node>> {
  const out = new Map<string, Node>();
  const walk = async (abs: Buffer, rel: string) => {
    for (const name of await readdir(abs, { encoding: 'buffer' })) {
      const key = rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1');
      if (name.toString('latin1') === '.git') continue;
      const path = Buffer.concat([abs, Buffer.from('/'), name]);
      const st = await lstat(path);
      if (st.isDirectory()) await walk(path, key);
      else if (st.isSymbolicLink()) out.set(key, { kind: 'symlink', target: (await readlink(path, { encoding: 'buffer' })).toString('latin1') });
      // A sparse file of 50 GiB is compared by size: reading it is what the code under test avoids.
      else if (st.isFile()) out.set(key, { kind: 'file', exec: (st.mode & 0o100) !== 0, sha1: st.size > 64 * 1024 * 1024 ? `size ${st.size}` : createHash('sha1').update(await readFile(path)).digest('hex') });
      else out.set(key, { kind: 'other' });
    }
  };
  // git apply removes a directory it empties, the root included.
  if (existsSync(dir)) await walk(Buffer.from(dir), '');
  return out;
}

export function withoutOther(tree: Map<string, Node>): Map<string, Node> {
  return new Map([...tree].filter(([, node]) => node.kind !== 'other'));
}

export function q(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

export interface RawEntry {
  name: Buffer | string;
  type?: string;
  mode?: number;
  body?: Buffer | string;
  /** The size field when it should differ from the body (a header promising more than follows). */
  size?: number;
  linkname?: Buffer | string;
  /** PAX records written before the entry, values as raw bytes, the way Go's archive/tar writes them. */
  pax?: Record<string, Buffer | string>;
}

/** A tar built byte by byte, for what GNU tar and tar-stream will not write. */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  const pushEntry = (entry: RawEntry) => {
    const body = Buffer.from(entry.body ?? '');
    blocks.push(rawHeader({ ...entry, size: entry.size ?? body.length }), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  };
  for (const entry of entries) {
    if (entry.pax) {
      const records = Object.entries(entry.pax).map(([key, value]) => paxRecord(key, Buffer.from(value)));
      pushEntry({ name: 'PaxHeaders.0/x', type: 'x', body: Buffer.concat(records) });
    }
    pushEntry(entry);
  }
  if (opts.end !== false) blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function rawHeader(entry: RawEntry & { size: number }): Buffer {
  const block = Buffer.alloc(512);
  Buffer.from(entry.name).subarray(0, 100).copy(block, 0);
  block.write(`${(entry.mode ?? 0o644).toString(8).padStart(7, '0')}\0`, 100, 'latin1');
  block.write('0000000\0', 108, 'latin1');
  block.write('0000000\0', 116, 'latin1');
  if (entry.size > 0o77777777777) {
    // GNU base-256, as Go writes sizes that octal cannot hold.
    block[124] = 0x80;
    let size = entry.size;
    for (let i = 135; i > 124; i--, size = Math.floor(size / 256)) block[i] = size % 256;
  } else {
    block.write(`${entry.size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  }
  block.write('00000000000\0', 136, 'latin1');
  block.write(entry.type ?? '0', 156, 'latin1');
  if (entry.linkname) Buffer.from(entry.linkname).subarray(0, 100).copy(block, 157);
  block.write('ustar\x0000', 257, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return block;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = rest.length + 1;
  while (String(length).length + rest.length !== length) length = String(length).length + rest.length;
  return Buffer.concat([Buffer.from(String(length)), rest]);
}
