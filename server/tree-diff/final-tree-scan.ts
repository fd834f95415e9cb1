import type { Readable } from 'node:stream';
import { dropBelow, type BaselineEntry, type BaselineIndex, type Omission, type Skipped } from './baseline-index.js';
import { BaselineBytes } from './baseline-bytes.js';
import { blobId, type BlobWriter } from './object-store.js';
import { TarReader, type TarEntry } from './tar-reader.js';
import { fileMode, type TreeEntry } from './tree-writer.js';
import { classifyPath, displayPath, parentKeys, walkCompare, type PathKey } from './tree-path.js';
import { TreeDiffError } from './tree-diff-error.js';

export interface FinalEntry extends TreeEntry {
  /** Set when the content was found equal to this baseline entry's and so was not stored. */
  sameAs: BaselineEntry | null;
}

export interface FinalScan {
  entries: Map<PathKey, FinalEntry>;
  dirs: Set<PathKey>;
  /** Paths whose final state is unknown: the diff leaves their baseline alone. */
  omittedKeys: Set<PathKey>;
  omitted: Omission[];
  skipped: Skipped[];
  /** Reading stopped at a cap: entries after the cut are unknown. */
  truncated: boolean;
  /**
   * The entry reading stopped at, when every entry before it came in walk order: then every
   * path that sorts before it was seen if it exists, so a baseline path there that was not
   * seen is deleted. Null when not truncated or the stream was not in walk order.
   */
  cutAt: PathKey | null;
  bytesRead: number;
}

export interface ScanOptions {
  stripPrefix: string;
  maxBytes: number;
  maxEntries: number;
  signal?: AbortSignal;
}

/**
 * One pass over the final tree's tar. A file at a path whose baseline has the same size is
 * compared with the baseline's bytes and stored only from the first difference on; any other
 * file is hashed while it is stored. Unchanged bytes are thus read and compared, never
 * hashed or written. The stream is destroyed when the scan ends, early or not.
 */
export async function scanFinalTree(baseline: BaselineIndex, tar: Readable, opts: ScanOptions): Promise<FinalScan> {
  const { signal } = opts;
  const prefix = opts.stripPrefix === '' || opts.stripPrefix.endsWith('/') ? opts.stripPrefix : `${opts.stripPrefix}/`;
  const scan: FinalScan = { entries: new Map(), dirs: new Set(), omittedKeys: new Set(), omitted: [], skipped: [], truncated: false, cutAt: null, bytesRead: 0 };
  const onAbort = () => tar.destroy(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const bytes = baseline.tarPath === null ? null : await BaselineBytes.open(baseline.tarPath);
  const reader = new TarReader(tar);
  const ctx = { baseline, reader, bytes };
  let count = 0;
  let previous: PathKey | null = null;
  let inWalkOrder = true;
  try {
    for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
      signal?.throwIfAborted();
      const where = classifyPath(entry.path, prefix, entry.type === 'symlink');
      if (where === null) throw new TreeDiffError('bad_tar', `the final tar names ${JSON.stringify(entry.path.toString('utf8'))}, outside ${JSON.stringify(prefix)}`);
      if (where.kind === 'root') continue;
      const { key } = where;
      const path = displayPath(key);
      if (previous !== null && walkCompare(previous, key) >= 0) inWalkOrder = false;
      previous = key;
      // Checked before reading: skipping a body still means reading it, and a sparse file's
      // apparent size (`truncate -s 50G`) is all zeros on the wire.
      const over = where.kind !== 'git_dir' && ++count > opts.maxEntries ? 'max_entries' : scan.bytesRead + entry.size > opts.maxBytes ? 'max_bytes' : null;
      if (over) {
        omit(scan, key, { path, reason: over });
        scan.truncated = true;
        scan.cutAt = inWalkOrder ? key : null;
        break;
      }
      scan.bytesRead += entry.size;
      if (where.kind === 'git_dir') continue;
      if (where.kind === 'unrepresentable') {
        // A directory carries nothing itself; what is in it is reported entry by entry.
        if (entry.type !== 'directory') omit(scan, key, { path, reason: 'unrepresentable' });
        continue;
      }
      if (entry.type === 'directory') {
        scan.entries.delete(key);
        scan.dirs.add(key);
        continue;
      }
      if (scan.dirs.delete(key)) dropBelow(scan.entries, key);
      for (const parent of parentKeys(key)) scan.entries.delete(parent);
      if (entry.type === 'file') {
        scan.entries.set(key, await storeFile(ctx, entry, key));
      } else if (entry.type === 'symlink') {
        const target = entry.linkPath ?? Buffer.alloc(0);
        const id = blobId(target);
        const base = baseline.entries.get(key);
        // An unchanged link's blob is never read; the baseline's copy serves if it ever is.
        if (base?.id === id) scan.entries.set(key, { mode: '120000', id, sameAs: base });
        else scan.entries.set(key, { mode: '120000', id: await baseline.store.writeObject('blob', target), sameAs: null });
      } else if (entry.type === 'link') {
        const target = entry.linkPath && classifyPath(entry.linkPath, prefix, false);
        const linked = target && target.kind === 'tracked' ? scan.entries.get(target.key) : undefined;
        if (linked) scan.entries.set(key, linked);
        else omit(scan, key, { path, reason: 'link_target_missing' });
      } else {
        scan.skipped.push({ path, kind: entry.type === 'other' ? `typeflag ${JSON.stringify(entry.typeflag)}` : entry.type });
      }
    }
    return scan;
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    tar.destroy();
    await bytes?.close();
  }
}

function omit(scan: FinalScan, key: PathKey, omission: Omission): void {
  scan.omitted.push(omission);
  scan.omittedKeys.add(key);
}

interface ScanContext {
  baseline: BaselineIndex;
  reader: TarReader;
  bytes: BaselineBytes | null;
}

async function storeFile(ctx: ScanContext, entry: TarEntry, key: PathKey): Promise<FinalEntry> {
  const mode = fileMode(entry.mode);
  const base = ctx.baseline.entries.get(key);
  const comparable = base && base.offset !== null && base.size === entry.size && ctx.bytes ? base : null;
  let writer: BlobWriter | null = comparable ? null : ctx.baseline.store.begin(entry.size);
  let same = 0;
  try {
    for await (const chunk of ctx.reader.body()) {
      if (writer) {
        await writer.write(chunk);
        continue;
      }
      const expected = await ctx.bytes!.read(comparable!.offset! + same, chunk.length, comparable!.offset! + comparable!.size);
      if (expected.equals(chunk)) {
        same += chunk.length;
        continue;
      }
      writer = ctx.baseline.store.begin(entry.size);
      await copyPrefix(ctx.bytes!, comparable!.offset!, same, writer);
      await writer.write(chunk);
    }
    if (!writer) return { mode, id: comparable!.id, sameAs: comparable };
    return { mode, id: await writer.finish(), sameAs: null };
  } finally {
    await writer?.abort();
  }
}

const COPY_CHUNK_BYTES = 1024 * 1024;

async function copyPrefix(bytes: BaselineBytes, start: number, length: number, writer: BlobWriter): Promise<void> {
  for (let at = 0; at < length; at += COPY_CHUNK_BYTES) {
    await writer.write(await bytes.read(start + at, Math.min(COPY_CHUNK_BYTES, length - at)));
  }
}
