import { createReadStream } from 'node:fs';
import type { Hash } from 'node:crypto';
import { blobHasher, blobId } from './object-store.js';
import { fileMode } from './tree-writer.js';
import { TarReader, type TarEntry } from './tar-reader.js';
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

/** What the scan reads of an entry of the stored tar; `offset` is where a file's body starts in it. */
export type ScannedEntry = Pick<TarEntry, 'path' | 'type' | 'typeflag' | 'mode' | 'size' | 'offset' | 'linkPath'>;

/** A file's body on its way into the scan: every chunk in order, then `end()`. */
export interface ScannedBody {
  update(chunk: Buffer): void;
  end(): void;
}

/**
 * The scan of a tar fed entry by entry, in the order the tar holds them: by the scan of a stored
 * file (`scanBaseline`), or by the spooler as it writes the upload, so no second pass is needed.
 */
export class BaselineScanner {
  readonly scan = emptyScan();
  private readonly dirs = new Set<PathKey>();

  /** Takes the next entry; for a file the diff tracks, the body it needs before the next entry. */
  add(entry: ScannedEntry): ScannedBody | null {
    const { entries } = this.scan;
    const where = classifyPath(entry.path, '', entry.type === 'symlink');
    if (where === null) throw new TreeDiffError('bad_tar', `the baseline tar names ${JSON.stringify(displayPath(entry.path.toString('latin1')))}`);
    if (where.kind === 'root' || where.kind === 'git_dir') return null;
    const { key } = where;
    if (where.kind === 'unrepresentable') {
      if (entry.type !== 'directory') this.scan.omitted.push({ path: displayPath(key), reason: 'unrepresentable' });
      return null;
    }
    if (entry.type === 'directory') {
      // A later entry replaces an earlier one, as extraction would.
      entries.delete(key);
      this.dirs.add(key);
      return null;
    }
    if (this.dirs.delete(key)) dropBelow(entries, key);
    for (const parent of parentKeys(key)) entries.delete(parent);
    if (entry.type === 'file') return fileBody(entries, key, entry);
    if (entry.type === 'symlink') {
      const target = entry.linkPath ?? Buffer.alloc(0);
      entries.set(key, { mode: '120000', id: blobId(target), size: target.length, offset: null, link: target });
    } else if (entry.type === 'link') {
      const target = entry.linkPath && classifyPath(entry.linkPath, '', false);
      const linked = target && target.kind === 'tracked' ? entries.get(target.key) : undefined;
      if (linked) entries.set(key, linked);
      else this.scan.omitted.push({ path: displayPath(key), reason: 'link_target_missing' });
    } else {
      this.scan.skipped.push({ path: displayPath(key), kind: entry.type === 'other' ? `typeflag ${JSON.stringify(entry.typeflag)}` : entry.type });
    }
    return null;
  }
}

function fileBody(entries: Map<PathKey, BaselineEntry>, key: PathKey, entry: ScannedEntry): ScannedBody {
  const hash: Hash = blobHasher(entry.size);
  return {
    update: (chunk) => void hash.update(chunk),
    end: () => void entries.set(key, { mode: fileMode(entry.mode), id: hash.digest('hex'), size: entry.size, offset: entry.offset, link: null }),
  };
}

export async function scanBaseline(tarPath: string, signal?: AbortSignal): Promise<BaselineScan> {
  const scanner = new BaselineScanner();
  const reader = new TarReader(createReadStream(tarPath, { highWaterMark: READ_CHUNK_BYTES, signal }));
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    signal?.throwIfAborted();
    const body = scanner.add(entry);
    if (body === null) continue;
    for await (const chunk of reader.body()) body.update(chunk);
    body.end();
  }
  return scanner.scan;
}

/** Removes every entry under the directory `key` (a file replaced it). */
export function dropBelow(entries: Map<PathKey, unknown>, key: PathKey): void {
  const prefix = `${key}/`;
  for (const other of entries.keys()) if (other.startsWith(prefix)) entries.delete(other);
}
