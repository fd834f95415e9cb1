import { firstMessage, startWorkerModule } from '../threads/worker-module.js';
import { withChecked, withOutput, type OutputCheck, type OutputSchema } from './output-schema.js';

/**
 * A schema and a final message are both the tenant's: compiling a wide schema takes Ajv hundreds
 * of milliseconds, and that must not hold the server's one thread. Each check runs on a worker
 * thread of its own, a few at a time (a worker is ~10 MB), under a deadline.
 */
const MAX_WORKERS = 2;
const CHECK_TIMEOUT_MS = 10_000;

export type OutputCheckTask = { kind: 'schema'; schema: unknown; maxBytes: number } | { kind: 'output'; finalMessage: string | null; schema: OutputSchema };
type Answer = { problem: string | null } | { checked: OutputCheck };

let running = 0;
const waiting: (() => void)[] = [];

async function inWorker(task: OutputCheckTask): Promise<Answer | 'timed_out'> {
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  const worker = startWorkerModule(import.meta.url, 'output-check-worker', task);
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = firstMessage<Answer>(worker, 'the output check');
    // After a timeout, terminating the worker rejects the answer nobody waits for any more.
    answer.catch(() => {});
    const timedOut = new Promise<'timed_out'>((resolve) => (timer = setTimeout(() => resolve('timed_out'), CHECK_TIMEOUT_MS)));
    return await Promise.race([answer, timedOut]);
  } finally {
    clearTimeout(timer);
    await worker.terminate();
    running--;
    waiting.shift()?.();
  }
}

/** Why `schema` cannot be a run's output schema (outputSchemaProblem), or null; off the event loop. */
export async function outputSchemaProblemOffThread(schema: unknown, maxBytes: number): Promise<string | null> {
  const answer = await inWorker({ kind: 'schema', schema, maxBytes });
  if (answer === 'timed_out') return `it took longer than ${CHECK_TIMEOUT_MS / 1000} s to compile`;
  return (answer as { problem: string | null }).problem;
}

/** withOutput, with the final message checked off the event loop. */
export async function withOutputOffThread<R extends Parameters<typeof withOutput>[0]>(result: R, schema: OutputSchema | null): Promise<R & { output: unknown }> {
  if (!schema || result.status !== 'succeeded') return withOutput(result, null);
  const answer = await inWorker({ kind: 'output', finalMessage: result.finalMessage, schema });
  const checked: OutputCheck =
    answer === 'timed_out'
      ? { output: null, error: { code: 'output_invalid', message: `checking the final message against output_schema took longer than ${CHECK_TIMEOUT_MS / 1000} s` } }
      : (answer as { checked: OutputCheck }).checked;
  return withChecked(result, checked);
}
