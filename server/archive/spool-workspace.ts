import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { byteCap } from './byte-cap.js';
import { drainEntry } from './drain-entry.js';
import { isGzipHead, peekStream } from './peek-stream.js';
import {
  SANDBOX_OWNER,
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

type EntryBody = tar.ExtractEvents['entry'][1];
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
    uid: opts.uid ?? SANDBOX_OWNER.uid,
    gid: opts.gid ?? SANDBOX_OWNER.gid,
  });
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;

  // The stage that failed first tells a corrupt upload apart from a dropped connection or a full disk.
  let origin: { stage: Stage; error: unknown } | undefined;
  const failed = (stage: Stage) => (error: unknown) => {
    origin ??= { stage, error };
    stop.abort(error);
  };

  const extract = tar.extract();
  const pack = tar.pack();
  let written: Promise<void> | undefined;
  let read: Promise<void> | undefined;
  try {
    input.on('error', failed('input'));
    const { head, rest } = await peekStream(input, 2, signal).catch((error: unknown) => {
      failed('input')(error);
      throw error;
    });
    rest.on('error', failed('input'));

    const compressedCap = byteCap(limits.maxCompressedBytes, () => compressedTooLarge(limits, policy));
    const gunzip = isGzipHead(head) ? createGunzip() : undefined;
    // File sizes alone leave padding and headers free: a few MiB of gzip can inflate to gigabytes.
    const tarCap = byteCap(maxTarBytes(limits), () => tarTooLarge(limits, policy));
    compressedCap.on('error', failed('parse'));
    gunzip?.on('error', failed('parse'));
    tarCap.on('error', failed('parse'));
    extract.on('error', failed('parse'));
    pack.on('error', failed('output'));

    extract.on('entry', (header, body, next) => {
      // When an entry is refused mid-body, destroying the extract errors this body too; the
      // extract already reports that failure, and an unheard error here would crash the process.
      body.on('error', () => {});
      copyEntry(policy, pack, header, body).then(() => next(), next);
    });

    const out = createWriteStream(destPath, { mode: 0o600 });
    out.on('error', failed('output'));
    written = pipeline(pack, out, { signal });
    written.catch(failed('output'));
    read = gunzip
      ? pipeline(rest, compressedCap, gunzip, tarCap, extract, { signal })
      : pipeline(rest, compressedCap, extract, { signal });
    read.catch(failed('parse'));

    await read;
    policy.finish();
    pack.finalize();
    await written;
    return { entries: policy.entries, bytes: policy.bytes };
  } catch (error) {
    failed('parse')(error);
    input.destroy();
    extract.destroy();
    pack.destroy();
    await Promise.allSettled([read, written]);
    await rm(destPath, { force: true });
    throw chooseError(origin ?? { stage: 'parse', error }, opts.signal);
  }
}

async function copyEntry(
  policy: WorkspacePolicy,
  pack: tar.Pack,
  header: EntryHeader,
  body: EntryBody,
): Promise<void> {
  const admitted = policy.admit(header);
  if (admitted !== null) for (const parent of policy.impliedParents(header.mtime)) pack.entry(parent);
  if (admitted === null || admitted.type !== 'file') {
    // A header-only entry does not wait for the file to take it; what pack can queue this way
    // is bounded by maxEntries headers, and file bodies do wait.
    if (admitted !== null) pack.entry(admitted);
    await drainEntry(header, body);
    return;
  }
  await pipeline(body, pack.entry(admitted));
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
