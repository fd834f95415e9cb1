import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { blobHasher, blobId, ObjectStore } from './object-store.js';
import { fileMode, writeTree, type GitMode } from './tree-writer.js';
import { TarReader } from './tar-reader.js';
import { classifyPath, displayPath, parentKeys, type PathKey } from './tree-path.js';
import { TreeDiffError } from './tree-diff-error.js';

export interface BaselineEntry {
  mode: GitMode;
  id: string;
  size: number;
  /** Where a file's bytes start in the stored tar; null for a symlink, whose target is `link`. */
  offset: number | null;
  link: Buffer | null;
}

export interface Omission {
  path: string;
  reason: 'max_bytes' | 'max_entries' | 'unrepresentable' | 'link_target_missing';
}

export interface Skipped {
  path: string;
  kind: string;
}

export interface BaselineIndex {
  storeDir: string;
  store: ObjectStore;
  /** The uploaded tar as the server spooled it, kept in the store: the baseline's bytes. */
  tarPath: string | null;
  entries: ReadonlyMap<PathKey, BaselineEntry>;
  treeId: string;
  /** Uploaded paths git cannot carry; the diff leaves them alone. */
  omitted: Omission[];
  skipped: Skipped[];
  /** Removes the store directory. */
  dispose(): Promise<void>;
}

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Indexes the uploaded tree: every path's git mode and blob id, in one hashing pass over the
 * re-packed upload tar, which is kept in `storeDir` (a hard link when `source` is a path on the
 * same filesystem, else a copy) as the store of the baseline's bytes, so nothing is copied or
 * compressed up front; the diff later stores only the baseline blobs that changed. `null` is an
 * empty workspace. `storeDir` is created and owned by the index: call `dispose()`.
 */
export async function indexBaseline(source: string | Readable | null, storeDir: string, opts: { signal?: AbortSignal } = {}): Promise<BaselineIndex> {
  const { signal } = opts;
  await mkdir(storeDir, { recursive: true, mode: 0o700 });
  const dispose = () => rm(storeDir, { recursive: true, force: true });
  try {
    const store = await ObjectStore.create(storeDir, signal);
    const tarPath = source === null ? null : await keepTar(source, join(storeDir, 'baseline.tar'), signal);
    const scan = tarPath === null ? emptyScan() : await scanBaseline(tarPath, signal);
    const treeId = await writeTree(store, scan.entries);
    return { storeDir, store, tarPath, entries: scan.entries, treeId, omitted: scan.omitted, skipped: scan.skipped, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function keepTar(source: string | Readable, dest: string, signal?: AbortSignal): Promise<string> {
  if (typeof source !== 'string') {
    await pipeline(source, createWriteStream(dest, { mode: 0o600 }), { signal });
    return dest;
  }
  try {
    await link(source, dest);
  } catch {
    await copyFile(source, dest);
  }
  return dest;
}

interface BaselineScan {
  entries: Map<PathKey, BaselineEntry>;
  omitted: Omission[];
  skipped: Skipped[];
}

function emptyScan(): BaselineScan {
  return { entries: new Map(), omitted: [], skipped: [] };
}

async function scanBaseline(tarPath: string, signal?: AbortSignal): Promise<BaselineScan> {
  const scan = emptyScan();
  const { entries } = scan;
  const dirs = new Set<PathKey>();
  const reader = new TarReader(createReadStream(tarPath, { highWaterMark: READ_CHUNK_BYTES, signal }));
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    signal?.throwIfAborted();
    const where = classifyPath(entry.path, '', entry.type === 'symlink');
    if (where === null) throw new TreeDiffError('bad_tar', `the baseline tar names ${JSON.stringify(displayPath(entry.path.toString('latin1')))}`);
    if (where.kind === 'root' || where.kind === 'git_dir') continue;
    const { key } = where;
    if (where.kind === 'unrepresentable') {
      if (entry.type !== 'directory') scan.omitted.push({ path: displayPath(key), reason: 'unrepresentable' });
      continue;
    }
    if (entry.type === 'directory') {
      // A later entry replaces an earlier one, as extraction would.
      entries.delete(key);
      dirs.add(key);
      continue;
    }
    if (dirs.delete(key)) dropBelow(entries, key);
    for (const parent of parentKeys(key)) entries.delete(parent);
    if (entry.type === 'file') {
      const hash = blobHasher(entry.size);
      for await (const chunk of reader.body()) hash.update(chunk);
      entries.set(key, { mode: fileMode(entry.mode), id: hash.digest('hex'), size: entry.size, offset: entry.offset, link: null });
    } else if (entry.type === 'symlink') {
      const target = entry.linkPath ?? Buffer.alloc(0);
      entries.set(key, { mode: '120000', id: blobId(target), size: target.length, offset: null, link: target });
    } else if (entry.type === 'link') {
      const target = entry.linkPath && classifyPath(entry.linkPath, '', false);
      const linked = target && target.kind === 'tracked' ? entries.get(target.key) : undefined;
      if (linked) entries.set(key, linked);
      else scan.omitted.push({ path: displayPath(key), reason: 'link_target_missing' });
    } else {
      scan.skipped.push({ path: displayPath(key), kind: entry.type === 'other' ? `typeflag ${JSON.stringify(entry.typeflag)}` : entry.type });
    }
  }
  return scan;
}

/** Removes every entry under the directory `key` (a file replaced it). */
export function dropBelow(entries: Map<PathKey, unknown>, key: PathKey): void {
  const prefix = `${key}/`;
  for (const other of entries.keys()) if (other.startsWith(prefix)) entries.delete(other);
}
