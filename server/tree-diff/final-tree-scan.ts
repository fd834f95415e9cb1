import type { Readable } from 'node:stream';
import { dropBelow, type BaselineEntry, type BaselineIndex, type Omission, type Skipped } from './baseline-index.js';
import { BaselineBytes } from './baseline-bytes.js';
import { blobId, type BlobWriter } from './object-store.js';
import { TarReader, type TarEntry } from './tar-reader.js';
import { feedTar, type TarBody, type TarConsumer } from './tar-consumers.js';
import { fileMode, type GitMode, type TreeEntry } from './tree-writer.js';
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
  const onAbort = () => tar.destroy(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const scanner = await FinalTreeScanner.open(baseline, opts);
  try {
    const [fed] = await feedTar(new TarReader(tar), [{ consumer: scanner }]);
    if (!fed!.ok) throw fed!.error;
    return scanner.scan;
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    tar.destroy();
    await scanner.close();
  }
}

/** The scan as a consumer of a tar parsed once for several (`feedTar`); `close()` when done. */
export class FinalTreeScanner implements TarConsumer {
  readonly scan: FinalScan = { entries: new Map(), dirs: new Set(), omittedKeys: new Set(), omitted: [], skipped: [], truncated: false, cutAt: null, bytesRead: 0 };
  private readonly prefix: string;
  private count = 0;
  private previous: PathKey | null = null;
  private inWalkOrder = true;

  private constructor(
    private readonly baseline: BaselineIndex,
    private readonly bytes: BaselineBytes | null,
    private readonly opts: ScanOptions,
  ) {
    this.prefix = opts.stripPrefix === '' || opts.stripPrefix.endsWith('/') ? opts.stripPrefix : `${opts.stripPrefix}/`;
  }

  static async open(baseline: BaselineIndex, opts: ScanOptions): Promise<FinalTreeScanner> {
    return new FinalTreeScanner(baseline, baseline.tarPath === null ? null : await BaselineBytes.open(baseline.tarPath), opts);
  }

  async close(): Promise<void> {
    await this.bytes?.close();
  }

  async entry(entry: TarEntry): Promise<TarBody | null | 'stop'> {
    const { scan, baseline, prefix, opts } = this;
    opts.signal?.throwIfAborted();
    const where = classifyPath(entry.path, prefix, entry.type === 'symlink');
    if (where === null) throw new TreeDiffError('bad_tar', `the final tar names ${JSON.stringify(entry.path.toString('utf8'))}, outside ${JSON.stringify(prefix)}`);
    if (where.kind === 'root') return null;
    const { key } = where;
    const path = displayPath(key);
    if (this.previous !== null && walkCompare(this.previous, key) >= 0) this.inWalkOrder = false;
    this.previous = key;
    // Checked before reading: skipping a body still means reading it, and a sparse file's
    // apparent size (`truncate -s 50G`) is all zeros on the wire.
    const over = where.kind !== 'git_dir' && ++this.count > opts.maxEntries ? 'max_entries' : scan.bytesRead + entry.size > opts.maxBytes ? 'max_bytes' : null;
    if (over) {
      omit(scan, key, { path, reason: over });
      scan.truncated = true;
      scan.cutAt = this.inWalkOrder ? key : null;
      return 'stop';
    }
    scan.bytesRead += entry.size;
    if (where.kind === 'git_dir') return null;
    if (where.kind === 'unrepresentable') {
      // A directory carries nothing itself; what is in it is reported entry by entry.
      if (entry.type !== 'directory') omit(scan, key, { path, reason: 'unrepresentable' });
      return null;
    }
    if (entry.type === 'directory') {
      scan.entries.delete(key);
      scan.dirs.add(key);
      return null;
    }
    if (scan.dirs.delete(key)) dropBelow(scan.entries, key);
    for (const parent of parentKeys(key)) scan.entries.delete(parent);
    if (entry.type === 'file') return new StoredFile(baseline, this.bytes, entry, baseline.entries.get(key), (final) => void scan.entries.set(key, final));
    if (entry.type === 'symlink') {
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
    return null;
  }
}

function omit(scan: FinalScan, key: PathKey, omission: Omission): void {
  scan.omitted.push(omission);
  scan.omittedKeys.add(key);
}

/** A final file's body: compared with its baseline while it matches, stored from the first difference on. */
class StoredFile implements TarBody {
  private readonly mode: GitMode;
  private readonly comparable: BaselineEntry | null;
  private writer: BlobWriter | null;
  private same = 0;

  constructor(
    private readonly baseline: BaselineIndex,
    private readonly bytes: BaselineBytes | null,
    private readonly entry: TarEntry,
    base: BaselineEntry | undefined,
    private readonly done: (final: FinalEntry) => void,
  ) {
    this.mode = fileMode(entry.mode);
    this.comparable = base && base.offset !== null && base.size === entry.size && bytes ? base : null;
    this.writer = this.comparable ? null : baseline.store.begin(entry.size);
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.writer) return this.writer.write(chunk);
    const base = this.comparable!;
    const expected = await this.bytes!.read(base.offset! + this.same, chunk.length, base.offset! + base.size);
    if (expected.equals(chunk)) {
      this.same += chunk.length;
      return;
    }
    this.writer = this.baseline.store.begin(this.entry.size);
    await copyPrefix(this.bytes!, base.offset!, this.same, this.writer);
    await this.writer.write(chunk);
  }

  async end(): Promise<void> {
    const { writer } = this;
    if (!writer) return this.done({ mode: this.mode, id: this.comparable!.id, sameAs: this.comparable });
    this.writer = null;
    try {
      this.done({ mode: this.mode, id: await writer.finish(), sameAs: null });
    } finally {
      await writer.abort();
    }
  }

  async abort(): Promise<void> {
    await this.writer?.abort();
  }
}

const COPY_CHUNK_BYTES = 1024 * 1024;

async function copyPrefix(bytes: BaselineBytes, start: number, length: number, writer: BlobWriter): Promise<void> {
  for (let at = 0; at < length; at += COPY_CHUNK_BYTES) {
    // A copy: the writer may hold a chunk after write() resolves, and the window's memory is reused.
    await writer.write(Buffer.from(await bytes.read(start + at, Math.min(COPY_CHUNK_BYTES, length - at))));
  }
}
