import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { feedTar, type TarBody, type TarConsumer } from '../tree-diff/tar-consumers.js';
import { TarReader, type TarEntry } from '../tree-diff/tar-reader.js';
import { bytesOf, displayPath, keyOf, type PathKey } from '../tree-diff/tree-path.js';
import type { RawTarEntry } from './raw-tar-header.js';
import { TarFileWriter } from './tar-file-writer.js';

export interface ExportOptions {
  /** The directory name Docker's getArchive puts in front of every entry, e.g. `workspace/`. */
  stripPrefix: string;
  /**
   * Cap on the files' apparent bytes (the workspace cap). A file that would pass it (a sparse
   * `truncate -s 50G`, which the tmpfs holds in no blocks) is left out and reading stops there:
   * the export holds what came before it.
   */
  maxBytes?: number;
  /** Names (as in the tar) the source left out for passing the cap; settles once the tar has ended. */
  leftOut?: Promise<Buffer[]>;
  signal?: AbortSignal;
}

export interface LeftOut {
  /** Shown as UTF-8, with U+FFFD for bytes that are not (the export itself keeps the bytes). */
  path: string;
  /** `unrepresentable` and `link_target_missing`: what git cannot carry, from the diff's side. */
  reason: 'over_workspace_cap' | 'fifo' | 'character-device' | 'block-device' | 'unknown_type' | 'unrepresentable' | 'link_target_missing';
}

export interface ExportResult {
  entries: number;
  bytes: number;
  /** Entries not in the export, and why. */
  leftOut: LeftOut[];
  /** Reading stopped at a file over the cap (the last of `leftOut`): later entries are missing too. */
  truncated: boolean;
}

const KEPT_TYPES = new Set<TarEntry['type']>(['file', 'directory', 'symlink', 'link']);

/**
 * Re-packs the tar Docker returns for the workspace directory as a tar of its contents,
 * streaming, into `destPath`. Names and link targets are copied as bytes, so one that is not
 * UTF-8 still names its file. Written under `destPath.partial` and renamed at the end so a
 * reader never sees half a file; the partial file is removed on failure.
 */
export async function exportWorkspace(dockerTar: Readable, destPath: string, opts: ExportOptions): Promise<ExportResult> {
  // The reader waits on Docker's stream: destroying it is what ends a read that an abort has made pointless.
  const stopReading = () => dockerTar.destroy();
  opts.signal?.addEventListener('abort', stopReading, { once: true });
  const exporter = new WorkspaceExport(destPath, opts);
  try {
    const [fed] = await feedTar(new TarReader(dockerTar), [{ consumer: exporter, essential: true }]);
    if (!fed!.ok) throw fed!.error;
    return await exporter.finish((await opts.leftOut) ?? []);
  } catch (error) {
    await exporter.discard();
    throw opts.signal?.aborted ? opts.signal.reason : error;
  } finally {
    opts.signal?.removeEventListener('abort', stopReading);
    dockerTar.destroy();
  }
}

/**
 * The export as a consumer of a tar parsed once for several (`feedTar`): then `finish()` to keep
 * it, or `discard()`.
 */
export class WorkspaceExport implements TarConsumer {
  readonly result: ExportResult = { entries: 0, bytes: 0, leftOut: [], truncated: false };
  private readonly partialPath: string;
  private readonly prefix: PathKey;
  private readonly maxBytes: number;
  // Stored uncompressed: gzip -1 runs at ~35 MB/s on random bytes here, which would put 6 s on a
  // 200 MB run's end. It is compressed when (and if) it is downloaded.
  private readonly out: TarFileWriter;
  // What was left out by type, by name: a hard link to one of them (`ln fifo fifo2`, which the tar
  // writes as a link to the first name) is left out too, or the tarball would not extract.
  private readonly droppedTypes = new Map<PathKey, LeftOut['reason']>();

  constructor(
    private readonly destPath: string,
    opts: Pick<ExportOptions, 'stripPrefix' | 'maxBytes' | 'signal'>,
  ) {
    this.partialPath = `${destPath}.partial`;
    this.prefix = keyOf(Buffer.from(opts.stripPrefix.endsWith('/') ? opts.stripPrefix : `${opts.stripPrefix}/`));
    this.maxBytes = opts.maxBytes ?? Infinity;
    this.out = new TarFileWriter(this.partialPath, opts.signal);
  }

  async entry(entry: TarEntry): Promise<TarBody | null | 'stop'> {
    const { result } = this;
    const name = stripPrefix(entry.path, this.prefix);
    if (name === null) return null;
    // Only Codex could have made a FIFO or device in the sandbox; a client has no use for one.
    if (!KEPT_TYPES.has(entry.type)) {
      const reason = leftOutReason(entry.type);
      result.leftOut.push({ path: name.toString('utf8'), reason });
      this.droppedTypes.set(keyOf(name), reason);
      return null;
    }
    if (entry.type === 'file' && result.bytes + entry.size > this.maxBytes) {
      result.leftOut.push({ path: name.toString('utf8'), reason: 'over_workspace_cap' });
      result.truncated = true;
      return 'stop';
    }
    let linkPath = entry.linkPath;
    if (entry.type === 'link' && linkPath !== null) {
      linkPath = stripPrefix(linkPath, this.prefix, false) ?? linkPath;
      const targetReason = this.droppedTypes.get(keyOf(linkPath));
      if (targetReason) {
        result.leftOut.push({ path: name.toString('utf8'), reason: targetReason });
        this.droppedTypes.set(keyOf(name), targetReason);
        return null;
      }
    }
    result.entries += 1;
    await this.out.entry({ ...entry, type: entry.type as RawTarEntry['type'], path: name, linkPath });
    if (entry.type !== 'file') return null;
    result.bytes += entry.size;
    const { out } = this;
    return { write: (chunk) => out.body(chunk), end: () => out.endBody(entry.size) };
  }

  /** Ends the tar and puts it in place; `leftOut` names what the source left out for passing the cap. */
  async finish(leftOut: Buffer[]): Promise<ExportResult> {
    await this.out.finish();
    for (const raw of leftOut) {
      const name = stripPrefix(raw, this.prefix, false);
      if (name !== null) this.result.leftOut.push({ path: name.toString('utf8'), reason: 'over_workspace_cap' });
    }
    await rename(this.partialPath, this.destPath);
    return this.result;
  }

  async discard(): Promise<void> {
    await this.out.destroy();
    await rm(this.partialPath, { force: true });
  }
}

function leftOutReason(type: TarEntry['type']): LeftOut['reason'] {
  if (type === 'fifo' || type === 'character-device' || type === 'block-device') return type;
  // Docker's tar writer skips sockets; other typeflags have no name here.
  return 'unknown_type';
}

/** `workspace/a/b` → `a/b`; null for the root entry itself, or (if not `strict`) outside the prefix. */
function stripPrefix(raw: Buffer, prefix: PathKey, strict = true): Buffer | null {
  const name = keyOf(raw);
  if (name === prefix || `${name}/` === prefix) return null;
  if (!name.startsWith(prefix)) {
    if (!strict) return null;
    throw new Error(`docker archive entry ${JSON.stringify(displayPath(name))} is outside ${JSON.stringify(displayPath(prefix))}`);
  }
  return bytesOf(name.slice(prefix.length));
}
