// A worker thread's entry (scan-in-worker.ts starts it): scans one stored upload tar and posts the
// scan back, or the error's name, code and message.
import { parentPort, workerData } from 'node:worker_threads';
import { scanBaseline } from './baseline-scan.js';
import { TreeDiffError } from './tree-diff-error.js';

const { tarPath } = workerData as { tarPath: string };
try {
  parentPort!.postMessage({ scan: await scanBaseline(tarPath) });
} catch (error) {
  const err = error as Error;
  parentPort!.postMessage({ error: { message: err.message, treeDiffCode: error instanceof TreeDiffError ? error.code : null } });
}
