import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { TarFormatError, TarReader, type TarEntry, type TarEntryType } from '../tree-diff/tar-reader.js';
import { TreeDiffError } from '../tree-diff/tree-diff-error.js';
import { byteCap } from './byte-cap.js';
import { DEFAULT_SANDBOX_IDS } from '../domain/sandbox-ids.js';
import { GunzipMembers } from './gunzip-members.js';
import { COMPRESSION_HEAD_BYTES, isGzipHead, otherCompression, peekStream } from './peek-stream.js';
import {
  WorkspacePolicy,
  type EntryHeader,
  type WorkspaceLimits,
} from './workspace-policy.js';
import { quoteEntry, WorkspaceRejectedError } from './workspace-rejected-error.js';

export type { WorkspaceLimits } from './workspace-policy.js';
export { WorkspaceRejectedError } from './workspace-rejected-error.js';

export interface SpoolResult {
  entries: number;
  bytes: number;
}

export interface SpoolOptions {
  uid?: number;
  gid?: number;
  signal?: AbortSignal;
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

  const pack = tar.pack();
  let written: Promise<void> | undefined;
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
    pack.on('error', failed('output'));

    const out = createWriteStream(destPath, { mode: 0o600 });
    out.on('error', failed('output'));
    written = pipeline(pack, out, { signal });
    written.catch(failed('output'));
    const copy = (source: AsyncIterable<Buffer>) => copyArchive(source, { policy, pack, signal });
    read = gunzip
      ? pipeline(rest, compressedCap, gunzip, tarCap, copy, { signal })
      : pipeline(rest, compressedCap, copy, { signal });
    read.catch(failed('parse'));

    await read;
    policy.finish();
    pack.finalize();
    await written;
    return { entries: policy.entries, bytes: policy.bytes };
  } catch (error) {
    failed('parse')(error);
    input.destroy();
    pack.destroy();
    await Promise.allSettled([read, written]);
    await rm(destPath, { force: true });
    throw chooseError(origin ?? { stage: 'parse', error }, opts.signal);
  }
}

/** Reads the upload's entries through the policy into `pack`; then reads what follows the archive, for nothing. */
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
  pack: tar.Pack;
  signal: AbortSignal;
}

async function copyEntry({ policy, pack, signal }: CopyContext, reader: TarReader, entry: TarEntry): Promise<void> {
  const header = policyHeader(entry);
  const admitted = policy.admit(header);
  if (admitted !== null) for (const parent of policy.impliedParents(header.mtime)) pack.entry(parent);
  // A header-only entry does not wait for the file to take it; what pack can queue this way is
  // bounded by maxEntries headers, and file bodies do wait. An unread body is skipped by next().
  if (admitted === null || admitted.type !== 'file') {
    if (admitted !== null) pack.entry(admitted);
    return;
  }
  // Not pipeline(): a body that fails would destroy pack with the upload's error, and pack's
  // errors are the output's (a full disk), not the client's. pack reports those itself.
  const sink = pack.entry(admitted);
  sink.on('error', () => {});
  for await (const chunk of reader.body()) if (!sink.write(chunk)) await once(sink, 'drain', { signal });
  const flushed = once(sink, 'finish', { signal });
  sink.end(undefined);
  await flushed;
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
