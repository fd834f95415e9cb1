import { firstMessage, startWorkerModule } from '../threads/worker-module.js';
import type { BaselineEntry } from './baseline-index.js';
import type { BaselineScan } from './baseline-scan.js';
import { TreeDiffError, type TreeDiffErrorCode } from './tree-diff-error.js';

type WorkerAnswer = { scan: BaselineScan } | { error: { message: string; treeDiffCode: TreeDiffErrorCode | null } };

/**
 * `scanBaseline` on a worker thread of its own, ended when the scan is back or the signal aborts.
 * Run from sources (tests, `node --import tsx`), the worker loads its TypeScript through tsx too.
 */
export async function scanInWorker(tarPath: string, signal?: AbortSignal): Promise<BaselineScan> {
  signal?.throwIfAborted();
  const worker = startWorkerModule(import.meta.url, 'baseline-scan-worker', { tarPath });
  const onAbort = () => void worker.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const answer = await firstMessage<WorkerAnswer>(worker, 'the baseline scan', () => (signal?.aborted ? signal.reason : undefined));
    if ('error' in answer) {
      const { message, treeDiffCode } = answer.error;
      throw treeDiffCode ? new TreeDiffError(treeDiffCode, message) : new Error(message);
    }
    return revived(answer.scan);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}

/** Structured cloning hands Buffers back as plain Uint8Arrays. */
function revived(scan: BaselineScan): BaselineScan {
  for (const entry of scan.entries.values()) {
    const link = entry.link as Uint8Array | null;
    if (link) (entry as BaselineEntry).link = Buffer.from(link.buffer, link.byteOffset, link.byteLength);
  }
  return scan;
}
