import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { createDeflate, deflateSync, constants as zlib, type Deflate } from 'node:zlib';
import type { GitEnv } from './git-runner.js';
import { TreeDiffError } from './tree-diff-error.js';

/** How many small object files are written at once (libuv's pool runs 4 file operations at a time). */
const SMALL_WRITES_AT_ONCE = 16;

/** A loose object before it is written: its id and its bytes, header included. */
export interface SmallObject {
  id: string;
  bytes: Buffer;
}

export function smallObject(type: 'blob' | 'tree', content: Buffer): SmallObject {
  const bytes = Buffer.concat([Buffer.from(`${type} ${content.length}\0`, 'latin1'), content]);
  return { id: createHash('sha1').update(bytes).digest('hex'), bytes };
}

/** git's blob id: sha1 of `blob <size>\0<content>`. */
export function blobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

/** A streaming blob id for content whose size is known up front. */
export function blobHasher(size: number): Hash {
  return createHash('sha1').update(`blob ${size}\0`);
}

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * A bare repository on the server's disk holding only the blobs a diff needs, written as loose
 * objects by this process: one streaming pass per blob, no git process per file, no pack.
 */
export class ObjectStore {
  private readonly written = new Set<string>();
  private readonly fanout = new Set<string>();

  private constructor(readonly git: GitEnv) {}

  static async create(dir: string, signal?: AbortSignal): Promise<ObjectStore> {
    const git: GitEnv = { gitDir: join(dir, 'objects.git'), homeDir: join(dir, 'home') };
    await mkdir(git.homeDir, { recursive: true, mode: 0o700 });
    // What `git init --bare --template=` makes, written here: a git process per run costs the
    // server a fork (~10 ms of its main thread) and git's own start. No templates: no sample hooks,
    // no info/exclude. HEAD stays unborn, so no git version reads attributes from a HEAD tree.
    for (const sub of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags']) await mkdir(join(git.gitDir, sub), { recursive: true, mode: 0o700 });
    signal?.throwIfAborted();
    await writeFile(join(git.gitDir, 'HEAD'), 'ref: refs/heads/master\n', { mode: 0o600 });
    await writeFile(join(git.gitDir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n', { mode: 0o600 });
    return new ObjectStore(git);
  }

  has(id: string): boolean {
    return this.written.has(id);
  }

  begin(size: number): BlobWriter {
    return new BlobWriter(this, size);
  }

  /** Stores a small object (a symlink's target, a tree) in one write; returns its id. */
  async writeObject(type: 'blob' | 'tree', content: Buffer): Promise<string> {
    const object = smallObject(type, content);
    await this.writeSmall(object);
    return object.id;
  }

  /**
   * Stores small objects (made by `smallObject`), `concurrency` writes at a time: a tree of
   * thousands of directories is thousands of small files, and one at a time leaves the disk idle.
   */
  async writeObjects(objects: readonly SmallObject[], concurrency = SMALL_WRITES_AT_ONCE): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < objects.length) await this.writeSmall(objects[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, objects.length) }, worker));
  }

  private async writeSmall({ id, bytes }: SmallObject): Promise<void> {
    if (this.written.has(id)) return;
    const dir = await this.fanoutDir(id);
    // No reader runs while objects are written, so a plain exclusive create is enough here.
    await writeFile(join(dir, id.slice(2)), deflateSync(bytes, { level: zlib.Z_NO_COMPRESSION }), { flag: 'wx', mode: 0o444 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    this.written.add(id);
  }

  /** Stores `size` bytes of `file` from `start`, which must hash to `id`; no-op if stored. */
  async copyRange(file: string, start: number, size: number, id: string, signal?: AbortSignal): Promise<void> {
    if (this.written.has(id)) return;
    const writer = this.begin(size);
    try {
      if (size > 0) {
        for await (const chunk of createReadStream(file, { start, end: start + size - 1, highWaterMark: READ_CHUNK_BYTES, signal })) {
          await writer.write(chunk as Buffer);
        }
      }
      const got = await writer.finish();
      if (got !== id) throw new TreeDiffError('store_corrupt', `bytes ${start}+${size} of the baseline tar no longer hash to ${id}`);
    } finally {
      await writer.abort();
    }
  }

  /** @internal */
  async commit(tempPath: string, id: string): Promise<void> {
    await rename(tempPath, join(await this.fanoutDir(id), id.slice(2)));
    this.written.add(id);
  }

  private async fanoutDir(id: string): Promise<string> {
    const dir = join(this.git.gitDir, 'objects', id.slice(0, 2));
    if (!this.fanout.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.fanout.add(dir);
    }
    return dir;
  }

  /** @internal */
  tempPath(): string {
    return join(this.git.gitDir, 'objects', `tmp_obj_${randomUUID()}`);
  }
}

/** Writes one loose object while hashing it; `abort()` after `finish()` is a no-op. */
export class BlobWriter {
  private readonly hash: Hash;
  private readonly deflate: Deflate;
  private readonly done: Promise<void>;
  private readonly temp: string;
  private seen = 0;
  private settled = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly size: number,
  ) {
    this.hash = blobHasher(size);
    this.temp = store.tempPath();
    // Stored, not compressed: the repository lives only until the diff is written, and level 1
    // cost 5 s for 200 MB of random bytes here against 1.3 s for no compression.
    this.deflate = createDeflate({ level: zlib.Z_NO_COMPRESSION });
    this.done = pipeline(this.deflate, createWriteStream(this.temp, { mode: 0o444 }));
    this.done.catch(() => {});
    this.deflate.write(`blob ${size}\0`);
  }

  async write(chunk: Buffer): Promise<void> {
    this.seen += chunk.length;
    if (this.seen > this.size) throw new TreeDiffError('bad_tar', `an entry has more than its ${this.size} bytes`);
    this.hash.update(chunk);
    if (!this.deflate.write(chunk)) await Promise.race([once(this.deflate, 'drain'), this.done]);
  }

  async finish(): Promise<string> {
    if (this.seen !== this.size) throw new TreeDiffError('bad_tar', `an entry has ${this.seen} of its ${this.size} bytes`);
    this.deflate.end();
    await this.done;
    const id = this.hash.digest('hex');
    await this.store.commit(this.temp, id);
    this.settled = true;
    return id;
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.deflate.destroy();
    await this.done.catch(() => {});
    await rm(this.temp, { force: true });
  }
}
