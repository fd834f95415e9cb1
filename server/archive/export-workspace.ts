import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zlib, createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { drainEntry } from './drain-entry.js';

export interface ExportOptions {
  /** The directory name Docker's getArchive puts in front of every entry, e.g. `workspace/`. */
  stripPrefix: string;
  /**
   * Cap on the files' apparent bytes (the workspace cap). A file that would pass it (a sparse
   * `truncate -s 50G`, which the tmpfs holds in no blocks) is left out and reading stops there:
   * the export holds what came before it.
   */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface LeftOut {
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

/** Thrown through the extract to stop reading at the cap; not a failure. */
class StopAtCap extends Error {}

type PackHeader = Parameters<tar.Pack['entry']>[0];
type EntryHeader = tar.ExtractEvents['entry'][0];
type EntryBody = tar.ExtractEvents['entry'][1];

const KEPT_TYPES = new Set(['file', 'directory', 'symlink', 'link']);

/**
 * Re-packs the tar Docker returns for the workspace directory as a `.tar.gz` of its contents,
 * streaming, into `destPath`. Written under `destPath.partial` and renamed at the end so a
 * reader never sees half a file; the partial file is removed on failure.
 */
export async function exportWorkspace(
  dockerTar: Readable,
  destPath: string,
  opts: ExportOptions,
): Promise<ExportResult> {
  const partialPath = `${destPath}.partial`;
  const prefix = opts.stripPrefix.endsWith('/') ? opts.stripPrefix : `${opts.stripPrefix}/`;
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  const extract = tar.extract();
  const pack = tar.pack();
  const result: ExportResult = { entries: 0, bytes: 0, leftOut: [], truncated: false };
  const maxBytes = opts.maxBytes ?? Infinity;

  extract.on('entry', (header, body, next) => {
    // Destroying the extract errors the current body too; the extract reports that failure.
    body.on('error', () => {});
    copyEntry(header, body, pack, prefix, result, maxBytes).then(() => next(), next);
  });

  // Whichever side fails first must take the other down, or it would wait forever; its error
  // is the one worth reporting, not the abort it caused on the other side.
  let firstError: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    firstError ??= { error };
    stop.abort(error);
  };
  // Fastest level: measured 5 s for 200 MB at the default level on these machines, for little gain.
  const written = pipeline(pack, createGzip({ level: zlib.Z_BEST_SPEED }), createWriteStream(partialPath, { mode: 0o600 }), { signal });
  const read = pipeline(dockerTar, extract, { signal });
  written.catch(fail);
  read.catch((error: unknown) => (error instanceof StopAtCap ? undefined : fail(error)));
  try {
    await read.catch((error: unknown) => {
      if (!(error instanceof StopAtCap)) throw error;
      dockerTar.destroy();
    });
    pack.finalize();
    await written;
    await rename(partialPath, destPath);
    return result;
  } catch (error) {
    fail(error);
    dockerTar.destroy();
    pack.destroy();
    await Promise.allSettled([read, written]);
    await rm(partialPath, { force: true });
    throw opts.signal?.aborted ? opts.signal.reason : (firstError?.error ?? error);
  }
}

async function copyEntry(
  header: EntryHeader,
  body: EntryBody,
  pack: tar.Pack,
  prefix: string,
  result: ExportResult,
  maxBytes: number,
): Promise<void> {
  const name = stripPrefix(header.name, prefix);
  if (name === null) return drainEntry(header, body);
  // Only Codex could have made a FIFO or device in the sandbox; a client has no use for one.
  if (!KEPT_TYPES.has(header.type)) {
    result.leftOut.push({ path: name, reason: leftOutReason(header.type) });
    return drainEntry(header, body);
  }
  if (header.type === 'file' && result.bytes + (header.size ?? 0) > maxBytes) {
    result.leftOut.push({ path: name, reason: 'over_workspace_cap' });
    result.truncated = true;
    throw new StopAtCap();
  }
  const out: PackHeader = {
    name,
    type: header.type,
    mode: header.mode,
    mtime: header.mtime,
    uid: header.uid,
    gid: header.gid,
    uname: header.uname,
    gname: header.gname,
    size: header.type === 'file' ? header.size : 0,
  };
  if (header.type === 'symlink') out.linkname = header.linkname;
  if (header.type === 'link') out.linkname = stripPrefix(header.linkname, prefix) ?? header.linkname;
  result.entries += 1;
  if (header.type !== 'file') {
    pack.entry(out);
    await drainEntry(header, body);
    return;
  }
  result.bytes += header.size;
  await pipeline(body, pack.entry(out));
}

function leftOutReason(type: string | null | undefined): LeftOut['reason'] {
  if (type === 'fifo' || type === 'character-device' || type === 'block-device') return type;
  // Docker's tar writer skips sockets; tar-stream has no name for other typeflags.
  return 'unknown_type';
}

/** `workspace/a/b` → `a/b`; null for the root entry itself. */
function stripPrefix(name: string, prefix: string): string | null {
  if (name === prefix || `${name}/` === prefix) return null;
  if (!name.startsWith(prefix)) {
    throw new Error(`docker archive entry ${JSON.stringify(name)} is outside ${JSON.stringify(prefix)}`);
  }
  return name.slice(prefix.length);
}
