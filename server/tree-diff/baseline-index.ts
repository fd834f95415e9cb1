import { createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectStore } from './object-store.js';
import { buildTree, type GitMode, type TreeObjects } from './tree-writer.js';
import type { PathKey } from './tree-path.js';
import { emptyScan, scanBaseline, type BaselineScan } from './baseline-scan.js';
import { scanInWorker } from './scan-in-worker.js';
import { readScanFile } from './scan-file.js';

export { dropBelow } from './baseline-scan.js';

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
  /** Its tree objects, in memory: a diff stores only those it reads (`treesForDiff`). */
  trees: TreeObjects;
  /** Uploaded paths git cannot carry; the diff leaves them alone. */
  omitted: Omission[];
  skipped: Skipped[];
  /** Removes the store directory. */
  dispose(): Promise<void>;
}

/**
 * From this size on the upload is scanned on a worker thread: hashing and parsing a big tree takes
 * seconds of the one JavaScript thread, which the upload into the sandbox, running at the same
 * time, needs too. Below it a worker's start (tens of ms) would cost more than it saves.
 */
const WORKER_MIN_BYTES = 16 * 1024 * 1024;

/**
 * Indexes the uploaded tree: every path's git mode and blob id, in one hashing pass over the
 * re-packed upload tar, which is kept in `storeDir` (a hard link when `source` is a path on the
 * same filesystem, else a copy) as the store of the baseline's bytes, so nothing is copied or
 * compressed up front; the diff later stores only the baseline blobs and trees that changed. `null` is an
 * empty workspace. `storeDir` is created and owned by the index: call `dispose()`. `scanFile` is
 * where the spooler kept its scan of `source` (`writeScanFile`): used when it is there and belongs
 * to that tar, so the tar is read once, not twice.
 */
export async function indexBaseline(source: string | Readable | null, storeDir: string, opts: { signal?: AbortSignal; scanFile?: string } = {}): Promise<BaselineIndex> {
  const { signal } = opts;
  await mkdir(storeDir, { recursive: true, mode: 0o700 });
  const dispose = () => rm(storeDir, { recursive: true, force: true });
  try {
    const store = await ObjectStore.create(storeDir, signal);
    const tarPath = source === null ? null : await keepTar(source, join(storeDir, 'baseline.tar'), signal);
    const kept = tarPath !== null && opts.scanFile ? await readScanFile(opts.scanFile, tarPath) : null;
    const scan = tarPath === null ? emptyScan() : (kept ?? (await scanStored(tarPath, signal)));
    const trees = buildTree(scan.entries);
    return { storeDir, store, tarPath, entries: scan.entries, treeId: trees.rootId, trees, omitted: scan.omitted, skipped: scan.skipped, dispose };
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

async function scanStored(tarPath: string, signal?: AbortSignal): Promise<BaselineScan> {
  const { size } = await stat(tarPath);
  return size >= WORKER_MIN_BYTES ? scanInWorker(tarPath, signal) : scanBaseline(tarPath, signal);
}
