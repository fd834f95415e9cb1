import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TarReader, type TarEntry } from '../tree-diff/tar-reader.js';
import { bytesOf, displayPath, keyOf, type PathKey } from '../tree-diff/tree-path.js';
import { END_OF_ARCHIVE, padding, rawEntryHeader, type RawTarEntry } from './raw-tar-header.js';

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
export async function exportWorkspace(
  dockerTar: Readable,
  destPath: string,
  opts: ExportOptions,
): Promise<ExportResult> {
  const partialPath = `${destPath}.partial`;
  const prefix = keyOf(Buffer.from(opts.stripPrefix.endsWith('/') ? opts.stripPrefix : `${opts.stripPrefix}/`));
  const result: ExportResult = { entries: 0, bytes: 0, leftOut: [], truncated: false };
  // The reader waits on Docker's stream: destroying it is what ends a read that a failed write
  // or an abort has made pointless, so the pipeline can settle instead of waiting for bytes.
  // (Not through the pipeline's signal: that would report the abort instead of the write error.)
  const stopReading = () => dockerTar.destroy();
  opts.signal?.addEventListener('abort', stopReading, { once: true });
  // Stored uncompressed: gzip -1 runs at ~35 MB/s on random bytes here, which would put 6 s on a
  // 200 MB run's end. It is compressed when (and if) it is downloaded.
  const out = createWriteStream(partialPath, { mode: 0o600 });
  out.on('error', stopReading);
  const tar = Readable.from(batched(repack(new TarReader(dockerTar), prefix, result, opts.maxBytes ?? Infinity)));
  try {
    await pipeline(tar, out, { signal: opts.signal });
    for (const raw of (await opts.leftOut) ?? []) {
      const name = stripPrefix(raw, prefix, false);
      if (name !== null) result.leftOut.push({ path: name.toString('utf8'), reason: 'over_workspace_cap' });
    }
    await rename(partialPath, destPath);
    return result;
  } catch (error) {
    await rm(partialPath, { force: true });
    throw opts.signal?.aborted ? opts.signal.reason : error;
  } finally {
    opts.signal?.removeEventListener('abort', stopReading);
    dockerTar.destroy();
  }
}

async function* repack(reader: TarReader, prefix: PathKey, result: ExportResult, maxBytes: number): AsyncGenerator<Buffer> {
  // What was left out by type, by name: a hard link to one of them (`ln fifo fifo2`, which the tar
  // writes as a link to the first name) is left out too, or the tarball would not extract.
  const droppedTypes = new Map<PathKey, LeftOut['reason']>();
  for (let entry = await reader.next(); entry !== null; entry = await reader.next()) {
    const name = stripPrefix(entry.path, prefix);
    if (name === null) continue;
    // Only Codex could have made a FIFO or device in the sandbox; a client has no use for one.
    if (!KEPT_TYPES.has(entry.type)) {
      const reason = leftOutReason(entry.type);
      result.leftOut.push({ path: name.toString('utf8'), reason });
      droppedTypes.set(keyOf(name), reason);
      continue;
    }
    if (entry.type === 'file' && result.bytes + entry.size > maxBytes) {
      result.leftOut.push({ path: name.toString('utf8'), reason: 'over_workspace_cap' });
      result.truncated = true;
      break;
    }
    let linkPath = entry.linkPath;
    if (entry.type === 'link' && linkPath !== null) {
      linkPath = stripPrefix(linkPath, prefix, false) ?? linkPath;
      const targetReason = droppedTypes.get(keyOf(linkPath));
      if (targetReason) {
        result.leftOut.push({ path: name.toString('utf8'), reason: targetReason });
        droppedTypes.set(keyOf(name), targetReason);
        continue;
      }
    }
    const out: RawTarEntry = { ...entry, type: entry.type as RawTarEntry['type'], path: name, linkPath };
    result.entries += 1;
    yield rawEntryHeader(out);
    if (entry.type !== 'file') continue;
    result.bytes += entry.size;
    yield* reader.body();
    yield padding(entry.size);
  }
  yield END_OF_ARCHIVE;
}

/** A MiB of the repacked tar per write: a small file is three pieces (header, body, padding), and each write is a round trip to the disk's thread. */
const WRITE_BATCH_BYTES = 1024 * 1024;

async function* batched(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let bytes = 0;
  for await (const piece of pieces) {
    batch.push(piece);
    bytes += piece.length;
    if (bytes >= WRITE_BATCH_BYTES) {
      yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes);
      batch = [];
      bytes = 0;
    }
  }
  if (bytes) yield Buffer.concat(batch, bytes);
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
