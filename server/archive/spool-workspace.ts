import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BaselineScanner, type BaselineScan } from '../tree-diff/baseline-scan.js';
import { TarFormatError, TarReader, type TarEntry, type TarEntryType } from '../tree-diff/tar-reader.js';
import { TreeDiffError } from '../tree-diff/tree-diff-error.js';
import { byteCap } from './byte-cap.js';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';
import { GunzipMembers } from './gunzip-members.js';
import { COMPRESSION_HEAD_BYTES, isGzipHead, otherCompression, peekStream } from './peek-stream.js';
import type { RawTarEntry } from './raw-tar-header.js';
import { TarFileWriter } from './tar-file-writer.js';
import {
  WorkspacePolicy,
  type EntryHeader,
  type PackHeader,
  type WorkspaceLimits,
} from './workspace-policy.js';
import { quoteEntry, WorkspaceRejectedError } from './workspace-rejected-error.js';

export type { WorkspaceLimits } from './workspace-policy.js';
export { WorkspaceRejectedError } from './workspace-rejected-error.js';

export interface SpoolResult {
  entries: number;
  bytes: number;
  /** The spooled tar's index for the server-side diff, made as it was written. */
  scan: BaselineScan;
}

/** Told of the spooled tar as it is written (a sandbox taking it meanwhile): how much of it the file holds, then that it is whole, or that it never will be. */
export interface WorkspaceCopy {
  grew(path: string, bytes: number): void;
  end(): void;
  fail(): void;
}

export interface SpoolOptions {
  uid?: number;
  gid?: number;
  signal?: AbortSignal;
  copy?: WorkspaceCopy;
}

type Stage = 'input' | 'parse' | 'output';

/**
 * Streams an uploaded `.tar` / `.tar.gz` into a clean plain tar at `destPath`, refusing
 * anything that could write outside the workspace or exceed `limits`. On any failure the
 * streams are destroyed, `destPath` is removed and the first error is thrown.
 */
export async function spoolWorkspace(
  input: Readable,
  destPath: string,
  limits: WorkspaceLimits,
  opts: SpoolOptions = {},
): Promise<SpoolResult> {
  const policy = new WorkspacePolicy(limits, {
    uid: opts.uid ?? DEFAULT_SANDBOX_IDS.uid,
    gid: opts.gid ?? DEFAULT_SANDBOX_IDS.gid,
  });
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;

  // The stage that failed first tells a corrupt upload apart from a dropped connection or a full disk.
  let origin: { stage: Stage; error: unknown } | undefined;
  const failed = (stage: Stage) => (error: unknown) => {
    origin ??= { stage, error };
    stop.abort(error);
  };

  let writer: TarFileWriter | undefined;
  let read: Promise<void> | undefined;
  try {
    input.on('error', failed('input'));
    const { head, rest } = await peekStream(input, COMPRESSION_HEAD_BYTES, signal).catch((error: unknown) => {
      failed('input')(error);
      throw error;
    });
    rest.on('error', failed('input'));
    const compression = otherCompression(head);
    if (compression !== undefined) {
      throw new WorkspaceRejectedError('invalid', `the upload is ${compression}-compressed; send a plain .tar or a gzip-compressed .tar.gz`);
    }

    const compressedCap = byteCap(limits.maxCompressedBytes, () => compressedTooLarge(limits, policy));
    const gunzip = isGzipHead(head) ? new GunzipMembers() : undefined;
    // File sizes alone leave padding and headers free: a few MiB of gzip can inflate to gigabytes.
    const tarCap = byteCap(maxTarBytes(limits), () => tarTooLarge(limits, policy));
    compressedCap.on('error', failed('parse'));
    gunzip?.on('error', failed('parse'));
    tarCap.on('error', failed('parse'));

    const follower = opts.copy;
    const out = new TarFileWriter(destPath, signal, follower && ((bytes) => follower.grew(destPath, bytes)));
    writer = out;
    out.failed.catch(failed('output'));
    const scanner = new BaselineScanner();
    const copy = (source: AsyncIterable<Buffer>) => copyArchive(source, { policy, out, scanner });
    read = gunzip
      ? pipeline(rest, compressedCap, gunzip, tarCap, copy, { signal })
      : pipeline(rest, compressedCap, copy, { signal });
    read.catch(failed('parse'));

    await read;
    policy.finish();
    await out.finish();
    opts.copy?.end();
    return { entries: policy.entries, bytes: policy.bytes, scan: scanner.scan };
  } catch (error) {
    failed('parse')(error);
    opts.copy?.fail();
    input.destroy();
    await Promise.allSettled([read, writer?.destroy()]);
    await rm(destPath, { force: true });
    throw chooseError(origin ?? { stage: 'parse', error }, opts.signal);
  }
}

/** Reads the upload's entries through the policy into the spool and its scan; then reads what follows the archive, for nothing. */
async function copyArchive(source: AsyncIterable<Buffer>, ctx: CopyContext): Promise<void> {
  const reader = new TarReader(source);
  try {
    for (let entry = await reader.next(); entry !== null; entry = await reader.next()) await copyEntry(ctx, reader, entry);
  } catch (error) {
    throw error instanceof TreeDiffError ? notTar(error) : error;
  }
  // GNU tar reads no further than the end of the archive (its first zero block): what follows is
  // ignored, yet still read so that the form goes on, and still counted towards the caps.
  await reader.drain();
}

interface CopyContext {
  policy: WorkspacePolicy;
  out: TarFileWriter;
  scanner: BaselineScanner;
}

async function copyEntry({ policy, out, scanner }: CopyContext, reader: TarReader, entry: TarEntry): Promise<void> {
  const header = policyHeader(entry);
  const admitted = policy.admit(header);
  if (admitted === null) return;
  for (const parent of policy.impliedParents(header.mtime)) await writeEntry(out, scanner, rawEntry(parent));
  // An unread body is skipped by next().
  const raw = rawEntry(admitted);
  const body = await writeEntry(out, scanner, raw);
  if (raw.type !== 'file') return;
  for await (const chunk of reader.body()) {
    body?.update(chunk);
    await out.body(chunk);
  }
  body?.end();
  await out.endBody(raw.size);
}

/** Writes the header and shows the entry to the scan, which answers whether it wants the body. */
async function writeEntry(out: TarFileWriter, scanner: BaselineScanner, raw: RawTarEntry) {
  const offset = await out.entry(raw);
  return scanner.add({ ...raw, typeflag: '', offset });
}

/** The policy's header as bytes: its names are UTF-8 (the policy refuses others). */
function rawEntry(header: PackHeader): RawTarEntry {
  const type = header.type as RawTarEntry['type'];
  return {
    path: Buffer.from(header.name),
    type,
    mode: header.mode ?? 0,
    mtimeS: Math.floor((header.mtime ?? new Date()).getTime() / 1000),
    uid: header.uid ?? 0,
    gid: header.gid ?? 0,
    uname: Buffer.from(header.uname ?? ''),
    gname: Buffer.from(header.gname ?? ''),
    size: type === 'file' ? (header.size ?? 0) : 0,
    linkPath: header.linkname === undefined || header.linkname === null ? null : Buffer.from(header.linkname),
  };
}

const POLICY_TYPES: Record<TarEntryType, EntryHeader['type']> = {
  file: 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'link',
  fifo: 'fifo',
  'character-device': 'character-device',
  'block-device': 'block-device',
  other: null,
};

/** The entry as the policy reads it. Names that are not UTF-8 decode with U+FFFD, which the policy refuses. */
function policyHeader(entry: TarEntry): EntryHeader & { mtime: Date } {
  return {
    name: entry.path.toString('utf8'),
    type: POLICY_TYPES[entry.type],
    mode: entry.mode,
    size: entry.size,
    linkname: entry.linkPath?.toString('utf8'),
    mtime: new Date(entry.mtimeS * 1000),
  };
}

function notTar(error: TreeDiffError): WorkspaceRejectedError {
  const entry = error instanceof TarFormatError && error.entry !== null ? error.entry.toString('utf8') : undefined;
  let detail = error.message;
  if (error instanceof TarFormatError && error.problem === 'truncated') {
    detail = entry === undefined ? 'Unexpected end of data' : `Unexpected end of data in entry ${quoteEntry(entry)}`;
  } else if (error instanceof TarFormatError && error.problem === 'checksum') {
    detail = `Invalid tar header (${error.message})`;
  }
  return new WorkspaceRejectedError('invalid', `the upload is not a valid tar or tar.gz archive: ${detail}`, entry);
}

function compressedTooLarge(limits: WorkspaceLimits, policy: WorkspacePolicy): WorkspaceRejectedError {
  const cap = `the compressed upload cap of ${limits.maxCompressedBytes} bytes`;
  const entry = policy.lastEntry;
  return entry === undefined
    ? new WorkspaceRejectedError('too_large', `the upload exceeds ${cap}`)
    : new WorkspaceRejectedError('too_large', `entry ${quoteEntry(entry)} exceeds ${cap}`, entry);
}

/**
 * The most tar bytes a workspace within its caps needs: twice its content (room for tar's 512-byte
 * blocks and padding) plus headers (a PAX record for a long name) for every entry.
 */
export function maxTarBytes(limits: Pick<WorkspaceLimits, 'maxBytes' | 'maxEntries'>): number {
  return 2 * limits.maxBytes + TAR_HEADER_ALLOWANCE_BYTES * limits.maxEntries;
}

const TAR_HEADER_ALLOWANCE_BYTES = 8 * 1024;

function tarTooLarge(limits: WorkspaceLimits, policy: WorkspacePolicy): WorkspaceRejectedError {
  const cap = `${maxTarBytes(limits)} bytes of tar once decompressed (twice the workspace cap plus headers)`;
  const entry = policy.lastEntry;
  return entry === undefined
    ? new WorkspaceRejectedError('too_large', `the upload inflates past ${cap}`)
    : new WorkspaceRejectedError('too_large', `entry ${quoteEntry(entry)} inflates past ${cap}`, entry);
}

function chooseError(origin: { stage: Stage; error: unknown }, signal?: AbortSignal): unknown {
  const { stage, error } = origin;
  if (error instanceof WorkspaceRejectedError) return error;
  if (signal?.aborted) return signal.reason;
  if (stage === 'parse') {
    const detail = error instanceof Error ? error.message : String(error);
    return new WorkspaceRejectedError('invalid', `the upload is not a valid tar or tar.gz archive: ${detail}`);
  }
  return error;
}
