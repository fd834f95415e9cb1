import { createWriteStream } from 'node:fs';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BaselineEntry, BaselineIndex, Omission, Skipped } from './baseline-index.js';
import { scanFinalTree, type FinalScan, type ScanOptions } from './final-tree-scan.js';
import { runGit } from './git-runner.js';
import { PatchTooLargeError, SummaryThenPatch } from './summary-split.js';
import { buildTree, treesForDiff, type TreeEntry } from './tree-writer.js';
import { parseNumstatZ, type DiffSummary } from './numstat.js';
import { quoteHeaders } from './quote-headers.js';
import { classifyPath, displayPath, parentKeys, walkCompare, type PathKey } from './tree-path.js';

export interface DiffOptions {
  /** Where the `git apply`-able patch goes; written as `<patchPath>.partial`, then renamed. */
  patchPath: string;
  /** Cap on the body bytes read from the tar (the workspace cap); reading stops before it. */
  maxBytes: number;
  /** Cap on the patch; a bigger one is not written. */
  maxPatchBytes: number;
  /** Cap on entries read; reading stops past it. */
  maxEntries?: number;
  /** Cap on git's `--numstat` output, one record per changed path. */
  maxSummaryBytes?: number;
  /** What Docker's archive API puts in front of every name. */
  stripPrefix?: string;
  /**
   * Names (as in the tar) the source left out because they pass the cap; settles once the tar
   * has ended. Their baseline state is kept and they are reported as omitted.
   */
  leftOut?: Promise<Buffer[]>;
  signal?: AbortSignal;
}

export interface TreeDiff {
  changes: DiffSummary;
  patch: { written: true; bytes: number } | { written: false; reason: 'too_large' };
  /** Final-tree paths the diff could not cover; their baseline state is kept. */
  omitted: Omission[];
  /** FIFOs and devices (and unknown tar types) in the final tree; absent from the diff. */
  skipped: Skipped[];
  /**
   * Reading stopped at `maxBytes` or `maxEntries` (the entry named in `omitted`): the diff covers
   * what came before. Deletions are shown for paths that sort before the cut when the stream
   * came in walk order, as Docker's does; otherwise only where a read entry replaced a path.
   */
  truncated: boolean;
  bytesRead: number;
}

const DEFAULT_MAX_ENTRIES = 500_000;
const DEFAULT_MAX_SUMMARY_BYTES = 64 * 1024 * 1024;
const COPY_CONCURRENCY = 8;
const DIFF_FLAGS = ['-r', '--no-renames', '--no-ext-diff', '--no-textconv', '--no-color'];

/**
 * Diffs the final tree (a tar stream, consumed or destroyed here) against the baseline: the
 * patch is `git diff --binary` of the two trees, computed on the server by git processes that
 * read only blobs stored here. Cost: one pass over the stream, plus git's work on the changed
 * paths, plus storing the changed blobs from both sides.
 */
export async function diffFinalTree(baseline: BaselineIndex, finalTar: Readable, opts: DiffOptions): Promise<TreeDiff> {
  return diffScanned(baseline, await scanFinalTree(baseline, finalTar, scanOptions(opts)), opts);
}

/** The scan's options for a diff with `opts`. */
export function scanOptions(opts: DiffOptions): ScanOptions {
  return { stripPrefix: opts.stripPrefix ?? 'workspace/', maxBytes: opts.maxBytes, maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES, signal: opts.signal };
}

/** The diff from a scan of the final tree already made (by a `FinalTreeScanner` fed alongside another reader). */
export async function diffScanned(baseline: BaselineIndex, scan: FinalScan, opts: DiffOptions): Promise<TreeDiff> {
  const { signal } = opts;
  if (opts.leftOut) omitLeftOut(scan, await opts.leftOut, opts.stripPrefix ?? 'workspace/');
  const changes = await applyChanges(baseline, scan, signal);
  const final = changes === null ? null : buildTree(changes);
  if (final) await baseline.store.writeObjects(treesForDiff(baseline.trees, final));
  const finalTree = final?.rootId ?? baseline.treeId;
  const { patch, numstat } = await diffTrees(baseline, [baseline.treeId, finalTree], opts);
  return { changes: parseNumstatZ(numstat), patch, omitted: scan.omitted, skipped: scan.skipped, truncated: scan.truncated, bytesRead: scan.bytesRead };
}

function omitLeftOut(scan: FinalScan, names: Buffer[], stripPrefix: string): void {
  const prefix = stripPrefix === '' || stripPrefix.endsWith('/') ? stripPrefix : `${stripPrefix}/`;
  for (const raw of names) {
    const where = classifyPath(raw, prefix, false);
    if (where === null || where.kind === 'root' || where.kind === 'git_dir') continue;
    scan.omittedKeys.add(where.key);
    scan.omitted.push({ path: displayPath(where.key), reason: 'max_bytes' });
  }
}

/**
 * The final tree as baseline entries with the scan's changes applied, or null when nothing
 * changed; stores the blobs git will read for it (both sides of every change, even a change of
 * mode only, and the content of every deleted path).
 */
async function applyChanges(baseline: BaselineIndex, scan: FinalScan, signal?: AbortSignal): Promise<Map<PathKey, TreeEntry> | null> {
  const changed = new Map<PathKey, TreeEntry>();
  const deleted = new Set<PathKey>();
  const needed = new Map<string, BaselineEntry>();
  for (const [key, final] of scan.entries) {
    const base = baseline.entries.get(key);
    if (base && base.mode === final.mode && base.id === final.id) continue;
    changed.set(key, { mode: final.mode, id: final.id });
    if (base) needed.set(base.id, base);
    if (final.sameAs) needed.set(final.sameAs.id, final.sameAs);
    // A file where the baseline had a file at a parent path: that file became a directory.
    for (const parent of parentKeys(key)) if (baseline.entries.has(parent)) deleted.add(parent);
  }
  for (const key of baseline.entries.keys()) {
    if (scan.entries.has(key) || scan.omittedKeys.has(key)) continue;
    if (!scan.truncated || goneBeforeCut(scan, key)) deleted.add(key);
  }
  if (changed.size === 0 && deleted.size === 0) return null;
  for (const key of deleted) {
    const base = baseline.entries.get(key)!;
    needed.set(base.id, base);
  }
  // A few at a time: per blob the cost is mostly file-system round trips, not bytes.
  const queue = [...needed.values()];
  const copyNext = async (): Promise<void> => {
    for (let base = queue.pop(); base; base = queue.pop()) {
      signal?.throwIfAborted();
      if (base.offset !== null) await baseline.store.copyRange(baseline.tarPath!, base.offset, base.size, base.id, signal);
      else await baseline.store.writeObject('blob', base.link!);
    }
  };
  await settleAll(Array.from({ length: COPY_CONCURRENCY }, copyNext));
  const tree = new Map<PathKey, TreeEntry>();
  for (const [key, base] of baseline.entries) if (!deleted.has(key) && !changed.has(key)) tree.set(key, base);
  for (const [key, entry] of changed) tree.set(key, entry);
  return tree;
}

/** After a cut, what the part read shows is gone: what sorts before the cut, or what a directory or file replaced. */
function goneBeforeCut(scan: FinalScan, key: PathKey): boolean {
  if (scan.cutAt !== null && walkCompare(key, scan.cutAt) < 0) return true;
  return scan.dirs.has(key) || parentKeys(key).some((parent) => scan.entries.has(parent));
}

/**
 * The patch, written to `opts.patchPath` (or too large to keep), and git's `--numstat -z` summary,
 * from one git process: the summary comes first in its output, whole even when the patch is not kept.
 */
async function diffTrees(baseline: BaselineIndex, range: string[], opts: DiffOptions): Promise<{ patch: TreeDiff['patch']; numstat: Buffer }> {
  const partial = `${opts.patchPath}.partial`;
  const maxSummaryBytes = opts.maxSummaryBytes ?? DEFAULT_MAX_SUMMARY_BYTES;
  const splitter = new SummaryThenPatch(maxSummaryBytes, opts.maxPatchBytes);
  let written: Promise<void> | undefined;
  try {
    if (range[0] === range[1]) {
      await writeFile(partial, '', { mode: 0o600 });
      splitter.summary = Buffer.alloc(0);
    } else {
      written = pipeline(splitter, quoteHeaders(), createWriteStream(partial, { mode: 0o600 }));
      written.catch(() => {});
      await runGit(baseline.store.git, {
        args: ['diff-tree', ...DIFF_FLAGS, '--numstat', '-z', '-p', '--binary', '--full-index', '--src-prefix=a/', '--dst-prefix=b/', ...range],
        stdout: splitter,
        // The splitter holds each part to its own cap.
        maxStdoutBytes: maxSummaryBytes + opts.maxPatchBytes + 2,
        signal: opts.signal,
      });
      await written;
    }
    const { size } = await stat(partial);
    await rename(partial, opts.patchPath);
    return { patch: { written: true, bytes: size }, numstat: splitter.summary! };
  } catch (error) {
    if (error instanceof PatchTooLargeError && splitter.summary !== null) return { patch: { written: false, reason: 'too_large' }, numstat: splitter.summary };
    throw error;
  } finally {
    // On abort runGit leaves the sink open; the file stream must still be closed before the rm.
    splitter.destroy();
    await written?.catch(() => {});
    await rm(partial, { force: true });
  }
}

/** Promise.all that waits for every promise to settle before throwing the first failure. */
async function settleAll<T extends readonly unknown[]>(work: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
