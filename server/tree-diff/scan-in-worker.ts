import { Worker } from 'node:worker_threads';
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
  const worker = startWorker(tarPath);
  const onAbort = () => void worker.terminate();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const answer = await new Promise<WorkerAnswer>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(signal?.aborted ? signal.reason : new Error(`the baseline scan's worker exited (${code}) without an answer`)));
    });
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

function startWorker(tarPath: string): Worker {
  const entry = new URL(`./baseline-scan-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
  if (entry.pathname.endsWith('.js')) return new Worker(entry, { workerData: { tarPath } });
  // Node 20 does not apply a parent's `--import tsx` to a worker's own entry module: register it there.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: { tarPath } });
}

/** Structured cloning hands Buffers back as plain Uint8Arrays. */
function revived(scan: BaselineScan): BaselineScan {
  for (const entry of scan.entries.values()) {
    const link = entry.link as Uint8Array | null;
    if (link) (entry as BaselineEntry).link = Buffer.from(link.buffer, link.byteOffset, link.byteLength);
  }
  return scan;
}
