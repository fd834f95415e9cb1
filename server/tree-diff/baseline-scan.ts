import { createReadStream } from 'node:fs';
import { blobHasher, blobId } from './object-store.js';
import { fileMode } from './tree-writer.js';
import { TarReader } from './tar-reader.js';
import { classifyPath, displayPath, parentKeys, type PathKey } from './tree-path.js';
import { TreeDiffError } from './tree-diff-error.js';
import type { BaselineEntry, Omission, Skipped } from './baseline-index.js';

const READ_CHUNK_BYTES = 1024 * 1024;

/** Every uploaded path's git mode and blob id, from one pass over the stored tar. */
export interface BaselineScan {
  entries: Map<PathKey, BaselineEntry>;
  omitted: Omission[];
  skipped: Skipped[];
}

export function emptyScan(): BaselineScan {
  return { entries: new Map(), omitted: [], skipped: [] };
}

export async function scanBaseline(tarPath: string, signal?: AbortSignal): Promise<BaselineScan> {
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
