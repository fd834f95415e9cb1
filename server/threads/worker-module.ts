import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` that sits beside the caller (`callerUrl`, its `import.meta.url`):
 * the built `.js` from `dist/`, or the `.ts` source through tsx when the caller runs from sources
 * (tests, `node --import tsx`).
 */
export function startWorkerModule(callerUrl: string, name: string, workerData: unknown): Worker {
  const entry = new URL(`./${name}.${callerUrl.endsWith('.ts') ? 'ts' : 'js'}`, callerUrl);
  if (entry.pathname.endsWith('.js')) return new Worker(entry, { workerData });
  // Node 20 does not apply a parent's `--import tsx` to a worker's own entry module: register it there.
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/**
 * The worker's first message. Rejects with its error, or when it exits without one: with
 * `exitReason()` when that gives one (e.g. the reason of an abort that terminated it).
 */
export function firstMessage<T>(worker: Worker, what: string, exitReason: () => unknown = () => undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(exitReason() ?? new Error(`${what}'s worker exited (${code}) without an answer`)));
  });
}
